/**
 * The measured choices of the GPU code, in one place: which kernel runs a shape and what the
 * cost model charges for each kernel. The defaults were measured on lavapipe (BENCHMARKS.md);
 * a GPU with another balance of loads, arithmetic and dispatch cost wants other values, which
 * `tune` (src/gpu/tune.ts) measures. The kernels' geometry (workgroup sizes, tiles) is in their
 * descriptors; a tuning may pick another of the variants the kernel tests cover.
 *
 * The tuning in force is the GPU context's (`GpuContext.tuning`): every choice point reads it there.
 */
import type { Geometry } from './dispatch';
import { KernelError } from './program';

export interface Tuning {
  /**
   * Most rows of C for which the few-rows matmul v4 beats the full-tile kernel (v3, or v2 without
   * subgroups) that would run instead.
   */
  fewRowsMaxM: Readonly<Record<2 | 3, number>>;
  /** The full-tile matmul where the device has subgroups: 3 (subgroup shuffles) or 2 (tiled). Without subgroups it is 2. */
  fullTileMatmul: 2 | 3;
  /** Below this batch sparse inference runs sparse_v1, whose lanes run over outputs instead of samples. */
  sparseV1Below: number;
  /** The CSR kernel from `sparseV1Below` samples up where the device has subgroups: 3 or 2. Without subgroups it is 2. */
  sparseWide: 2 | 3;
  /** A sparse first layer reads the input sample-major up to this many features; wider inputs are transposed first. */
  sampleMajorMaxFeatures: number;
  /**
   * The GPU trainer runs a layer whose kept density (kept weights / in·out) is below this through
   * the sparse training kernels (src/gpu/sparse-training-kernels.ts), else through the matmuls.
   */
  sparseTrainingBelow: number;
  /**
   * Whether a sparse layer of a trainer made with final masks runs its forward pass as a program
   * of its own (sparse_unrolled's training form, src/gpu/sparse-unrolled.ts) where it fits,
   * rather than through sparse_train_forward.
   */
  unrolledTrainingForward: boolean;
  /**
   * What one unit of work costs, by kernel name, in multiply-adds of the full-tile matmul
   * (matmul_v3 in the defaults; only the ratios matter): a
   * multiply-add for the matmuls (padding included: see `CostedDescriptor.costBlock`), one
   * nonzero for one sample for the CSR kernels.
   */
  costs: Readonly<Record<string, number>>;
  /**
   * The geometry of a kernel, by kernel name, where it is not the descriptor's own: always one of
   * the variants the kernel tests cover (`matmulVariants`, `SPARSE_VARIANTS`), see `tunedVariant`.
   */
  geometry: Readonly<Record<string, Geometry>>;
}

export const DEFAULT_TUNING: Tuning = {
  // BENCHMARKS.md, "Small batches", round-robin over K×N = 4096², 1024², 784×100, 100×100,
  // 100×10: v4 ahead of v3 up to M = 24 (2× at M = 16, 10–20× at M = 1), level at 32, behind
  // from 48; ahead of the tiled v2 up to M = 64 (1.4–3.5×), behind on 1024² from M = 96.
  fewRowsMaxM: { 3: 24, 2: 64 },
  // BENCHMARKS.md, "Matmul kernels": v3 15–19 GFLOP/s on full tiles, v2 8.5.
  fullTileMatmul: 3,
  // BENCHMARKS.md, "Kernel versions": below 64 samples the lanes-over-samples kernels idle.
  sparseV1Below: 64,
  // "Kernel versions": v3 ahead of v2 by sharing the nonzeros through subgroups.
  sparseWide: 3,
  // BENCHMARKS.md, "per-layer kernel choice": a 64-sample block of a ≤ 784-feature input (≤ 200 KB)
  // stays in the cache and its gathers ran as fast as feature-major ones (449 and 784 inputs),
  // while the transpose cost half as much again as the layer; at 1024 and 4096 inputs
  // sample-major gathers were 2× slower.
  sampleMajorMaxFeatures: 784,
  // BENCHMARKS.md, "Sparse training kernels": on 447-90-93-10 at batch 800, every sample
  // backpropagated, the sparse kernels took 0.37–0.58× the matmuls' time at 5% kept, 0.73–0.93×
  // at 15%, 0.97–1.23× at 20%, 1.5–2.2× at 30%.
  sparseTrainingBelow: 0.2,
  // 2.8× sparse_train_forward's speed on the seed network's first layer (BENCHMARKS.md, "The pruned layer's own program in training").
  unrolledTrainingForward: true,
  costs: {
    // The quiet runs of BENCHMARKS.md: v3 15–19 GFLOP/s on full tiles, v2 8.5 on 1024³; v4
    // 3.4–3.5 G multiply-adds/s on 4096² at M = 16–24 against 14 for v3 (its tiles padded to
    // 128 rows) in the same run.
    matmul_v2: 2.2,
    matmul_v3: 1,
    matmul_v4: 4,
    // "per-layer kernel choice": sparse_v3 0.9 G nonzero·samples/s on the trained network's
    // layers and on 4096² at 95%, matmul_v3 5–9 G multiply-adds/s in the same runs. v1 and v2
    // were not measured apart; v2 ran level with v3 at batch 10 000.
    sparse_v1: 6,
    sparse_v2: 6,
    sparse_v3: 6,
  },
  geometry: {},
};

/** A geometry as text, e.g. `V4_WG 64 V4_ROWS 4`. */
export function describeGeometry(geometry: Geometry): string {
  return Object.entries(geometry).map(([key, value]) => `${key} ${value}`).join(' ');
}

function sameGeometry(a: Geometry, b: Geometry): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((key) => a[key] === b[key]);
}

/**
 * The variant of a kernel that `tuning` picks: the first (the descriptor's own geometry) unless
 * the tuning names another. A geometry outside `variants` is refused: only what the kernel
 * tests cover may run.
 */
export function tunedVariant<D extends { readonly name: string; readonly geometry: Geometry }>(tuning: Tuning, variants: readonly D[]): D {
  const wanted = tuning.geometry[variants[0]!.name];
  if (!wanted) return variants[0]!;
  const found = variants.find((v) => sameGeometry(v.geometry, wanted));
  if (!found) throw new KernelError(`the tuning gives ${variants[0]!.name} the geometry ${describeGeometry(wanted)}, which is not one the kernel tests cover`);
  return found;
}
