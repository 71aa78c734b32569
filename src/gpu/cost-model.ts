/**
 * The hybrid engine's choice between a CSR kernel and the dense matmul for one layer at one batch
 * size, priced on the geometry of the kernels that would run: each pays for the blocks of its
 * output it computes (`CostedDescriptor.costBlock`, padding included), at its cost per unit of
 * work (`Tuning.costs`).
 */
import { ceilDiv } from '../util/math';
import type { CostedDescriptor } from './dispatch';
import type { MatmulDescriptor } from './kernels';
import { KernelError } from './program';
import type { SparseDescriptor } from './sparse-kernels';
import { DEFAULT_TUNING, type Tuning } from './tuning';

/**
 * The kernel that runs one layer: CSR (shaders/sparse_v*.wgsl), the dense training matmul, or
 * the layer written into its own program (shaders/sparse_unrolled.wgsl).
 */
export type LayerKernel = 'sparse' | 'dense' | 'unrolled';

export interface LayerShape {
  inSize: number;
  outSize: number;
  nonzeros: number;
}

/** The kernels a layer would run on at one batch size. */
export interface LayerCandidates {
  dense: MatmulDescriptor;
  sparse: SparseDescriptor;
  /** sparse_unrolled for this layer, where it may run (see `unrollable` in src/gpu/sparse-unrolled.ts). */
  unrolled?: SparseDescriptor;
}

const roundUp = (n: number, multiple: number): number => ceilDiv(n, multiple) * multiple;

/** What `kernel` spends on an output of rows × columns with `depth` units of work each. */
function kernelCost<Shape>(costs: Tuning['costs'], kernel: CostedDescriptor<Shape>, rows: number, columns: number, depth: number): number {
  const unit = costs[kernel.name];
  if (unit === undefined) throw new KernelError(`the cost model has no cost for ${kernel.name}`);
  const [blockRows, blockColumns] = kernel.costBlock(kernel.geometry);
  return unit * depth * roundUp(rows, blockRows) * roundUp(columns, blockColumns);
}

/**
 * The cheaper kernel for one layer at one batch size. Dense pays every weight of the blocks of
 * C it computes (v3 a whole 128-sample tile, v4 4 rows); sparse pays each kept weight for every
 * sample of the blocks it computes (one for v1, 4·WG for v2/v3). On the trained MNIST network
 * this runs the 12%-dense first layer sparse and the 35% / 64%-dense small layers dense at large
 * batches; see BENCHMARKS.md. sparse_unrolled, where the layer has it, pays each kept weight
 * for every sample of its WG-sample blocks, at its own (lower) cost. `costs`: the tuning's
 * (`GpuContext.tuning`).
 */
export function chooseLayerKernel(layer: LayerShape, batch: number, kernels: LayerCandidates, costs: Tuning['costs'] = DEFAULT_TUNING.costs): LayerKernel {
  const dense = kernelCost(costs, kernels.dense, batch, layer.outSize, layer.inSize);
  // A CSR row costs its nonzeros per sample; over all outputs, the layer's nonzeros.
  const sparse = kernelCost(costs, kernels.sparse, batch, 1, layer.nonzeros);
  // sparse_unrolled is priced only where the costs have it (the hybrid engine adds it: `HybridInferenceOptions.unrolled`).
  const unrolled = kernels.unrolled && costs[kernels.unrolled.name] !== undefined ? kernelCost(costs, kernels.unrolled, batch, 1, layer.nonzeros) : Infinity;
  if (unrolled < Math.min(sparse, dense)) return 'unrolled';
  return sparse < dense ? 'sparse' : 'dense';
}
