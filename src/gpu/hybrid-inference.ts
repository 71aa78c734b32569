/**
 * Hybrid inference: each layer on whichever of CSR and the dense matmul the cost model
 * (src/gpu/cost-model.ts) finds cheaper for its density, shape and the batch, priced on the
 * kernels that would run it. Sparse layers write feature-major activations, which a dense layer
 * after them reads as Aᵀ; the CSR kernels read either layout. JS reference: `sparseInfer` /
 * `denseInfer` in src/cpu/sparse-forward.ts (the same logits).
 */
import { csrLayers } from '../cpu/sparse-forward';
import type { Network } from '../model/network';
import { asCompact, type CompactNetwork } from '../prune/structured';
import { chooseLayerKernel, type LayerKernel } from './cost-model';
import type { GpuContext } from './device';
import { createLayeredInference, type GpuInference } from './inference';
import { matmulChoiceName, matmulDescriptorOf, matmulVersionFor } from './kernels';
import { KernelError } from './program';
import { sparseChoiceName, sparseKernelChooser } from './sparse-kernels';
import { unrollable, unrolledKernelFor, withUnrolledCost } from './sparse-unrolled';
import type { SparseInferenceOptions } from './sparse-inference';

export interface HybridInferenceOptions extends SparseInferenceOptions {
  /** The kernel of each layer at every batch, instead of `chooseLayerKernel` (tests use it to cover every mix). */
  layerKernels?: readonly LayerKernel[];
  /**
   * Whether to price sparse_unrolled for the layers it can take (at `UNROLLED_COST` unless the
   * tuning has a cost for it; default true): the fastest kernel at large batches, but each layer
   * is a program of its own, compiled on its first run (seconds on a CPU adapter). false keeps
   * to the kernels compiled once per shape.
   */
  unrolled?: boolean;
}

/**
 * Uploads `model` to run each layer on whichever kernel `chooseLayerKernel` finds cheaper for its
 * density, shape and the batch: sparse CSR for the very sparse layers, the dense matmul for the
 * small, denser ones that structured pruning leaves, and a layer of at most
 * `UNROLLED_MAX_NONZEROS` weights written into its own program where that is cheaper still
 * (unless `unrolled` is false).
 */
export function createHybridInference(ctx: GpuContext, model: Network | CompactNetwork, options: HybridInferenceOptions): Promise<GpuInference> {
  const { net } = asCompact(model);
  const csr = csrLayers(net);
  const layers = csr.map((layer) => ({ inSize: layer.inSize, outSize: layer.outSize, nonzeros: layer.indices.length }));
  // Small layers may run written into their own program (sparse_unrolled), priced like the others.
  const withUnrolled = options.unrolled ?? true;
  const unrolled = csr.map((layer) => (withUnrolled && unrollable(layer) ? unrolledKernelFor(ctx, layer) : undefined));
  const costs = withUnrolled ? withUnrolledCost(ctx.tuning.costs) : ctx.tuning.costs;
  if (options.layerKernels && options.layerKernels.length !== layers.length) {
    throw new KernelError(`hybrid inference: ${options.layerKernels.length} layer kernels given for ${layers.length} layers`);
  }
  const sparseVersion = options.version ?? 'auto';
  const sparseKernel = sparseKernelChooser(ctx, sparseVersion);
  // Dense layers pick their matmul by shape, as the dense engine does (few rows at small batches).
  const choose = (count: number): LayerKernel[] =>
    layers.map((layer, l) => {
      const dense = matmulDescriptorOf(ctx, matmulVersionFor(ctx, { m: count, k: layer.inSize, n: layer.outSize }));
      return chooseLayerKernel(layer, count, { dense, sparse: sparseKernel(count), unrolled: unrolled[l] }, costs);
    });
  const forced = options.layerKernels;
  return createLayeredInference(ctx, model, {
    ...options,
    name: `hybrid(${sparseChoiceName(ctx, sparseVersion)}|${matmulChoiceName(ctx, 'auto')}${withUnrolled ? '|sparse_unrolled' : ''})`,
    plan: forced ? () => forced : choose,
    sparseKernel,
    matmulVersion: 'auto',
  });
}
