/**
 * The kernels of sparse inference as descriptors (src/gpu/dispatch.ts): the CSR gathers
 * (shaders/sparse_v*.wgsl) and the transpose of a sample-major input (shaders/sparse_transpose.wgsl).
 * Shapes reach them in a uniform (`sparseParams`), so one pipeline serves every layer and batch
 * (two with biases: the CSR kernels add a layer's bias with the override HAS_BIAS).
 * JS reference: csrForward in src/cpu/sparse-forward.ts.
 */
import sparseTransposeSource from '../../shaders/sparse_transpose.wgsl';
import sparseV1Source from '../../shaders/sparse_v1.wgsl';
import sparseV2Source from '../../shaders/sparse_v2.wgsl';
import sparseV3Source from '../../shaders/sparse_v3.wgsl';
import { ceilDiv } from '../util/math';
import type { AdapterDescription, GpuContext } from './device';
import type { CostedDescriptor, KernelDescriptor } from './dispatch';
import { KernelError } from './program';
import { withSparseCommon } from './shared-wgsl';
import { tunedVariant, type Tuning } from './tuning';

/** 1 one invocation per (output, sample); 2 lanes over samples; 3 as 2 with subgroup-shared nonzeros. */
export type SparseVersion = 1 | 2 | 3;

/** One CSR layer on one batch. */
export interface SparseShape {
  batch: number;
  inSize: number;
  outSize: number;
  nonzeros: number;
  /** The layer adds its bias (binding 6, [outSize]) to each output's sum, before the ReLU. */
  bias?: boolean;
}

export type SparseDescriptor = CostedDescriptor<SparseShape>;

export type Layout = 'sample-major' | 'feature-major';

const F32 = 4;
/** Bytes of the SparseParams uniform: 8 u32. */
export const SPARSE_PARAMS_BYTES = 32;

/** The CSR kernels' bias binding, read only with `SparseShape.bias`. */
const SPARSE_BIAS_BINDING = 6;

/** Bindings: indptr, indices, values, x, y, params, bias (see the shaders' headers). */
function sparseBindingBytes({ batch, inSize, outSize, nonzeros, bias }: SparseShape): number[] {
  return [(outSize + 1) * 4, nonzeros * 4, nonzeros * F32, batch * inSize * F32, batch * outSize * F32, SPARSE_PARAMS_BYTES, bias ? outSize * F32 : F32];
}

/** What every kernel of a CSR layer (these and sparse_unrolled) shares: its label and the bias override. */
export const sparseLayerText = {
  describe: ({ batch, inSize, outSize, nonzeros, bias }: SparseShape): string => `${batch}x${inSize}→${outSize}, ${nonzeros} nonzeros${bias ? ' +bias' : ''}`,
  shapeConstants: ({ bias = false }: SparseShape) => ({ HAS_BIAS: Number(bias) }),
};

/** What the CSR kernels share: labels, the bias override and the bindings (the bias binding may be left off without a bias). */
const sparseCommon = {
  ...sparseLayerText,
  bindingBytes: sparseBindingBytes,
  unreadBindings: ({ bias }: SparseShape) => (bias ? [] : [SPARSE_BIAS_BINDING]),
};

/** WG invocations along the outputs, one sample per workgroup row; an invocation past the outputs does nothing. */
export const SPARSE_V1: CostedDescriptor<SparseShape, { WG: number }> = {
  name: 'sparse_v1',
  source: withSparseCommon(sparseV1Source),
  geometry: { WG: 64 },
  ...sparseCommon,
  workgroups: ({ batch, outSize }, g) => [ceilDiv(outSize, g.WG), batch, 1],
  costBlock: () => [1, 1],
};

/**
 * ROWS output rows × 4·WG samples per workgroup (4 samples per invocation: the shaders' vec4
 * accumulator). Samples past the batch repeat the last one, so a block of 4·WG samples costs the
 * same however many are in the batch. WG 16 beat 8, 32 and 64 for 784→100 and 4096×4096: a block
 * of 64 samples stays in the cache (BENCHMARKS.md, "Kernel versions").
 */
function lanesOverSamples(version: 2 | 3, source: string): CostedDescriptor<SparseShape, { WG: number; ROWS: number }> {
  return {
    name: `sparse_v${version}`,
    source,
    geometry: { WG: 16, ROWS: 4 },
    ...sparseCommon,
    workgroups: ({ batch, outSize }, g) => [ceilDiv(outSize, g.ROWS), ceilDiv(batch, 4 * g.WG), 1],
    costBlock: (g) => [4 * g.WG, 1],
  };
}

export const SPARSE_V2 = lanesOverSamples(2, withSparseCommon(sparseV2Source));
export const SPARSE_V3 = lanesOverSamples(3, withSparseCommon(sparseV3Source));

/**
 * The geometries of each version that test/gpu/sparse.test.ts checks against the reference, and
 * so the only ones a tuning may pick: the descriptor's own first, then one whose workgroup (and
 * rows) leave partial blocks on the tests' shapes.
 */
export const SPARSE_VARIANTS: Readonly<Record<SparseVersion, readonly SparseDescriptor[]>> = {
  1: [SPARSE_V1, { ...SPARSE_V1, geometry: { WG: 32 } }],
  2: [SPARSE_V2, { ...SPARSE_V2, geometry: { WG: 32, ROWS: 3 } }],
  3: [SPARSE_V3, { ...SPARSE_V3, geometry: { WG: 32, ROWS: 3 } }],
};

/**
 * The covered geometries of a version that run on an adapter. sparse_v3's lanes take turns
 * through subgroupShuffle across the whole subgroup, so its workgroups must fill their
 * subgroups: WG a multiple of the largest subgroup the device may use (a 16-invocation
 * workgroup on a 32-lane GPU would leave half the nonzeros unread). Without the `subgroups`
 * feature, or where the adapter does not say its subgroup size, v3 has none.
 */
export function sparseVariantsOn(adapter: AdapterDescription, version: SparseVersion): readonly SparseDescriptor[] {
  if (version !== 3) return SPARSE_VARIANTS[version];
  const lanes = adapter.subgroupMaxSize;
  if (!adapter.features.includes('subgroups') || lanes === 0) return [];
  return SPARSE_VARIANTS[3].filter((variant) => variant.geometry.WG! % lanes === 0);
}

/** The lanes-over-samples version an adapter runs: the tuning's (`Tuning.sparseWide`) where it runs there, else v2. */
export function wideSparseVersion(adapter: AdapterDescription, tuning: Tuning): 2 | 3 {
  return tuning.sparseWide === 3 && sparseVariantsOn(adapter, 3).length > 0 ? 3 : 2;
}

/**
 * The CSR kernel by batch size on this device, in the geometry the tuning picks: the version
 * asked for, or for `auto` v1 below `Tuning.sparseV1Below` samples, else `Tuning.sparseWide`
 * (v2 without subgroups).
 */
export function sparseKernelChooser(ctx: GpuContext, choice: SparseVersion | 'auto'): (batch: number) => SparseDescriptor {
  const tuned = (version: SparseVersion): SparseDescriptor => {
    const variants = sparseVariantsOn(ctx.adapter, version);
    if (variants.length > 0) return tunedVariant(ctx.tuning, variants);
    if (!ctx.adapter.features.includes('subgroups')) throw new KernelError('sparse_v3 needs the subgroups feature, which this device lacks');
    const tested = SPARSE_VARIANTS[3].map((v) => v.geometry.WG).join(' and ');
    throw new KernelError(`sparse_v3's tested workgroups (${tested} invocations) do not fill this device's subgroups (up to ${ctx.adapter.subgroupMaxSize || 'an unknown number of'} lanes)`);
  };
  if (choice !== 'auto') {
    const kernel = tuned(choice);
    return () => kernel;
  }
  const [narrow, wide] = [tuned(1), tuned(wideSparseVersion(ctx.adapter, ctx.tuning))];
  const below = ctx.tuning.sparseV1Below;
  return (batch) => (batch < below ? narrow : wide);
}

/** For tables: `sparse_v2`, or for `auto` the versions it picks between, e.g. `sparse_auto(v1|v3)`. */
export function sparseChoiceName(ctx: GpuContext, choice: SparseVersion | 'auto'): string {
  return choice === 'auto' ? `sparse_auto(v1|v${wideSparseVersion(ctx.adapter, ctx.tuning)})` : `sparse_v${choice}`;
}

/** The uniform of shaders/sparse_v*.wgsl: sizes, ReLU flag, and the (feature, sample) strides of x and y. */
export function sparseParams(batch: number, layer: { inSize: number; outSize: number }, relu: boolean, x: Layout, y: Layout): Uint32Array {
  const strides = (layout: Layout, features: number): number[] => (layout === 'feature-major' ? [batch, 1] : [1, features]);
  return Uint32Array.from([batch, layer.inSize, layer.outSize, relu ? 1 : 0, ...strides(x, layer.inSize), ...strides(y, layer.outSize)]);
}

export interface TransposeShape {
  batch: number;
  features: number;
}

/** out[f, s] = x[s, f]: WG invocations along samples, one feature per workgroup row. */
export const SPARSE_TRANSPOSE: KernelDescriptor<TransposeShape, { WG: number }> = {
  name: 'sparse_transpose',
  source: sparseTransposeSource,
  geometry: { WG: 64 },
  describe: ({ batch, features }) => `${batch}x${features}`,
  workgroups: ({ batch, features }, g) => [ceilDiv(batch, g.WG), features, 1],
  // x, out, and the TransposeParams uniform (batch, features).
  bindingBytes: ({ batch, features }) => [batch * features * F32, batch * features * F32, 8],
};

/** The uniform of shaders/sparse_transpose.wgsl. */
export function transposeParams({ batch, features }: TransposeShape): Uint32Array {
  return Uint32Array.of(batch, features);
}
