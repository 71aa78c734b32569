/**
 * The update kernels of the rules other than the seed's (shaders/optimizers.wgsl) as descriptors
 * (src/gpu/dispatch.ts), and the uniform each batch's dispatch reads. Reference: optimizerStep in
 * src/cpu/optimizers.ts.
 */
import optimizersSource from '../../shaders/optimizers.wgsl';
import type { OptimizerKind, OptimizerSettings } from '../train/optimizer';
import { ceilDiv } from '../util/math';
import type { GpuContext } from './device';
import { compileKernel, type Kernel, type KernelDescriptor } from './dispatch';
import { KernelError } from './program';

export type UpdateRule = Exclude<OptimizerKind, 'seed'>;

const F32 = 4;

/** The shader's `Hyper`: 9 f32. */
export const HYPER_FLOATS = 9;

/** Weight-shaped state buffers each rule binds after w, grad_sum, mask and the uniform. */
export const STATE_BUFFERS: Readonly<Record<UpdateRule, number>> = { sgd: 0, momentum: 1, adam: 2, adamw: 2 };

/**
 * What an update kernel runs over: a layer's `count` weights, or with `biases` its `count` biases,
 * which have no mask (binding 2 is not read: any 4 bytes) and no weight decay.
 */
export interface ParameterShape {
  count: number;
  biases?: boolean;
}

/** The shape's override constants and the mask binding's bytes, for every update kernel. */
export function parameterConstants({ count, biases = false }: ParameterShape): Record<string, number> {
  return { COUNT: count, BIASES: Number(biases) };
}

export function maskBytes({ count, biases = false }: ParameterShape): number {
  return biases ? F32 : count * F32;
}

export function describeParameters({ count, biases = false }: ParameterShape): string {
  return biases ? `${count} biases` : String(count);
}

function updateDescriptor(rule: UpdateRule): KernelDescriptor<ParameterShape, { WG: number }> {
  const name = `update_${rule}`;
  return {
    name,
    source: optimizersSource,
    entryPoint: name,
    geometry: { WG: 64 },
    describe: describeParameters,
    shapeConstants: parameterConstants,
    workgroups: ({ count }, g) => [ceilDiv(count, g.WG), 1, 1],
    bindingBytes: (shape) => [shape.count * F32, shape.count * F32, maskBytes(shape), HYPER_FLOATS * F32, ...Array<number>(STATE_BUFFERS[rule]).fill(shape.count * F32)],
  };
}

export const UPDATE_RULES: Readonly<Record<UpdateRule, KernelDescriptor<ParameterShape, { WG: number }>>> = {
  sgd: updateDescriptor('sgd'),
  momentum: updateDescriptor('momentum'),
  adam: updateDescriptor('adam'),
  adamw: updateDescriptor('adamw'),
};

/** The update kernel of `rule` for a layer of `count` weights, or with `biases` its `count` biases. */
export function optimizerUpdateKernel(ctx: GpuContext, rule: UpdateRule, count: number, biases = false): Promise<Kernel> {
  if (!Number.isInteger(count) || count < 1) throw new KernelError(`update_${rule}[${count}]: the ${biases ? 'bias' : 'weight'} count must be a positive integer`);
  return compileKernel(ctx, UPDATE_RULES[rule], { count, biases });
}

/**
 * The uniform of update number `step` (1-based) of a batch of `batch` samples, written into `into`
 * at float offset `at`: Adam's bias corrections are folded into step_size and c2_sqrt here, in
 * float64, once per batch.
 */
export function writeHyper(into: Float32Array, at: number, settings: OptimizerSettings, lr: number, momentum: number, batch: number, step: number): void {
  const { weightDecay, beta1, beta2, eps } = settings;
  const stepSize = lr / (1 - Math.pow(beta1, step));
  const c2Sqrt = Math.sqrt(1 - Math.pow(beta2, step));
  into.set([lr, momentum, weightDecay, batch, beta1, beta2, eps, stepSize, c2Sqrt], at);
}
