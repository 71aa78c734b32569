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

/**
 * An update kernel over one layer's parameters, one invocation each: bindings w, its gradient sum
 * or velocity, the mask (unread for biases: any 4 bytes), a uniform of `uniformBytes`, then
 * `states` state buffers shaped like w. The update of every rule, the seed's (shaders/update.wgsl) too.
 */
export function parameterUpdateDescriptor(name: string, source: string, uniformBytes: number, states: number): KernelDescriptor<ParameterShape, { WG: number }> {
  return {
    name,
    source,
    entryPoint: name,
    geometry: { WG: 64 },
    describe: ({ count, biases }) => (biases ? `${count} biases` : String(count)),
    shapeConstants: ({ count, biases = false }) => ({ COUNT: count, BIASES: Number(biases) }),
    workgroups: ({ count }, g) => [ceilDiv(count, g.WG), 1, 1],
    bindingBytes: ({ count, biases }) => [count * F32, count * F32, biases ? F32 : count * F32, uniformBytes, ...Array<number>(states).fill(count * F32)],
  };
}

function updateDescriptor(rule: UpdateRule): KernelDescriptor<ParameterShape, { WG: number }> {
  return parameterUpdateDescriptor(`update_${rule}`, optimizersSource, HYPER_FLOATS * F32, STATE_BUFFERS[rule]);
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
