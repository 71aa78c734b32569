/**
 * sparse_unrolled (shaders/sparse_unrolled.wgsl): one CSR layer written into the program, its
 * weights as constants, one invocation per sample. Each input is loaded once per sample into a
 * private row and multiplied from there into every output that keeps a weight from it, where the
 * other CSR kernels gather the input, an index and a weight once per nonzero. The descriptor is
 * made per layer (`unrolledSparseKernel`); its `programId` is a digest of the generated program,
 * so the pipeline cache tells layers apart.
 * JS reference: csrForward in src/cpu/sparse-forward.ts.
 */
import sparseUnrolledSource from '../../shaders/sparse_unrolled.wgsl';
import type { CsrLayer } from '../cpu/sparse-forward';
import { ceilDiv } from '../util/math';
import type { GpuContext } from './device';
import type { CostedDescriptor } from './dispatch';
import { KernelError } from './program';
import { withSparseCommon } from './shared-wgsl';
import { SPARSE_PARAMS_BYTES, sparseLayerText, type SparseShape } from './sparse-kernels';
import { tunedVariant, type Tuning } from './tuning';

export const SPARSE_UNROLLED = 'sparse_unrolled';

/** The geometries test/gpu/sparse.test.ts checks against the reference: the default first. */
export const SPARSE_UNROLLED_GEOMETRIES: readonly { WG: number }[] = [{ WG: 64 }, { WG: 16 }];

const F32 = 4;
const BIAS_BINDING = 3;
const GENERATED = "  // GENERATED: the sample's inputs into a private row; per block of outputs their accumulators, products and stores.\n";

/** The part of a CSR layer the program is generated from (the bias stays a binding). */
export type UnrolledLayer = Pick<CsrLayer, 'inSize' | 'outSize' | 'indptr' | 'indices' | 'values'>;

/** Smallest normal f32: a subnormal constant may be flushed to zero. */
const MIN_NORMAL_F32 = 2 ** -126;

/**
 * Most nonzeros a layer may have to be unrolled: the program grows with them, and so does its
 * compile time (BENCHMARKS.md, "pruned inference at batch 10 000").
 */
export const UNROLLED_MAX_NONZEROS = 8192;

/** Most inputs a layer may have to be unrolled: the program keeps a sample's inputs in a private row of 4 bytes each, 8 KiB at most. */
export const UNROLLED_MAX_INPUTS = 2048;

/**
 * What sparse_unrolled costs per nonzero and sample, in multiply-adds of the full-tile matmul
 * (`Tuning.costs`): on the seed network's 90→93 layer at 35% kept it ran in 0.5–0.66 of the
 * matmul's time on 2.9k of its 8.4k (padded 8.9k) multiply-adds; with the private row, the plan
 * it gives the seed network ran within 5% of the best forced plan, and `tune` measured 2.7–3.6
 * (BENCHMARKS.md, "sparse_unrolled compiles in seconds"). Not in `DEFAULT_TUNING`, whose
 * costs every tuned kernel shares: the hybrid engine adds it where it may run the kernel
 * (`HybridInferenceOptions.unrolled`).
 */
export const UNROLLED_COST = 2;

/** `costs` with sparse_unrolled at `UNROLLED_COST` unless they have a measured cost for it: what the hybrid engine prices. */
export function withUnrolledCost(costs: Tuning['costs']): Tuning['costs'] {
  return { [SPARSE_UNROLLED]: UNROLLED_COST, ...costs };
}

/** Whether every weight can be written into the program and read back as it is: finite, and zero or normal. */
function canUnroll({ values }: UnrolledLayer): boolean {
  return values.every((w) => Number.isFinite(w) && (w === 0 || Math.abs(w) >= MIN_NORMAL_F32));
}

/**
 * Whether sparse_unrolled may run this layer: 1 to `UNROLLED_MAX_NONZEROS` weights, every one
 * writable into the program, and at most `UNROLLED_MAX_INPUTS` inputs. A layer without weights
 * reads no input, so its program would not bind one; the looped kernels run it.
 */
export function unrollable(layer: UnrolledLayer): boolean {
  return layer.values.length >= 1 && layer.values.length <= UNROLLED_MAX_NONZEROS && layer.inSize <= UNROLLED_MAX_INPUTS && canUnroll(layer);
}

/**
 * A float32 value as a WGSL f32 literal: JavaScript's shortest decimal for the value as a double,
 * which is the float32 value exactly, so the literal reads back to it and never past the f32
 * range (9 significant digits would round the largest float32 up, out of range). A constant
 * written by its bits, bitcast<f32>(0x…u), compiled 60× slower on lavapipe.
 */
function f32Literal(w: number): string {
  return Object.is(w, -0) ? '-0.0f' : `${String(w)}f`;
}

/** FNV-1a over the text: distinct programs get distinct pipeline-cache keys. */
function digest(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return (h >>> 0).toString(16).padStart(8, '0');
}

/**
 * Outputs per block of the program. A block's accumulators stay in registers while it walks the
 * inputs; all of a layer's at once spilled, and lavapipe compiled the long spilling block for
 * minutes (BENCHMARKS.md, "sparse_unrolled compiles in seconds").
 */
const OUTPUTS_PER_BLOCK = 16;

/**
 * The body of main for one layer: the sample's inputs copied into a private row by a loop (a
 * load written once in the program, where one per used input made the compile take minutes),
 * then per block of `OUTPUTS_PER_BLOCK` outputs an accumulator each, for each input that feeds
 * the block in ascending order its products (so every output sums in its CSR row's order), and
 * the stores of the samples inside the batch.
 */
export function unrolledBody({ inSize, outSize, indptr, indices, values }: UnrolledLayer): string {
  const lines = [`  var row: array<f32, ${inSize}>;`, '  for (var i = 0u; i < params.in_size; i++) {', '    row[i] = x[xs + i * fs];', '  }'];
  for (let first = 0; first < outSize; first += OUTPUTS_PER_BLOCK) {
    const end = Math.min(outSize, first + OUTPUTS_PER_BLOCK);
    const byInput: string[][] = Array.from({ length: inSize }, () => []);
    for (let o = first; o < end; o++) {
      for (let k = indptr[o]!; k < indptr[o + 1]!; k++) byInput[indices[k]!]!.push(` a${o} += ${f32Literal(values[k]!)} * v;`);
    }
    lines.push('  {');
    for (let o = first; o < end; o++) lines.push(`    var a${o} = 0.0;`);
    byInput.forEach((products, i) => {
      if (products.length > 0) lines.push(`    { let v = row[${i}];${products.join('')} }`);
    });
    // store (shaders/sparse_common.wgsl) writes nothing for an invocation past the batch.
    for (let o = first; o < end; o++) lines.push(`    store(${o}u, gid.x, a${o});`);
    lines.push('  }');
  }
  return lines.join('\n') + '\n';
}

/** x, y, params, bias (see the shader's header). */
function bindingBytes({ batch, inSize, outSize, bias }: SparseShape): number[] {
  return [batch * inSize * F32, batch * outSize * F32, SPARSE_PARAMS_BYTES, bias ? outSize * F32 : F32];
}

/** The descriptor of sparse_unrolled for one layer: WG samples per workgroup, one per invocation. */
export function unrolledSparseKernel(layer: UnrolledLayer, geometry: { WG: number } = SPARSE_UNROLLED_GEOMETRIES[0]!): CostedDescriptor<SparseShape, { WG: number }> {
  if (!canUnroll(layer)) throw new KernelError(`${SPARSE_UNROLLED}: a weight is not finite or is subnormal, so it cannot be written into the program`);
  if (layer.values.length === 0) throw new KernelError(`${SPARSE_UNROLLED}: the layer keeps no weight, so the program would read no input`);
  if (layer.inSize > UNROLLED_MAX_INPUTS) throw new KernelError(`${SPARSE_UNROLLED}: the layer has ${layer.inSize} inputs, more than the ${UNROLLED_MAX_INPUTS} its program can hold per sample`);
  if (!sparseUnrolledSource.includes(GENERATED)) throw new KernelError(`${SPARSE_UNROLLED}: the shader has lost its GENERATED line`);
  const source = withSparseCommon(sparseUnrolledSource.replace(GENERATED, unrolledBody(layer)));
  return {
    name: SPARSE_UNROLLED,
    programId: digest(source),
    source,
    geometry,
    ...sparseLayerText,
    workgroups: ({ batch }, g) => [ceilDiv(batch, g.WG), 1, 1],
    bindingBytes,
    unreadBindings: ({ bias }) => (bias ? [] : [BIAS_BINDING]),
    costBlock: (g) => [g.WG, 1],
  };
}

/** sparse_unrolled for one layer in the geometry the device's tuning picks (one of `SPARSE_UNROLLED_GEOMETRIES`). */
export function unrolledKernelFor(ctx: GpuContext, layer: UnrolledLayer): CostedDescriptor<SparseShape, { WG: number }> {
  const { geometry } = tunedVariant(ctx.tuning, SPARSE_UNROLLED_GEOMETRIES.map((g) => ({ name: SPARSE_UNROLLED, geometry: g })));
  return unrolledSparseKernel(layer, { WG: geometry.WG! });
}
