/**
 * The bias-gradient kernel (shaders/bias_grad.wgsl) as a descriptor (src/gpu/dispatch.ts): per
 * column of a layer's packed output gradient, the sum over the batch's backpropagated rows, added
 * to the seed's bias velocities or to the gradient sums of another rule's update.
 */
import biasGradSource from '../../shaders/bias_grad.wgsl';
import { ceilDiv } from '../util/math';
import type { GpuContext } from './device';
import { compileKernel, type Kernel, type KernelDescriptor } from './dispatch';
import { integersFrom } from './kernels';

const F32 = 4;

interface BiasGradShape {
  batch: number;
  /** The layer's outputs: columns of dY and biases. */
  width: number;
}

/** sum[o] += Σ over the first `count` rows of dY[r, o]; COLS columns × LANES row lanes per workgroup. */
export const BIAS_GRAD: KernelDescriptor<BiasGradShape, { COLS: number; LANES: number }> = {
  name: 'bias_grad',
  source: biasGradSource,
  entryPoint: 'bias_grad',
  geometry: { COLS: 32, LANES: 8 },
  describe: ({ batch, width }) => `${batch}x${width}`,
  shapeConstants: ({ batch, width }) => ({ BATCH: batch, N: width }),
  workgroups: ({ width }, g) => [ceilDiv(width, g.COLS), 1, 1],
  bindingBytes: ({ batch, width }) => [batch * width * F32, 4, width * F32],
};

export function biasGradKernel(ctx: GpuContext, batch: number, width: number): Promise<Kernel> {
  integersFrom(1, `bias_grad[${batch}x${width}]`, { batch, width });
  return compileKernel(ctx, BIAS_GRAD, { batch, width });
}
