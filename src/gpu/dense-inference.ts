/**
 * Dense inference: every layer the training matmul (src/gpu/kernels.ts, ReLU epilogue on hidden
 * layers) with its pruned weights as zeros, sample-major throughout. JS reference: `denseInfer`
 * in src/cpu/sparse-forward.ts.
 */
import type { Network } from '../model/network';
import { asCompact, type CompactNetwork } from '../prune/structured';
import type { LayerKernel } from './cost-model';
import type { GpuContext } from './device';
import { createLayeredInference, type GpuInference, type InferenceOptions } from './inference';
import { matmulChoiceName, type MatmulChoice } from './kernels';

export interface DenseInferenceOptions extends InferenceOptions {
  /** Matmul version, or `auto` (default): by shape, small batches run the few-rows kernel (`matmulVersionFor`). */
  version?: MatmulChoice;
}

/** Uploads `model` with dense weights (pruned weights are zeros) for the training matmul. */
export function createDenseInference(ctx: GpuContext, model: Network | CompactNetwork, options: DenseInferenceOptions): Promise<GpuInference> {
  const matmulVersion = options.version ?? 'auto';
  const plan = Array<LayerKernel>(asCompact(model).net.weights.length).fill('dense');
  return createLayeredInference(ctx, model, {
    ...options,
    name: `dense ${matmulChoiceName(ctx, matmulVersion)}`,
    plan: () => plan,
    matmulVersion,
  });
}
