/**
 * The training kernels as descriptors (src/gpu/dispatch.ts): the matmul in four versions
 * (compiled once per shape: shapes are override constants), softmax_grad, the momentum update
 * and the mask. Each has a plain-loop reference in `src/cpu/ops.ts` (the mask: `applyMasks` in
 * src/model/network.ts).
 */
import applyMaskSource from '../../shaders/apply_mask.wgsl';
import matmulVersionsSource from '../../shaders/matmul.wgsl';
import matmulCommonSource from '../../shaders/matmul_common.wgsl';
import matmulSubgroupVersionSource from '../../shaders/matmul_subgroup.wgsl';
import softmaxGradSource from '../../shaders/softmax_grad.wgsl';
import updateSource from '../../shaders/update.wgsl';
import type { Distillation } from '../train/distill';
import { ceilDiv } from '../util/math';
import type { AdapterDescription, GpuContext } from './device';
import { compileKernel, type CostedDescriptor, type Geometry, type Kernel, type KernelDescriptor } from './dispatch';
import { parameterUpdateDescriptor } from './optimizer-kernels';
import { KernelError } from './program';
import { withNumerics } from './shared-wgsl';
import { tunedVariant } from './tuning';

/** What the matmul does with each finished element of C (see shaders/matmul.wgsl). */
export const EPILOGUES = {
  /** c = acc */
  none: 0,
  /** c = max(acc, 0): ReLU on a hidden layer's output */
  relu: 1,
  /** c = acc·[aux > 0]: the ReLU derivative, aux = the layer's activations */
  reluGrad: 2,
  /** c = (c + acc)·aux: velocity += weight gradient, aux = the 0/1 mask */
  accumulateVelocity: 3,
  /** accumulateVelocity, then where aux ≠ 0 the seed's step: w += lr·c, c *= momentum (w binding 6, (lr, momentum) uniform binding 7) */
  momentumStep: 4,
} as const;
export type Epilogue = keyof typeof EPILOGUES;

/** C[m,n] = op(A)·op(B): A is [m,k] or, with transA, stored [k,m]; B is [k,n] or, with transB, [n,k]. */
export interface MatmulSpec {
  m: number;
  k: number;
  n: number;
  transA?: boolean;
  transB?: boolean;
  epilogue?: Epilogue;
  /**
   * The forward epilogues (none, relu) add bias[col] (binding 4, [n]) to each element before the
   * ReLU. Without it the shader does not read binding 4, which a caller may leave out.
   */
  bias?: boolean;
  /**
   * k is the most rows summed: the sum runs over the first min(count, k) only, count being the
   * u32 in binding 5 that the GPU wrote (the packed backpropagated rows of a batch). Without it the
   * shader does not read binding 5.
   */
  kFromCount?: boolean;
}

/** 1 naive, 2 workgroup-tiled (portable), 3 subgroup-shuffle (needs `subgroups`), 4 few rows (portable). */
export type MatmulVersion = 1 | 2 | 3 | 4;

export interface MatmulDescriptor<G extends Geometry = Geometry> extends CostedDescriptor<MatmulSpec, G> {
  /** Rows × columns of C one workgroup computes: the dispatch is (⌈N / columns⌉, ⌈M / rows⌉). */
  tile(geometry: G): readonly [number, number];
}

/**
 * A matmul program: a version's file, then the shape, bindings and epilogues every version shares
 * and the shared float tests (appended, so that the version's directives, `enable subgroups`, stay first).
 */
const matmulSource = withNumerics(`${matmulVersionsSource}\n${matmulCommonSource}`);
const matmulSubgroupSource = withNumerics(`${matmulSubgroupVersionSource}\n${matmulCommonSource}`);

const F32 = 4;
/** The binding of the matmul's bias ([n]), read only with `MatmulSpec.bias`. */
const BIAS_BINDING = 4;
/** The binding of the row count ([1] u32), read only with `MatmulSpec.kFromCount`. */
const COUNT_BINDING = 5;
/** The bindings of the weights ([m, n]) and the (lr, momentum) uniform, read only by the momentumStep epilogue. */
const STEP_BINDINGS = [6, 7];
/** Bytes of the seed rule's (lr, momentum) uniform: update.wgsl's, and the momentum step's wherever it is fused. */
export const SEED_HYPER_BYTES = 2 * F32;

/**
 * A matmul version of shaders/matmul*.wgsl: `tile` is the rows × columns of C one workgroup
 * computes, `costBlock` the rows × columns whose work is done together whether or not they are
 * inside C.
 */
function matmulDescriptor<G extends Geometry>(
  version: MatmulVersion,
  source: string,
  geometry: G,
  tile: (g: G) => [number, number],
  costBlock: (g: G) => [number, number],
): MatmulDescriptor<G> {
  return {
    name: `matmul_v${version}`,
    source,
    entryPoint: `matmul_v${version}`,
    geometry,
    describe: ({ m, k, n, transA, transB, epilogue = 'none', bias, kFromCount }) =>
      `${m}x${kFromCount ? '≤' : ''}${k}x${n} ${transA ? 'Aᵀ' : 'A'}·${transB ? 'Bᵀ' : 'B'}${bias ? ' +bias' : ''}${epilogue === 'none' ? '' : ` ${epilogue}`}`,
    shapeConstants: ({ m, k, n, transA = false, transB = false, epilogue = 'none', bias = false, kFromCount = false }) => ({
      M: m,
      N: n,
      K: k,
      TRANS_A: Number(transA),
      TRANS_B: Number(transB),
      EPILOGUE: EPILOGUES[epilogue],
      HAS_BIAS: Number(bias),
      K_FROM_COUNT: Number(kFromCount),
    }),
    workgroups: ({ m, n }, g) => {
      const [rows, cols] = tile(g);
      return [ceilDiv(n, cols), ceilDiv(m, rows), 1];
    },
    bindingBytes: ({ m, k, n, epilogue = 'none', bias }) => [
      m * k * F32,
      k * n * F32,
      m * n * F32,
      epilogue === 'reluGrad' || epilogue === 'accumulateVelocity' || epilogue === 'momentumStep' ? m * n * F32 : F32,
      bias ? n * F32 : F32,
      4,
      epilogue === 'momentumStep' ? m * n * F32 : F32,
      SEED_HYPER_BYTES,
    ],
    // The one place that decides the placeholders: the bias of a matmul without one, the count of
    // one that sums all of k, the weights and rates of one that takes no momentum step.
    unreadBindings: ({ bias, kFromCount, epilogue }) => [
      ...(bias ? [] : [BIAS_BINDING]),
      ...(kFromCount ? [] : [COUNT_BINDING]),
      ...(epilogue === 'momentumStep' ? [] : STEP_BINDINGS),
    ],
    costBlock,
    tile,
  };
}

/** One invocation per element of C in square workgroups of V1_WG². */
export const MATMUL_V1 = matmulDescriptor(1, matmulSource, { V1_WG: 8 }, (g) => [g.V1_WG, g.V1_WG], () => [1, 1]);

/**
 * Tiles of 8·V2_WG × 8·V2_WG (8 × 8 per invocation: the shader's register block), K in steps of
 * V2_TK through workgroup memory. Every invocation takes part in every step (barriers), so a
 * partial tile costs a whole one. 16 and 8 (a 128² tile, 8 KiB of workgroup memory): BENCHMARKS.md, "v2".
 */
export const MATMUL_V2 = matmulDescriptor(
  2,
  matmulSource,
  { V2_WG: 16, V2_TK: 8 },
  (g) => [8 * g.V2_WG, 8 * g.V2_WG],
  (g) => [8 * g.V2_WG, 8 * g.V2_WG],
);

/**
 * ROWS · WG rows × COLS columns per workgroup of WG invocations that share op(B) through
 * subgroup shuffles of SG lanes (the device's fixed subgroup size). Every invocation runs every
 * k step, so a partial tile costs a whole one. 2 × 32 beat 4×16, 3×32 and 2×16; larger blocks
 * spill (BENCHMARKS.md, "Matmul kernels").
 */
export function matmulV3(subgroupSize: number): MatmulDescriptor<{ SG: number; WG: number; ROWS: number; COLS: number }> {
  return matmulDescriptor(
    3,
    matmulSubgroupSource,
    { SG: subgroupSize, WG: 64, ROWS: 2, COLS: 32 },
    (g) => [g.ROWS * g.WG, g.COLS],
    (g) => [g.ROWS * g.WG, g.COLS],
  );
}

/**
 * Few rows: V4_ROWS rows × 4·V4_WG columns per workgroup, each invocation 4 adjacent columns (a
 * vec4) of every row; an invocation past N skips its work, so a block is its 4 columns of all
 * V4_ROWS rows. BENCHMARKS.md, "Small batches".
 */
export const MATMUL_V4 = matmulDescriptor(4, matmulSource, { V4_WG: 64, V4_ROWS: 4 }, (g) => [g.V4_ROWS, 4 * g.V4_WG], (g) => [g.V4_ROWS, 4]);

/**
 * Subgroup size the v3 kernel can be built for on an adapter, or 0 when it cannot: SG is a
 * compile-time constant, so the size must be fixed (min = max), and it must divide the 32
 * columns of v3's geometry (a 64-lane subgroup would load no op(B) values at all).
 */
export function subgroupSizeOf(adapter: AdapterDescription): number {
  const { subgroupMinSize, subgroupMaxSize } = adapter;
  if (!adapter.features.includes('subgroups')) return 0;
  if (subgroupMinSize !== subgroupMaxSize || subgroupMinSize < 4 || subgroupMinSize > 32) return 0;
  return subgroupMinSize;
}

/** `subgroupSizeOf` this device's adapter. */
export function subgroupSize(ctx: GpuContext): number {
  return subgroupSizeOf(ctx.adapter);
}

/** The matmul this device runs on full tiles: the tuning's (`Tuning.fullTileMatmul`), tiled where the subgroup kernel cannot be built. */
export function defaultMatmulVersion(ctx: GpuContext): 2 | 3 {
  return subgroupSize(ctx) > 0 ? ctx.tuning.fullTileMatmul : 2;
}

/** The matmul version for one shape on this device: v4 for few rows (`Tuning.fewRowsMaxM`), else `defaultMatmulVersion`. */
export function matmulVersionFor(ctx: GpuContext, spec: MatmulSpec): MatmulVersion {
  const fullTile = defaultMatmulVersion(ctx);
  return spec.m <= ctx.tuning.fewRowsMaxM[fullTile] ? 4 : fullTile;
}

/**
 * The geometries of a matmul version that test/gpu/matmul.test.ts checks against the reference,
 * and so the only ones a tuning may pick: the descriptor's own first, then one that leaves
 * partial tiles on the tests' shapes (v3's needs a subgroup of at most 32 lanes). `sg`: the
 * subgroup size v3 is built for.
 */
export function matmulVariants(version: MatmulVersion, sg: number): MatmulDescriptor[] {
  switch (version) {
    case 1:
      return [MATMUL_V1, { ...MATMUL_V1, geometry: { V1_WG: 4 } }];
    case 2:
      return [MATMUL_V2, { ...MATMUL_V2, geometry: { V2_WG: 8, V2_TK: 16 } }];
    case 3: {
      const own = matmulV3(sg);
      return sg <= 32 ? [own, { ...own, geometry: { SG: sg, WG: 2 * sg, ROWS: 1, COLS: 2 * sg } }] : [own];
    }
    case 4:
      return [MATMUL_V4, { ...MATMUL_V4, geometry: { V4_WG: 32, V4_ROWS: 1 } }];
  }
}

/** The descriptor of a matmul version on this device, in the geometry the tuning picks. */
export function matmulDescriptorOf(ctx: GpuContext, version: MatmulVersion): MatmulDescriptor {
  const sg = subgroupSize(ctx);
  if (version === 3 && sg === 0) throw new KernelError('matmul_v3 needs the subgroups feature with a fixed subgroup size, which this device lacks');
  return tunedVariant(ctx.tuning, matmulVariants(version, sg));
}

/** A version, or `auto`: `matmulVersionFor` picks one for the shape. */
export type MatmulChoice = MatmulVersion | 'auto';

/** For tables: `matmul_v3`, or for `auto` the versions it picks between, e.g. `matmul_auto(v4|v3)`. */
export function matmulChoiceName(ctx: GpuContext, choice: MatmulChoice): string {
  return choice === 'auto' ? `matmul_auto(v4|v${defaultMatmulVersion(ctx)})` : `matmul_v${choice}`;
}

/** Throws a KernelError naming the kernel when a shape value is not an integer ≥ `least`. */
export function integersFrom(least: 0 | 1, name: string, values: Record<string, number>): void {
  for (const [key, value] of Object.entries(values)) {
    if (!Number.isInteger(value) || value < least) {
      throw new KernelError(`kernel ${name}: ${key} = ${value} is not a ${least === 1 ? 'positive' : 'non-negative'} integer`);
    }
  }
}

/** The descriptor `matmulKernel` compiles for a shape: the chosen version's, or for `auto` the one `matmulVersionFor` picks. */
export function matmulDescriptorFor(ctx: GpuContext, spec: MatmulSpec, choice: MatmulChoice = 'auto'): MatmulDescriptor {
  return matmulDescriptorOf(ctx, choice === 'auto' ? matmulVersionFor(ctx, spec) : choice);
}

export function matmulKernel(ctx: GpuContext, spec: MatmulSpec, choice: MatmulChoice = 'auto'): Promise<Kernel> {
  const descriptor = matmulDescriptorFor(ctx, spec, choice);
  // A layer that pruning emptied is a valid shape: no inputs (k = 0) or no neurons (m or n = 0).
  const name = `${descriptor.name}[${descriptor.describe(spec)}]`;
  integersFrom(0, name, { m: spec.m, k: spec.k, n: spec.n });
  if (spec.bias && spec.epilogue !== undefined && spec.epilogue !== 'none' && spec.epilogue !== 'relu') {
    throw new KernelError(`kernel ${name}: a bias is added only by the forward epilogues (none, relu)`);
  }
  return compileKernel(ctx, descriptor, spec);
}

/** Counters of softmax_grad, in buffer order: correct, backpropagated, nonFinite. */
export const SOFTMAX_COUNTERS = 3;

interface SoftmaxShape {
  batch: number;
  classes: number;
  confidence: number;
  /** With distillation: the soft term's weight α and temperature T (src/train/distill.ts). */
  distill?: Distillation;
}

/** The soft targets' binding of softmax_grad, read only with distillation. */
const SOFT_TARGETS_BINDING = 6;

/**
 * Per sample: argmax, softmax, onehot − p where p[target] < confidence (with distillation mixed
 * with the soft term), counters, the flag of backpropagated samples; one invocation per sample.
 */
export const SOFTMAX_GRAD: KernelDescriptor<SoftmaxShape, { WG: number }> = {
  name: 'softmax_grad',
  source: withNumerics(softmaxGradSource),
  entryPoint: 'softmax_grad',
  geometry: { WG: 64 },
  describe: ({ batch, classes, distill }) => `${batch}x${classes}${distill ? ` distill α ${distill.weight} T ${distill.temperature}` : ''}`,
  shapeConstants: ({ batch, classes, confidence, distill }) => ({
    BATCH: batch,
    CLASSES: classes,
    CONFIDENCE: confidence,
    DISTILL: distill ? 1 : 0,
    DISTILL_WEIGHT: distill?.weight ?? 0,
    TEMPERATURE: distill?.temperature ?? 1,
  }),
  workgroups: ({ batch }, g) => [ceilDiv(batch, g.WG), 1, 1],
  bindingBytes: ({ batch, classes, distill }) => [
    batch * classes * F32,
    batch * 4,
    batch * classes * F32,
    SOFTMAX_COUNTERS * 4,
    batch * 4,
    batch * F32,
    distill ? batch * classes * F32 : 0,
  ],
  unreadBindings: ({ distill }) => (distill ? [] : [SOFT_TARGETS_BINDING]),
};

export function softmaxGradKernel(ctx: GpuContext, batch: number, classes: number, confidence: number, distill?: Distillation): Promise<Kernel> {
  integersFrom(1, `softmax_grad[${batch}x${classes}]`, { batch, classes });
  return compileKernel(ctx, SOFTMAX_GRAD, { batch, classes, confidence, distill });
}

/** Masked momentum step for one layer, or its biases' unmasked one (shaders/update.wgsl); the fourth binding is the uniform (lr, momentum). */
export const UPDATE = parameterUpdateDescriptor('update', updateSource, SEED_HYPER_BYTES, 0);

/** w = v = 0 where the mask is 0, for one layer's `count` weights, one invocation each (shaders/apply_mask.wgsl): bindings w, v, mask (f32 0/1). */
export const APPLY_MASK: KernelDescriptor<number, { WG: number }> = {
  name: 'apply_mask',
  source: applyMaskSource,
  entryPoint: 'apply_mask',
  geometry: { WG: 64 },
  describe: (count) => String(count),
  shapeConstants: (count) => ({ COUNT: count }),
  workgroups: (count, g) => [ceilDiv(count, g.WG), 1, 1],
  bindingBytes: (count) => [count * F32, count * F32, count * F32],
};

/** The seed's update of a layer's `count` weights, or with `biases` its `count` biases. */
export function updateKernel(ctx: GpuContext, count: number, biases = false): Promise<Kernel> {
  integersFrom(1, `update[${count}${biases ? ' biases' : ''}]`, { count });
  return compileKernel(ctx, UPDATE, { count, biases });
}

export function applyMaskKernel(ctx: GpuContext, count: number): Promise<Kernel> {
  integersFrom(1, `apply_mask[${count}]`, { count });
  return compileKernel(ctx, APPLY_MASK, count);
}
