/**
 * Sparse inference: every layer a CSR matrix by output neuron (shaders/sparse_v*.wgsl, ReLU fused
 * on the hidden layers). The input arrives sample-major `[batch, features]`; past
 * `Tuning.sampleMajorMaxFeatures` it is transposed to feature-major on the GPU
 * (shaders/sparse_transpose.wgsl) so the kernels' gathers run along samples; hidden activations
 * are feature-major, and the last layer writes sample-major logits. JS reference: `sparseInfer`
 * in src/cpu/sparse-forward.ts.
 */
import type { Network } from '../model/network';
import { asCompact, type CompactNetwork } from '../prune/structured';
import type { LayerKernel } from './cost-model';
import type { GpuContext } from './device';
import { createLayeredInference, type GpuInference, type InferenceOptions } from './inference';
import { sparseChoiceName, sparseKernelChooser, type SparseVersion } from './sparse-kernels';

export interface SparseInferenceOptions extends InferenceOptions {
  /** Kernel version, or `auto` (default): see `sparseKernelChooser`. */
  version?: SparseVersion | 'auto';
}

/** Uploads `model` (a network, or a compact network from `compactNetwork`) with every layer as CSR. */
export function createSparseInference(ctx: GpuContext, model: Network | CompactNetwork, options: SparseInferenceOptions): Promise<GpuInference> {
  const version = options.version ?? 'auto';
  const plan = Array<LayerKernel>(asCompact(model).net.weights.length).fill('sparse');
  return createLayeredInference(ctx, model, {
    ...options,
    name: sparseChoiceName(ctx, version),
    plan: () => plan,
    sparseKernel: sparseKernelChooser(ctx, version),
    matmulVersion: 'auto',
  });
}
