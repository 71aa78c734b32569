/**
 * `tune`: measures, on the adapter it runs on, the kernels that the tuning chooses between, on
 * the shapes that training and inference run, and returns a Tuning of the winners with the
 * table of what was measured.
 *
 *   training: X·W, dY·Wᵀ and Xᵀ·dY of every layer at the training batch
 *   inference: every layer at the few-rows batches and the inference batches, dense (the
 *              matmul) and sparse (CSR at `density`, from a magnitude-pruned random network, and
 *              that layer written into its own program where sparse_unrolled can take it)
 *
 * Candidates are the covered variants only (`matmulVariants`, `SPARSE_VARIANTS`): what the kernel
 * tests check against the JS reference, less those the adapter cannot run (`sparseVariantsOn`). Every case is timed alone with the benchmarks' timing
 * (src/bench/timing.ts: round-robin rounds, the median per case). A choice is scored by its time
 * relative to the fastest candidate at each shape, averaged over the shapes, so a small shape
 * counts as much as a large one; the default is kept unless another candidate beats it by more
 * than `KEEP_DEFAULT_WITHIN`, so noise does not move a choice.
 */
import { dispatchCase, kernelTimingMethod, matmulInputBuffers, median, runRounds, type KernelTimingMethod, type TimedCase } from '../bench/timing';
import { csrLayers, type CsrLayer } from '../cpu/sparse-forward';
import { initNetwork } from '../model/network';
import { pruneToSparsity } from '../prune/unstructured';
import { ceilDiv } from '../util/math';
import { createBuffer, uploadBuffer, uniformBuffer } from './buffers';
import { chooseLayerKernel, type LayerShape } from './cost-model';
import type { GpuContext } from './device';
import { bindKernel, compileKernel, type Geometry, type KernelDescriptor } from './dispatch';
import { MATMUL_V2, matmulVariants, subgroupSize, type MatmulDescriptor, type MatmulSpec } from './kernels';
import {
  sparseParams,
  SPARSE_TRANSPOSE,
  SPARSE_V1,
  sparseVariantsOn,
  transposeParams,
  type Layout,
  type SparseDescriptor,
  type SparseShape,
  type TransposeShape,
} from './sparse-kernels';
import { SPARSE_UNROLLED, unrollable, unrollableForTraining, unrolledSparseKernel, unrolledTrainingForward, withUnrolledCost } from './sparse-unrolled';
import { DEFAULT_TUNING, describeGeometry, type Tuning } from './tuning';
import { SPARSE_TRAIN_FORWARD, SPARSE_TRAIN_INPUT_GRAD, SPARSE_TRAINING_VARIANTS, sparseTrainingIndex, type SparseTrainingIndex, type SparseTrainingShape } from './sparse-training-kernels';
import { forwardSpec, inputGradientSpec, weightGradientSpec } from './trainer';

export interface TuneSettings {
  /** Layer sizes, input first: the recipe's network. */
  sizes: readonly number[];
  /** Samples per training step: the training matmuls run at it. */
  trainBatch: number;
  /** Inference batches at which the few-rows matmul (v4) meets the full-tile one; ascending. */
  fewRows: readonly number[];
  /** Inference batches at which sparse_v1 meets the lanes-over-samples kernels; ascending. */
  sparseBatches: readonly number[];
  /** Inference batches at which each layer runs dense and sparse, for the cost model. */
  inferBatches: readonly number[];
  /** Fraction of each layer's weights the CSR cases keep. */
  density: number;
  /** Kept densities at which each layer's training step runs dense and sparse (`sparseTrainingBelow`); ascending. */
  trainingDensities: readonly number[];
  repeats: number;
  /** Milliseconds of GPU work one timing aims at. */
  kernelTimingMs: number;
}

/** The settings for a recipe: `quick` measures fewer batches with fewer rounds (seconds on a software adapter). */
export function tuneSettings(quick: boolean, recipe: { sizes: readonly number[]; batchSize: number }): TuneSettings {
  return {
    sizes: recipe.sizes,
    trainBatch: recipe.batchSize,
    fewRows: quick ? [1, 16, 32, 64, 128] : [1, 4, 8, 16, 24, 32, 48, 64, 96, 128],
    sparseBatches: quick ? [1, 16, 64, 256] : [1, 4, 16, 32, 64, 128, 256],
    inferBatches: quick ? [1, 100, 1000] : [1, 100, 10000],
    // About the density of the seed network's first layer after pruning (12%).
    density: 0.1,
    // The seed's pruned layers keep 5–40% of their weights; the 2% recipes far less.
    trainingDensities: quick ? [0.05, 0.15, 0.3, 0.5] : [0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5],
    repeats: quick ? 3 : 5,
    kernelTimingMs: quick ? 4 : 10,
  };
}

/** One choice and what decided it. */
export interface TuneDecision {
  /** What is chosen, e.g. `matmul_v3 geometry`, `fewRowsMaxM[3]`, `costs.sparse_v3`. */
  choice: string;
  /** The shapes it was measured on. */
  measured: string;
  /**
   * Each candidate's time relative to the fastest candidate at each shape, averaged over the
   * shapes (1: the fastest everywhere). Empty for a measured constant (a cost).
   */
  candidates: { label: string; relativeTime: number }[];
  tuned: string;
  default: string;
  /** How much longer the default takes than the tuned choice on what was measured (null for a measured constant). */
  defaultOverTuned: number | null;
}

export interface TuneResult {
  tuning: Tuning;
  decisions: TuneDecision[];
  /** The median milliseconds of every case, by kernel variant and shape. */
  cases: { kernel: string; shape: string; ms: number }[];
  kernelTiming: KernelTimingMethod;
  repeats: number;
  seconds: number;
}

/**
 * A challenger must beat the default by more than this (relative time) to replace it: in two
 * full runs on lavapipe, choices 4% apart swapped places.
 */
const KEEP_DEFAULT_WITHIN = 0.05;

/** At most how long the first runs of a phase go without a progress line. */
const PROGRESS_EVERY_MS = 5000;

type Variant = MatmulDescriptor | SparseDescriptor;
type SparseTrainingDescriptor = KernelDescriptor<SparseTrainingShape>;
type UnrolledTrainingDescriptor = KernelDescriptor<SparseShape>;

const variantLabel = (v: { name: string; geometry: Geometry }): string => `${v.name} (${describeGeometry(v.geometry)})`;

/** A measured case: one variant on one shape, with the units of work the cost model charges for it. */
interface Measured {
  variant: Variant | typeof SPARSE_TRANSPOSE | SparseTrainingDescriptor | UnrolledTrainingDescriptor;
  shape: string;
  /** Rows of the output (samples in inference): what the thresholds look at. */
  batch: number;
  /** Units the cost model charges: multiply-adds (matmul) or nonzero·samples (CSR), padding included. */
  units: number;
  timed: TimedCase;
  /** Filled in after the rounds. */
  medianMs: number;
}

/** A point the choices are scored on: a shape, and the median time of each variant measured on it. */
interface Point {
  shape: string;
  /** Samples (rows of the output): the batch the kernel choices look at. */
  batch: number;
  /** Median milliseconds by variant label. */
  ms: Map<string, number>;
  /** For the dense-vs-sparse choice: the layer at this point. */
  layer?: LayerShape;
  /** For `sparseTrainingBelow`: the kept density of the layer at this point. */
  density?: number;
}

/** A candidate of a choice: what it runs at a point, as the key of its time there (a variant's label). */
interface Policy {
  label: string;
  pick: (point: Point) => string;
}

const roundUp = (n: number, multiple: number): number => ceilDiv(n, multiple) * multiple;

function matmulUnits(kernel: MatmulDescriptor, { m, k, n }: MatmulSpec): number {
  const [rows, columns] = kernel.costBlock(kernel.geometry);
  return k * roundUp(m, rows) * roundUp(n, columns);
}

function sparseUnits(kernel: SparseDescriptor, { batch, nonzeros }: SparseShape): number {
  const [rows] = kernel.costBlock(kernel.geometry);
  return nonzeros * roundUp(batch, rows);
}

/**
 * Scores each policy on the points where every variant it could pick was measured, and picks
 * the fastest, keeping the default within `KEEP_DEFAULT_WITHIN`.
 */
function decide(choice: string, measured: string, points: readonly Point[], policies: readonly Policy[], defaultLabel: string): { decision: TuneDecision; winner: Policy } {
  const usable = points.filter((p) => policies.every((policy) => p.ms.has(policy.pick(p))));
  const msOf = (policy: Policy, p: Point): number => p.ms.get(policy.pick(p))!;
  const scores = policies.map((policy) => {
    const relative = usable.map((p) => msOf(policy, p) / Math.min(...policies.map((other) => msOf(other, p))));
    return { label: policy.label, relativeTime: relative.length ? relative.reduce((a, b) => a + b, 0) / relative.length : 1 };
  });
  const byLabel = (label: string): { label: string; relativeTime: number } => scores.find((s) => s.label === label)!;
  const best = scores.reduce((a, b) => (b.relativeTime < a.relativeTime ? b : a));
  const fallback = byLabel(defaultLabel);
  const winner = fallback.relativeTime <= best.relativeTime * (1 + KEEP_DEFAULT_WITHIN) ? fallback : best;
  return {
    decision: { choice, measured, candidates: scores, tuned: winner.label, default: defaultLabel, defaultOverTuned: fallback.relativeTime / winner.relativeTime },
    winner: policies.find((p) => p.label === winner.label)!,
  };
}

/**
 * Milliseconds per unit of work beyond what every dispatch costs: the least-squares slope of the
 * time over the units (the cost model has no fixed cost per dispatch, which dominates small
 * cases), or the plain ratio where the cases have one size or the slope is not positive.
 */
function timePerUnit(cases: readonly Measured[]): number | null {
  if (cases.length === 0) return null;
  const mean = (values: number[]): number => values.reduce((a, b) => a + b, 0) / values.length;
  const [units, ms] = [cases.map((c) => c.units), cases.map((c) => c.medianMs)];
  const [meanUnits, meanMs] = [mean(units), mean(ms)];
  const spread = units.reduce((sum, u) => sum + (u - meanUnits) ** 2, 0);
  const slope = spread > 0 ? units.reduce((sum, u, i) => sum + (u - meanUnits) * (ms[i]! - meanMs), 0) / spread : 0;
  return slope > 0 ? slope : median(cases.map((c) => c.medianMs / c.units));
}

/** One variant everywhere. */
const always = (variant: { name: string; geometry: Geometry }, label = variantLabel(variant)): Policy => ({ label, pick: () => variantLabel(variant) });

/** One of two variants at each point. */
const either = (label: string, first: (p: Point) => boolean, a: Variant, b: Variant): Policy => ({ label, pick: (p) => variantLabel(first(p) ? a : b) });

/**
 * Layer l's matmuls in a training step of `sizes` at `batch`, as the trainer builds them
 * (src/gpu/trainer.ts). The weight gradient is timed summing all of k (the trainer's reads the
 * row count from the GPU: on buffers of ones the same work) and accumulating only: the seed's
 * momentum step adds an epilogue, not a different geometry.
 */
function layerTrainingSpecs(sizes: readonly number[], l: number, batch: number): MatmulSpec[] {
  return [
    forwardSpec(sizes, l, batch),
    ...(l > 0 ? [inputGradientSpec(sizes, l, batch)] : []),
    { ...weightGradientSpec(sizes, l, batch), kFromCount: false },
  ];
}

/** The matmuls of one training step of `sizes` at `batch`. */
function trainingSpecs(sizes: readonly number[], batch: number): MatmulSpec[] {
  return sizes.slice(1).flatMap((_, l) => layerTrainingSpecs(sizes, l, batch));
}

/** Layer `l` of `sizes` in inference at `m` samples, as the dense engine runs it. */
function inferenceSpec(sizes: readonly number[], l: number, m: number): MatmulSpec {
  return { m, k: sizes[l]!, n: sizes[l + 1]!, epilogue: l + 2 < sizes.length ? 'relu' : 'none' };
}

/** The shape label of a matmul case (every version describes a shape alike). */
const matmulShape = (spec: MatmulSpec): string => MATMUL_V2.describe(spec);

const unique = (values: readonly number[]): number[] => [...new Set(values)].sort((a, b) => a - b);

/** A case to time: a matmul variant on a shape, or a CSR variant on a layer at a batch. */
type CaseSpec =
  | { variant: MatmulDescriptor; spec: MatmulSpec }
  | { variant: SparseDescriptor; layer: CsrLayer; batch: number; xLayout?: Layout }
  | { variant: typeof SPARSE_TRANSPOSE; transpose: TransposeShape }
  | { variant: SparseTrainingDescriptor; training: SparseTrainingShape; index: SparseTrainingIndex }
  | { variant: UnrolledTrainingDescriptor; unrolled: SparseShape; kept: Uint32Array };

/** The shape label of a CSR case: the x layout is named when it is not the hidden layers' feature-major. */
const sparseCaseShape = (variant: SparseDescriptor, shape: SparseShape, xLayout: Layout = 'feature-major'): string =>
  `${variant.describe(shape)}${xLayout === 'feature-major' ? '' : `, x ${xLayout}`}`;

const sparseShapeOf = ({ layer, batch }: { layer: CsrLayer; batch: number }): SparseShape => ({
  batch,
  inSize: layer.inSize,
  outSize: layer.outSize,
  nonzeros: layer.indices.length,
});

/**
 * Times `cases` round-robin, each alone, and returns them with their medians. Cases of one
 * shape share their buffers; the CSR cases get the real indices of their layer (their speed
 * depends on them), the matmuls ones (`matmulInputBuffers`: zeros would be skipped).
 */
async function measure(ctx: GpuContext, cases: readonly CaseSpec[], settings: TuneSettings, progress: (line: string) => void): Promise<Measured[]> {
  const buffers: GPUBuffer[] = [];
  const track = (b: GPUBuffer): GPUBuffer => (buffers.push(b), b);
  const shared = new Map<string, GPUBuffer[]>();
  const sharedBuffers = (key: string, make: () => GPUBuffer[]): GPUBuffer[] => {
    let found = shared.get(key);
    if (!found) shared.set(key, (found = make().map(track)));
    return found;
  };
  try {
    // Pipelines compile in parallel; the first timing of each case, which waits for the GPU, one at a time.
    const kernels = await Promise.all(
      cases.map((c) =>
        'spec' in c
          ? compileKernel(ctx, c.variant, c.spec)
          : 'transpose' in c
            ? compileKernel(ctx, c.variant, c.transpose)
            : 'training' in c
              ? compileKernel(ctx, c.variant, c.training)
              : 'unrolled' in c
                ? compileKernel(ctx, c.variant, c.unrolled)
                : compileKernel(ctx, c.variant, sparseShapeOf(c)),
      ),
    );
    const measured: Measured[] = [];
    // A software adapter compiles each kernel on its first run, seconds apiece: say how far it got.
    progress(`first run of ${cases.length} cases`);
    let reported = performance.now();
    for (const [i, c] of cases.entries()) {
      if (performance.now() - reported > PROGRESS_EVERY_MS) {
        progress(`first run: ${i}/${cases.length} cases`);
        reported = performance.now();
      }
      const kernel = kernels[i]!;
      if ('spec' in c) {
        const shape = matmulShape(c.spec);
        const bindings = sharedBuffers(shape, () => matmulInputBuffers(ctx, kernel, `tune ${shape}`));
        const timed = await dispatchCase(ctx, bindKernel(ctx, kernel, 'tune', bindings), settings.kernelTimingMs);
        measured.push({ variant: c.variant, shape, batch: c.spec.m, units: matmulUnits(c.variant, c.spec), timed, medianMs: NaN });
        continue;
      }
      if ('transpose' in c) {
        const { batch, features } = c.transpose;
        const shape = c.variant.describe(c.transpose);
        const bindings = [
          track(createBuffer(ctx, 'tune x', Math.max(4, batch * features * 4))),
          track(createBuffer(ctx, 'tune xT', Math.max(4, batch * features * 4))),
          track(uniformBuffer(ctx, 'tune transpose params', transposeParams(c.transpose))),
        ];
        const timed = await dispatchCase(ctx, bindKernel(ctx, kernel, 'tune', bindings), settings.kernelTimingMs);
        measured.push({ variant: c.variant, shape, batch, units: 0, timed, medianMs: NaN });
        continue;
      }
      if ('training' in c) {
        const { training, index } = c;
        const shape = c.variant.describe(training);
        // The index of the mask (its real positions: the speed depends on them), zeros for the rest, a count of the whole batch.
        const indexBuffers = sharedBuffers(shape, () => [index.outPtr, index.outRows, index.inPtr, index.positions].map((a) => uploadBuffer(ctx, 'tune index', a.length ? a : new Uint32Array(1))));
        const [outPtr, outRows, inPtr, positions] = indexBuffers;
        const zeros = (floats: number): GPUBuffer => track(createBuffer(ctx, 'tune data', floats * 4));
        const { batch, inSize, outSize } = training;
        const bindings =
          c.variant.name === SPARSE_TRAIN_FORWARD.name
            ? [zeros(batch * inSize), outPtr!, outRows!, zeros(inSize * outSize), zeros(batch * outSize)]
            : c.variant.name === SPARSE_TRAIN_INPUT_GRAD.name
              ? [zeros(batch * outSize), inPtr!, positions!, zeros(inSize * outSize), zeros(batch * inSize), zeros(batch * inSize)]
              : [zeros(batch * inSize), zeros(batch * outSize), inPtr!, positions!, track(uploadBuffer(ctx, 'tune count', Uint32Array.of(batch))), zeros(inSize * outSize)];
        const timed = await dispatchCase(ctx, bindKernel(ctx, kernel, 'tune', bindings), settings.kernelTimingMs);
        measured.push({ variant: c.variant, shape, batch, units: index.positions.length * batch, timed, medianMs: NaN });
        continue;
      }
      if ('unrolled' in c) {
        // The training form: sample-major activations, the dense weights and the order of its kept ones.
        const { batch, inSize, outSize } = c.unrolled;
        const shape = c.variant.describe(c.unrolled);
        const bindings = [
          track(createBuffer(ctx, 'tune x', batch * inSize * 4)),
          track(createBuffer(ctx, 'tune y', batch * outSize * 4)),
          track(uniformBuffer(ctx, 'tune params', sparseParams(batch, c.unrolled, true, 'sample-major', 'sample-major'))),
          track(createBuffer(ctx, 'tune bias', 4)),
          track(createBuffer(ctx, 'tune weights', inSize * outSize * 4)),
          track(uploadBuffer(ctx, 'tune kept', c.kept)),
        ];
        const timed = await dispatchCase(ctx, bindKernel(ctx, kernel, 'tune', bindings), settings.kernelTimingMs);
        measured.push({ variant: c.variant, shape, batch, units: c.kept.length * batch, timed, medianMs: NaN });
        continue;
      }
      const { layer, batch, xLayout = 'feature-major' } = c;
      const sparseShape = sparseShapeOf(c);
      const shape = sparseCaseShape(c.variant, sparseShape, xLayout);
      const csr = sharedBuffers(`${layer.inSize}→${layer.outSize}`, () => [
        uploadBuffer(ctx, 'tune indptr', layer.indptr),
        uploadBuffer(ctx, 'tune indices', layer.indices.length ? layer.indices : new Int32Array(1)),
        uploadBuffer(ctx, 'tune values', layer.values.length ? layer.values : new Float32Array(1)),
      ]);
      const io = sharedBuffers(shape, () => [
        createBuffer(ctx, 'tune x', Math.max(4, batch * layer.inSize * 4)),
        createBuffer(ctx, 'tune y', Math.max(4, batch * layer.outSize * 4)),
        uniformBuffer(ctx, 'tune params', sparseParams(batch, layer, true, xLayout, 'feature-major')),
      ]);
      // sparse_unrolled has the layer in its program: it binds the activations only.
      const bindings = c.variant.name === SPARSE_UNROLLED ? io : [...csr, ...io];
      const timed = await dispatchCase(ctx, bindKernel(ctx, kernel, 'tune', bindings), settings.kernelTimingMs);
      measured.push({ variant: c.variant, shape, batch, units: sparseUnits(c.variant, sparseShape), timed, medianMs: NaN });
    }
    progress(`timing ${measured.length} cases`);
    await runRounds(
      measured.map((c) => c.timed),
      settings.repeats,
      (round) => progress(`round ${round}/${settings.repeats}`),
    );
    for (const c of measured) c.medianMs = median(c.timed.ms);
    return measured;
  } finally {
    for (const b of buffers) b.destroy();
  }
}

/** The points of `shapes`, with the medians `measured` has for them. */
function pointsOf(measured: readonly Measured[], shapes: readonly { shape: string; batch: number; layer?: LayerShape }[]): Point[] {
  return shapes.map((s) => ({ ...s, ms: new Map(measured.filter((c) => c.shape === s.shape).map((c) => [variantLabel(c.variant), c.medianMs])) }));
}

/**
 * Measures the candidates on this device and returns the tuning they pick, with the table. Two
 * phases: the versions and geometries on the shapes where each kernel runs, then the winners
 * against each other where the thresholds and the cost model choose between them.
 */
export async function tune(ctx: GpuContext, settings: TuneSettings, progress: (line: string) => void): Promise<TuneResult> {
  const start = performance.now();
  const { sizes } = settings;
  const layerIndices = [...Array(sizes.length - 1).keys()];
  const sg = subgroupSize(ctx);
  const decisions: TuneDecision[] = [];
  const geometry: Record<string, Tuning['geometry'][string]> = {};
  const all: Measured[] = [];
  // Built once: cases and choices compare variants by identity.
  const matmulOf = new Map(([2, 3, 4] as const).filter((v) => v !== 3 || sg > 0).map((v) => [v, matmulVariants(v, sg)] as const));

  /** Decides among variants of one kernel; a winner other than the descriptor's own goes into the tuning's geometry. */
  const bestVariant = <V extends Variant | SparseTrainingDescriptor>(choice: string, variants: readonly V[], points: Point[], where: string): V => {
    const { decision, winner } = decide(choice, where, points, variants.map((v) => always(v)), variantLabel(variants[0]!));
    decisions.push(decision);
    const picked = variants.find((v) => variantLabel(v) === winner.label)!;
    if (picked !== variants[0]) geometry[picked.name] = picked.geometry;
    return picked;
  };
  /** Decides between the best variants of two versions. */
  const bestVersion = (choice: string, best: ReadonlyMap<2 | 3, Variant>, points: Point[], where: string, fallback: 2 | 3): 2 | 3 => {
    if (best.size < 2) return fallback;
    const { decision, winner } = decide(choice, where, points, [...best].map(([v, variant]) => always(variant, `v${v}`)), `v${fallback}`);
    decisions.push(decision);
    return winner.label === 'v2' ? 2 : 3;
  };

  // CSR layers of a randomly initialised network pruned by magnitude: kept weights at random places.
  const net = initNetwork([...sizes], 1);
  pruneToSparsity(net, 1 - settings.density, 'layer');
  const csr = csrLayers(net);
  const layerShape = (layer: CsrLayer): LayerShape => ({ inSize: layer.inSize, outSize: layer.outSize, nonzeros: layer.indices.length });
  const sparsePoint = (batch: number, layer: CsrLayer): { shape: string; batch: number; layer: LayerShape } => ({
    shape: SPARSE_V1.describe({ batch, ...layerShape(layer) }),
    batch,
    layer: layerShape(layer),
  });
  const matmulPoint = (spec: MatmulSpec): { shape: string; batch: number } => ({ shape: matmulShape(spec), batch: spec.m });
  const inferenceAt = (batches: readonly number[]): MatmulSpec[] => batches.flatMap((m) => layerIndices.map((l) => inferenceSpec(sizes, l, m)));
  const sparseWhere = (batches: readonly number[]): string => `CSR ${sizes.join('-')} at ${settings.density * 100}% kept, batch ${batches.join(', ')}`;

  // Phase 1: each kernel's geometry, and v2 against v3, where they run.
  const fullTileVersions: (2 | 3)[] = sg > 0 ? [2, 3] : [2];
  const wideVersions: (2 | 3)[] = sparseVariantsOn(ctx.adapter, 3).length > 0 ? [2, 3] : [2];
  const maxFewRows = Math.max(...settings.fewRows);
  const largest = Math.max(...settings.inferBatches);
  const fullTileSpecs = [...trainingSpecs(sizes, settings.trainBatch), ...inferenceAt([largest])];
  // v4 runs up to the full-tile version's few-rows limit: its geometry is measured where it runs.
  const fewRowsGeometryBatches = settings.fewRows.filter((m) => m <= DEFAULT_TUNING.fewRowsMaxM[sg > 0 ? 3 : 2]);
  const narrowBatches = settings.sparseBatches.filter((b) => b < DEFAULT_TUNING.sparseV1Below);
  const wideBatches = unique([...settings.sparseBatches, ...settings.inferBatches]).filter((b) => b >= DEFAULT_TUNING.sparseV1Below);
  progress('phase 1: kernel versions and geometries');
  const phase1 = await measure(
    ctx,
    [
      ...fullTileSpecs.flatMap((spec) => fullTileVersions.flatMap((v) => matmulOf.get(v)!.map((variant) => ({ variant, spec })))),
      ...inferenceAt(fewRowsGeometryBatches).flatMap((spec) => matmulOf.get(4)!.map((variant) => ({ variant, spec }))),
      ...narrowBatches.flatMap((batch) => csr.flatMap((layer) => sparseVariantsOn(ctx.adapter, 1).map((variant) => ({ variant, layer, batch })))),
      ...wideBatches.flatMap((batch) => csr.flatMap((layer) => wideVersions.flatMap((v) => sparseVariantsOn(ctx.adapter, v).map((variant) => ({ variant, layer, batch }))))),
    ],
    settings,
    progress,
  );
  all.push(...phase1);
  const fullTileWhere = `training step ${sizes.join('-')} at batch ${settings.trainBatch}; inference at batch ${largest}`;
  const fullTilePoints = pointsOf(phase1, fullTileSpecs.map(matmulPoint));
  const fullTileBest = new Map(fullTileVersions.map((v) => [v, bestVariant(`matmul_v${v} geometry`, matmulOf.get(v)!, fullTilePoints, fullTileWhere)] as const));
  const fullTileMatmul = bestVersion('fullTileMatmul', fullTileBest, fullTilePoints, fullTileWhere, DEFAULT_TUNING.fullTileMatmul);
  const fullTileKey: 2 | 3 = sg > 0 ? fullTileMatmul : 2;
  const fullTile = fullTileBest.get(fullTileKey)!;
  const fewRowsWhere = (batches: readonly number[]): string => `inference ${sizes.join('-')} at batch ${batches.join(', ')}`;
  const fewRows = bestVariant('matmul_v4 geometry', matmulOf.get(4)!, pointsOf(phase1, inferenceAt(fewRowsGeometryBatches).map(matmulPoint)), fewRowsWhere(fewRowsGeometryBatches));
  const narrowPoints = pointsOf(phase1, narrowBatches.flatMap((b) => csr.map((layer) => sparsePoint(b, layer))));
  const narrow = bestVariant('sparse_v1 geometry', sparseVariantsOn(ctx.adapter, 1), narrowPoints, sparseWhere(narrowBatches));
  const widePoints = pointsOf(phase1, wideBatches.flatMap((b) => csr.map((layer) => sparsePoint(b, layer))));
  const wideBest = new Map(wideVersions.map((v) => [v, bestVariant(`sparse_v${v} geometry`, sparseVariantsOn(ctx.adapter, v), widePoints, sparseWhere(wideBatches))] as const));
  const sparseWide = bestVersion('sparseWide', wideBest, widePoints, sparseWhere(wideBatches), DEFAULT_TUNING.sparseWide);
  const wide = wideBest.get(wideVersions.includes(3) ? sparseWide : 2)!;

  // Phase 2: the winners against each other, at the batches where the thresholds and the cost model choose.
  const thresholdRows = unique([...settings.fewRows, ...settings.inferBatches.filter((b) => b <= maxFewRows)]);
  const thresholdBatches = unique([...settings.sparseBatches, ...settings.inferBatches]);
  // Each layer sparse_unrolled can take, written into its program (one per layer, in the default geometry).
  const unrolled = csr.map((layer) => (unrollable(layer) ? unrolledSparseKernel(layer) : undefined));
  progress('phase 2: thresholds and costs');
  const phase2 = await measure(
    ctx,
    [
      ...unique([...thresholdRows, ...settings.inferBatches]).flatMap((m) =>
        inferenceAt([m]).flatMap((spec) => (m <= maxFewRows ? [fewRows, fullTile] : [fullTile]).map((variant) => ({ variant, spec }))),
      ),
      ...thresholdBatches.flatMap((batch) => csr.flatMap((layer) => [narrow, wide].map((variant) => ({ variant, layer, batch })))),
      ...settings.inferBatches.flatMap((batch) => csr.flatMap((layer, l) => (unrolled[l] ? [{ variant: unrolled[l], layer, batch }] : []))),
      // The first layer reading the input as it arrives (sample-major), against transposing it first.
      { variant: wide, layer: csr[0]!, batch: largest, xLayout: 'sample-major' as const },
      { variant: SPARSE_TRANSPOSE, transpose: { batch: largest, features: sizes[0]! } },
    ],
    settings,
    progress,
  );
  all.push(...phase2);
  const defaultMaxM = DEFAULT_TUNING.fewRowsMaxM[fullTileKey];
  const maxMs = unique([0, ...settings.fewRows.slice(0, -1), defaultMaxM]);
  const fewRowsPolicy = (maxM: number): Policy => either(String(maxM), (p) => p.batch <= maxM, fewRows, fullTile);
  const fewRowsDecision = decide(
    `fewRowsMaxM[${fullTileKey}]`,
    `${fewRowsWhere(settings.fewRows)}: v4 up to the batch, else matmul_v${fullTileKey}`,
    pointsOf(phase2, inferenceAt(settings.fewRows).map(matmulPoint)),
    maxMs.map(fewRowsPolicy),
    String(defaultMaxM),
  );
  decisions.push(fewRowsDecision.decision);
  const fewRowsMaxM = { ...DEFAULT_TUNING.fewRowsMaxM, [fullTileKey]: Number(fewRowsDecision.winner.label) };
  const maxNarrow = Math.max(...settings.sparseBatches);
  const belows = unique([...settings.sparseBatches, maxNarrow + 1, DEFAULT_TUNING.sparseV1Below]);
  const belowPolicy = (below: number): Policy => either(String(below), (p) => p.batch < below, narrow, wide);
  const belowDecision = decide(
    'sparseV1Below',
    `${sparseWhere(settings.sparseBatches)}: v1 below the batch, else ${wide.name}`,
    pointsOf(phase2, settings.sparseBatches.flatMap((b) => csr.map((layer) => sparsePoint(b, layer)))),
    belows.map(belowPolicy),
    String(DEFAULT_TUNING.sparseV1Below),
  );
  decisions.push(belowDecision.decision);
  const sparseV1Below = Number(belowDecision.winner.label);

  // The first layer's input: as it arrives, or transposed first (`sampleMajorMaxFeatures`). One
  // width is measured, so the threshold moves only as far as needed to put it on the faster side.
  const inputs = sizes[0]!;
  const timeOf = (shape: string, variant: { name: string; geometry: Geometry }): number | undefined =>
    phase2.find((c) => c.shape === shape && c.variant === variant)?.medianMs;
  const firstLayer = sparseShapeOf({ layer: csr[0]!, batch: largest });
  const asArrives = timeOf(sparseCaseShape(wide, firstLayer, 'sample-major'), wide);
  const transposed = (timeOf(SPARSE_TRANSPOSE.describe({ batch: largest, features: inputs }), SPARSE_TRANSPOSE) ?? NaN) + (timeOf(sparseCaseShape(wide, firstLayer), wide) ?? NaN);
  const layoutPoint: Point = { shape: sparseCaseShape(wide, firstLayer), batch: largest, ms: new Map(asArrives !== undefined && Number.isFinite(transposed) ? [['sample-major', asArrives], ['transposed', transposed]] : []) };
  const layoutDecision = decide(
    'first-layer input',
    `CSR ${sizes.join('-')} at ${settings.density * 100}% kept, first layer at batch ${largest}: ${wide.name} on the sample-major input, or sparse_transpose then ${wide.name}`,
    [layoutPoint],
    ['sample-major', 'transposed'].map((layout): Policy => ({ label: layout, pick: () => layout })),
    inputs > DEFAULT_TUNING.sampleMajorMaxFeatures ? 'transposed' : 'sample-major',
  );
  const sampleMajorMaxFeatures =
    layoutDecision.winner.label === 'sample-major' ? Math.max(DEFAULT_TUNING.sampleMajorMaxFeatures, inputs) : Math.min(DEFAULT_TUNING.sampleMajorMaxFeatures, inputs - 1);
  decisions.push({ ...layoutDecision.decision, choice: `first-layer input (sampleMajorMaxFeatures ${sampleMajorMaxFeatures})` });

  // Costs per unit of work where each kernel runs under the choices above (all its cases for one that never runs), relative to the full-tile matmul.
  const runs = (variant: Variant, { batch }: Measured): boolean => {
    if (variant === fewRows) return batch <= fewRowsMaxM[fullTileKey];
    if (variant === fullTile) return batch > fewRowsMaxM[fullTileKey];
    if (variant === narrow) return batch < sparseV1Below;
    if (variant === wide) return batch >= sparseV1Below;
    return true;
  };
  const unitCost = (variant: Variant, cases: readonly Measured[]): number | null => {
    const own = cases.filter((c) => c.variant === variant && c.units > 0);
    const running = own.filter((c) => runs(variant, c));
    return timePerUnit(running.length ? running : own);
  };
  const measuredCosts: Record<string, number> = { ...DEFAULT_TUNING.costs };
  // The winners from phase 2, where they ran side by side; the other versions from phase 1, against the full tile there.
  const costed: [Variant, Measured[]][] = [
    ...[fullTile, fewRows, narrow, wide].map((v): [Variant, Measured[]] => [v, phase2]),
    ...[...fullTileBest.values(), ...wideBest.values()].filter((v) => v !== fullTile && v !== wide).map((v): [Variant, Measured[]] => [v, phase1]),
  ];
  for (const [variant, cases] of costed) {
    const unit = unitCost(variant, cases);
    const base = unitCost(fullTile, cases);
    if (unit !== null && base !== null) measuredCosts[variant.name] = Number((unit / base).toPrecision(3));
  }
  // sparse_unrolled over all its layers (a descriptor per layer); the hybrid engine prices it at UNROLLED_COST untuned.
  const unrolledUnit = timePerUnit(phase2.filter((c) => c.variant.name === SPARSE_UNROLLED && c.units > 0));
  const fullTileUnit = unitCost(fullTile, phase2);
  if (unrolledUnit !== null && fullTileUnit !== null) measuredCosts[SPARSE_UNROLLED] = Number((unrolledUnit / fullTileUnit).toPrecision(3));

  // Dense vs sparse per layer at the inference batches: the measured costs are kept if they choose as well as the defaults.
  const layerPoints = settings.inferBatches.flatMap((batch) =>
    csr.map((layer, l): Point & { unrolled?: SparseDescriptor } => {
      const [dense, sparse] = pointsOf(phase2, [matmulPoint(inferenceSpec(sizes, l, batch)), sparsePoint(batch, layer)]);
      return { ...sparse!, ms: new Map([...dense!.ms, ...sparse!.ms]), unrolled: unrolled[l] };
    }),
  );
  const costPolicy = (label: string, costs: Tuning['costs']): Policy => ({
    label,
    pick: (p) => {
      const { unrolled: own } = p as (typeof layerPoints)[number];
      const kernels = { dense: p.batch <= fewRowsMaxM[fullTileKey] ? fewRows : fullTile, sparse: p.batch < sparseV1Below ? narrow : wide, unrolled: own };
      const choice = chooseLayerKernel(p.layer!, p.batch, kernels, costs);
      return variantLabel(choice === 'unrolled' ? own! : choice === 'dense' ? kernels.dense : kernels.sparse);
    },
  });
  // The hybrid engine's untuned costs: the defaults, with sparse_unrolled at UNROLLED_COST.
  const untunedCosts = withUnrolledCost(DEFAULT_TUNING.costs);
  const costsDecision = decide(
    'costs',
    `dense vs sparse vs unrolled per layer: ${sparseWhere(settings.inferBatches)}`,
    layerPoints,
    [costPolicy('default costs', untunedCosts), costPolicy('measured costs', measuredCosts)],
    'default costs',
  );
  decisions.push(costsDecision.decision);
  const costs = costsDecision.winner.label === 'measured costs' ? measuredCosts : DEFAULT_TUNING.costs;
  const costedNames = [...costed.map(([variant]) => variant.name), ...(SPARSE_UNROLLED in measuredCosts ? [SPARSE_UNROLLED] : [])];
  for (const name of costedNames) {
    decisions.push({
      choice: `costs.${name}`,
      measured: `time per unit of work where it runs (beyond a fixed cost per dispatch), over ${fullTile.name}'s`,
      candidates: [],
      tuned: `${measuredCosts[name]}${costs === measuredCosts ? '' : ' (not used)'}`,
      default: String(untunedCosts[name]),
      defaultOverTuned: null,
    });
  }

  progress('phase 3: dense or sparse training per layer');
  const sparseTraining = await tuneSparseTraining(ctx, settings, fullTile, bestVariant, progress);
  all.push(...sparseTraining.measured);
  decisions.push(...sparseTraining.decisions);

  return {
    tuning: { ...DEFAULT_TUNING, fewRowsMaxM, fullTileMatmul, sparseV1Below, sparseWide, sampleMajorMaxFeatures, sparseTrainingBelow: sparseTraining.below, unrolledTrainingForward: sparseTraining.unrolled, costs, geometry },
    decisions,
    cases: all.map((c) => ({ kernel: variantLabel(c.variant), shape: c.shape, ms: c.medianMs })),
    kernelTiming: kernelTimingMethod(ctx),
    repeats: settings.repeats,
    seconds: (performance.now() - start) / 1000,
  };
}

/**
 * The sparse training kernels' geometries, then `sparseTrainingBelow`: each layer's share of a
 * training step at the training batch with every sample backpropagated, through the matmuls
 * (`fullTile`: forward, input gradient, the weight gradient over the whole batch) and through
 * the sparse training kernels over the kept weights of a magnitude-pruned random network at each
 * of `trainingDensities`. Each kernel's geometry is picked over those layers and densities; the
 * threshold is then scored like the other choices (sparse below it, dense from it, by time
 * relative to the faster of the two at each layer and density) with the picked geometries.
 * Last `unrolledTrainingForward`: on the layers below the default threshold that sparse_unrolled's
 * training form can take, its forward pass against the picked sparse_train_forward.
 */
async function tuneSparseTraining(
  ctx: GpuContext,
  settings: TuneSettings,
  fullTile: MatmulDescriptor,
  pickVariant: (choice: string, variants: readonly SparseTrainingDescriptor[], points: Point[], where: string) => SparseTrainingDescriptor,
  progress: (line: string) => void,
): Promise<{ measured: Measured[]; decisions: TuneDecision[]; below: number; unrolled: boolean }> {
  const { sizes, trainBatch: batch, trainingDensities } = settings;
  const layers = sizes.length - 1;
  const kinds: { variants: readonly SparseTrainingDescriptor[]; runsOn: (l: number) => boolean }[] = [
    { variants: SPARSE_TRAINING_VARIANTS.forward, runsOn: () => true },
    // The first layer's input gradient is never computed.
    { variants: SPARSE_TRAINING_VARIANTS.inputGrad, runsOn: (l) => l > 0 },
    { variants: SPARSE_TRAINING_VARIANTS.weightGrad, runsOn: () => true },
  ];
  const layerCases = trainingDensities.flatMap((density) => {
    const net = initNetwork([...sizes], 1);
    pruneToSparsity(net, 1 - density, 'layer');
    return net.masks.map((mask, l) => {
      const index = sparseTrainingIndex(mask, sizes[l]!, sizes[l + 1]!);
      const training: SparseTrainingShape = { batch, inSize: sizes[l]!, outSize: sizes[l + 1]!, capacity: index.positions.length, relu: l + 1 < layers };
      return { training, index, density, l };
    });
  });
  const sparseCases = layerCases.flatMap((c) => kinds.filter((kind) => kind.runsOn(c.l)).flatMap((kind) => kind.variants.map((variant) => ({ ...c, variant }))));
  const dense = trainingSpecs(sizes, batch).map((spec) => ({ variant: fullTile, spec }));
  // The training form of sparse_unrolled where a trainer with final masks would run it by default.
  const unrolledCases = layerCases.flatMap((c) => {
    const { inSize, outSize } = c.training;
    const structure = { inSize, outSize, indptr: c.index.outPtr, indices: c.index.outRows };
    if (c.density >= DEFAULT_TUNING.sparseTrainingBelow || !unrollableForTraining(ctx, structure)) return [];
    const { descriptor, kept } = unrolledTrainingForward(structure);
    return [{ layerCase: c, spec: { variant: descriptor, unrolled: { batch, inSize, outSize, nonzeros: kept.length }, kept } }];
  });
  const measured = await measure(ctx, [...dense, ...sparseCases, ...unrolledCases.map((c) => c.spec)], settings, progress);
  const msOf = (shape: string, variant: Measured['variant']): number => measured.find((c) => c.shape === shape && c.variant === variant)!.medianMs;
  const where = `training step ${sizes.join('-')} at batch ${batch}, every layer`;
  const densities = trainingDensities.map((d) => `${d * 100}%`).join(', ');
  const picked = kinds.map((kind) => {
    const points = pointsOf(measured, layerCases.filter((c) => kind.runsOn(c.l)).map((c) => ({ shape: kind.variants[0]!.describe(c.training), batch })));
    return { ...kind, variant: pickVariant(`${kind.variants[0]!.name} geometry`, kind.variants, points, `${where} at ${densities} kept`) };
  });
  const denseMs = (l: number): number => layerTrainingSpecs(sizes, l, batch).reduce((sum, spec) => sum + msOf(matmulShape(spec), fullTile), 0);
  const points: Point[] = layerCases.map(({ training, density, l }) => {
    const sparseMs = picked.filter((kind) => kind.runsOn(l)).reduce((sum, kind) => sum + msOf(kind.variant.describe(training), kind.variant), 0);
    return { shape: `layer ${l} at ${density * 100}% kept`, batch, density, ms: new Map([['dense', denseMs(l)], ['sparse', sparseMs]]) };
  });
  const thresholds = unique([0, ...trainingDensities, 1, DEFAULT_TUNING.sparseTrainingBelow]);
  const { decision, winner } = decide(
    'sparseTrainingBelow',
    `${where} dense (${fullTile.name}) or sparse at ${densities} kept: sparse below the density`,
    points,
    thresholds.map((t): Policy => ({ label: String(t), pick: (p) => (p.density! < t ? 'sparse' : 'dense') })),
    String(DEFAULT_TUNING.sparseTrainingBelow),
  );
  const forward = picked[0]!.variant;
  const unrolledPoints: Point[] = unrolledCases.map(({ layerCase: { training, density, l }, spec }) => ({
    shape: `layer ${l} at ${density * 100}% kept`,
    batch,
    ms: new Map([
      [forward.name, msOf(forward.describe(training), forward)],
      [SPARSE_UNROLLED, msOf(spec.variant.describe(spec.unrolled), spec.variant)],
    ]),
  }));
  const unrolled = decide(
    'unrolledTrainingForward',
    `${where}: the forward pass of each layer below ${DEFAULT_TUNING.sparseTrainingBelow * 100}% kept that fits, through ${forward.name} or its own program (${SPARSE_UNROLLED})`,
    unrolledPoints,
    [
      { label: 'true', pick: () => SPARSE_UNROLLED },
      { label: 'false', pick: () => forward.name },
    ],
    String(DEFAULT_TUNING.unrolledTrainingForward),
  );
  return { measured, decisions: [decision, unrolled.decision], below: Number(winner.label), unrolled: unrolled.winner.label === 'true' };
}

/** The decisions as a Markdown table, then each choice's candidates. */
export function formatTuneTable(result: TuneResult): string {
  const ratio = (d: TuneDecision): string => (d.defaultOverTuned === null ? '–' : `${d.defaultOverTuned.toFixed(2)}×`);
  return [
    `kernels timed by ${result.kernelTiming}, median of ${result.repeats} rounds, ${result.cases.length} cases in ${result.seconds.toFixed(1)} s`,
    '',
    '| choice | measured on | default | tuned | default / tuned time |',
    '| --- | --- | --- | --- | ---: |',
    ...result.decisions.map((d) => `| ${d.choice} | ${d.measured} | ${d.default} | ${d.tuned} | ${ratio(d)} |`),
    '',
    'candidates, by time relative to the fastest at each shape (mean over the shapes):',
    ...result.decisions
      .filter((d) => d.candidates.length > 0)
      .map((d) => `  ${d.choice}: ${d.candidates.map((c) => `${c.label} ${c.relativeTime.toFixed(2)}`).join(', ')}`),
  ].join('\n');
}
