/**
 * sparse_unrolled (shaders/sparse_unrolled.wgsl): one CSR layer written into the program, one
 * invocation per sample. Each input is loaded once per sample into a private row and multiplied
 * from there into every output that keeps a weight from it, where the other CSR kernels gather
 * the input, an index and a weight once per nonzero. Two forms: inference writes the weights into
 * the program as constants (`unrolledSparseKernel`); training, whose weights change every step
 * under a final mask, writes only the structure and reads the kept weights from the trainer's
 * dense buffer through workgroup memory (`unrolledTrainingForward`). The descriptor is made per
 * layer; its `programId` is a digest of the generated program, so the pipeline cache tells
 * layers apart.
 * JS reference: csrForward in src/cpu/sparse-forward.ts.
 */
import sparseUnrolledSource from '../../shaders/sparse_unrolled.wgsl';
import type { CsrLayer } from '../cpu/sparse-forward';
import { ceilDiv } from '../util/math';
import type { GpuContext } from './device';
import type { CostedDescriptor, KernelDescriptor } from './dispatch';
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
const GENERATED_BINDINGS = '// GENERATED: the weight buffer\'s bindings and workgroup copy, with weights from a buffer.\n';

/** The structure of a CSR layer: what the program is generated from when its weights come from a buffer. */
export interface UnrolledStructure {
  inSize: number;
  outSize: number;
  /** [outSize + 1]: output o's entries are indptr[o] .. indptr[o + 1]. */
  indptr: ArrayLike<number>;
  /** [nonzeros]: the input of each entry, ascending within an output. */
  indices: ArrayLike<number>;
}

/** The part of a CSR layer the program is generated from with its weights as constants (the bias stays a binding). */
export type UnrolledLayer = UnrolledStructure & Pick<CsrLayer, 'values'>;

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
  return unrollableStructure(layer) && canUnroll(layer);
}

/** Whether a layer's structure fits the program: 1 to `UNROLLED_MAX_NONZEROS` weights and at most `UNROLLED_MAX_INPUTS` inputs. */
function unrollableStructure(structure: UnrolledStructure): boolean {
  const nonzeros = nonzerosOf(structure);
  return nonzeros >= 1 && nonzeros <= UNROLLED_MAX_NONZEROS && structure.inSize <= UNROLLED_MAX_INPUTS;
}

const nonzerosOf = ({ indptr, outSize }: UnrolledStructure): number => indptr[outSize]!;

/**
 * Whether the training form may run a pruned layer on this device: its structure fits the
 * program (`unrollable`), and its kept weights fit the workgroup memory they are copied into.
 */
export function unrollableForTraining(ctx: GpuContext, structure: UnrolledStructure): boolean {
  return unrollableStructure(structure) && nonzerosOf(structure) * F32 <= ctx.device.limits.maxComputeWorkgroupStorageSize;
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

/** A product of the program: the weight of CSR entry k times its input, into output o. */
interface Product {
  k: number;
  o: number;
}

/** One block of outputs of the program: for each input that feeds it, in ascending order, its products. */
interface ProgramBlock {
  first: number;
  end: number;
  inputs: { input: number; products: Product[] }[];
}

/**
 * The products of a layer in the order its program computes them: per block of
 * `OUTPUTS_PER_BLOCK` outputs, by input ascending, then by output (so every output sums in its
 * CSR row's order).
 */
function programBlocks({ inSize, outSize, indptr, indices }: UnrolledStructure): ProgramBlock[] {
  const blocks: ProgramBlock[] = [];
  for (let first = 0; first < outSize; first += OUTPUTS_PER_BLOCK) {
    const end = Math.min(outSize, first + OUTPUTS_PER_BLOCK);
    const byInput: Product[][] = Array.from({ length: inSize }, () => []);
    for (let o = first; o < end; o++) {
      for (let k = indptr[o]!; k < indptr[o + 1]!; k++) byInput[indices[k]!]!.push({ k, o });
    }
    blocks.push({ first, end, inputs: byInput.flatMap((products, input) => (products.length > 0 ? [{ input, products }] : [])) });
  }
  return blocks;
}

/**
 * The body of main for one layer: the sample's inputs copied into a private row by a loop (a
 * load written once in the program, where one per used input made the compile take minutes),
 * then per block of outputs (`programBlocks`) an accumulator each, the products, and the stores
 * of the samples inside the batch. `weight(product, n)` writes the weight of the program's n-th
 * product.
 */
function unrolledBody(structure: UnrolledStructure, weight: (product: Product, n: number) => string): string {
  const lines = [`  var row: array<f32, ${structure.inSize}>;`, '  for (var i = 0u; i < params.in_size; i++) {', '    row[i] = x[xs + i * fs];', '  }'];
  let n = 0;
  for (const { first, end, inputs } of programBlocks(structure)) {
    lines.push('  {');
    for (let o = first; o < end; o++) lines.push(`    var a${o} = 0.0;`);
    for (const { input, products } of inputs) {
      lines.push(`    { let v = row[${input}];${products.map((p) => ` a${p.o} += ${weight(p, n++)} * v;`).join('')} }`);
    }
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

/** The shader with its GENERATED lines replaced: the weight buffer's declarations (or none) and the body of main. */
function generatedSource(declarations: string, body: string): string {
  if (!sparseUnrolledSource.includes(GENERATED) || !sparseUnrolledSource.includes(GENERATED_BINDINGS)) {
    throw new KernelError(`${SPARSE_UNROLLED}: the shader has lost a GENERATED line`);
  }
  return withSparseCommon(sparseUnrolledSource.replace(GENERATED_BINDINGS, declarations).replace(GENERATED, body));
}

/** What both forms' descriptors share, for the program `source`. */
function unrolledDescriptor(source: string, geometry: { WG: number }) {
  return {
    name: SPARSE_UNROLLED,
    programId: digest(source),
    source,
    geometry,
    ...sparseLayerText,
    workgroups: ({ batch }: SparseShape, g: { WG: number }): [number, number, number] => [ceilDiv(batch, g.WG), 1, 1],
    unreadBindings: ({ bias }: SparseShape) => (bias ? [] : [BIAS_BINDING]),
  };
}

/** The descriptor of sparse_unrolled for one layer, its weights written into the program: WG samples per workgroup, one per invocation. */
export function unrolledSparseKernel(layer: UnrolledLayer, geometry: { WG: number } = SPARSE_UNROLLED_GEOMETRIES[0]!): CostedDescriptor<SparseShape, { WG: number }> {
  if (!canUnroll(layer)) throw new KernelError(`${SPARSE_UNROLLED}: a weight is not finite or is subnormal, so it cannot be written into the program`);
  checkStructure(layer);
  const source = generatedSource('', unrolledBody(layer, ({ k }) => f32Literal(layer.values[k]!)));
  return { ...unrolledDescriptor(source, geometry), bindingBytes, costBlock: (g) => [g.WG, 1] };
}

/** Throws for a structure no program can be generated for: no weight (it would read no input), or too many inputs for the private row. */
function checkStructure(structure: UnrolledStructure): void {
  const { inSize } = structure;
  if (nonzerosOf(structure) === 0) throw new KernelError(`${SPARSE_UNROLLED}: the layer keeps no weight, so the program would read no input`);
  if (inSize > UNROLLED_MAX_INPUTS) throw new KernelError(`${SPARSE_UNROLLED}: the layer has ${inSize} inputs, more than the ${UNROLLED_MAX_INPUTS} its program can hold per sample`);
}

/**
 * The training form of sparse_unrolled for one pruned layer (see the shader's header): the
 * descriptor, whose extra bindings are the dense weights [inSize, outSize] and `kept`, the
 * weights' indices into them in the program's order, which the caller uploads. The program
 * depends on the structure only, so it serves the layer for as long as its mask stays.
 */
export function unrolledTrainingForward(structure: UnrolledStructure, geometry: { WG: number } = SPARSE_UNROLLED_GEOMETRIES[0]!): { descriptor: KernelDescriptor<SparseShape, { WG: number }>; kept: Uint32Array } {
  checkStructure(structure);
  const { inSize, outSize, indices } = structure;
  const nonzeros = nonzerosOf(structure);
  const kept = new Uint32Array(nonzeros);
  const body = unrolledBody(structure, ({ k, o }, n) => {
    kept[n] = indices[k]! * outSize + o;
    return `wk[${n}]`;
  });
  const declarations = [
    '@group(0) @binding(4) var<storage, read> w: array<f32>;',
    '@group(0) @binding(5) var<storage, read> kept: array<u32>;',
    `var<workgroup> wk: array<f32, ${nonzeros}>;`,
  ].join('\n');
  const copy = [`  for (var n = lid; n < ${nonzeros}u; n += WG) {`, '    wk[n] = w[kept[n]];', '  }', '  workgroupBarrier();'].join('\n');
  const source = generatedSource(`${declarations}\n`, `${copy}\n${body}`);
  const descriptor: KernelDescriptor<SparseShape, { WG: number }> = {
    ...unrolledDescriptor(source, geometry),
    bindingBytes: (shape) => [...bindingBytes(shape), inSize * outSize * F32, nonzeros * 4],
  };
  return { descriptor, kept };
}

/** sparse_unrolled's geometry on this device: the tuning's pick among `SPARSE_UNROLLED_GEOMETRIES`. */
function tunedGeometry(ctx: GpuContext): { WG: number } {
  const { geometry } = tunedVariant(ctx.tuning, SPARSE_UNROLLED_GEOMETRIES.map((g) => ({ name: SPARSE_UNROLLED, geometry: g })));
  return { WG: geometry.WG! };
}

/** sparse_unrolled for one layer in the geometry the device's tuning picks. */
export function unrolledKernelFor(ctx: GpuContext, layer: UnrolledLayer): CostedDescriptor<SparseShape, { WG: number }> {
  return unrolledSparseKernel(layer, tunedGeometry(ctx));
}

/** The training form for one pruned layer in the geometry the device's tuning picks. */
export function unrolledTrainingForwardFor(ctx: GpuContext, structure: UnrolledStructure): ReturnType<typeof unrolledTrainingForward> {
  return unrolledTrainingForward(structure, tunedGeometry(ctx));
}
