/**
 * Networks as safetensors (https://github.com/huggingface/safetensors): an 8-byte little-endian
 * header length, a JSON header padded with spaces to a multiple of 8, then the raw little-endian
 * tensors back to back. Python reads our files with `safetensors.numpy.load_file`.
 *
 * Per layer l, one of
 *   dense: `layers.{l}.weight` F32 [in, out], plus `layers.{l}.mask` U8 [in, out] (1 = kept)
 *          when any weight of the layer is pruned;
 *   CSR by output neuron (see src/model/csr.ts): `layers.{l}.indptr` I32 [out + 1],
 *          `layers.{l}.indices` I32 [nnz] (input neuron), `layers.{l}.values` F32 [nnz].
 * `__metadata__` holds `format: "webgpu-prune"`, `sizes: "784,100,100,10"` and whatever the
 * caller adds (recipe, sparsity, scores), all strings as the format requires.
 */
import { csrProblem, fromCsrByOutput, toCsrByOutput } from '../model/csr';
import type { Network } from '../model/network';
import { UserError } from '../util/errors';
import { printable } from '../util/format';
import { declaredSizesProblem } from './file-limits';

export type SafetensorsLayout = 'dense' | 'csr' | 'auto';

export interface EncodeSafetensorsOptions {
  /** `auto` (default) stores a layer as CSR when fewer than half of its weights are kept. */
  layout?: SafetensorsLayout;
  /** Extra `__metadata__` entries; `format` and `sizes` are ours. */
  metadata?: Record<string, string>;
  /** State that travels with the network (a checkpoint's velocities): names start with `train.`. */
  trainingTensors?: TensorToWrite[];
}

export interface DecodedSafetensors {
  net: Network;
  metadata: Record<string, string>;
  /** The `train.*` tensors, by name (empty for a plain network file). */
  trainingTensors: Map<string, Float32Array | Int32Array | Uint8Array>;
}

/** Tensors under this prefix are training state beside the network, not part of it. */
export const TRAINING_TENSOR_PREFIX = 'train.';

export const SAFETENSORS_FORMAT_NAME = 'webgpu-prune';

type Dtype = 'F32' | 'I32' | 'U8';

const DTYPE_BYTES: Record<Dtype, number> = { F32: 4, I32: 4, U8: 1 };

export interface TensorToWrite {
  name: string;
  dtype: Dtype;
  shape: number[];
  data: Float32Array | Int32Array | Uint8Array;
}

export function encodeSafetensors(net: Network, options: EncodeSafetensorsOptions = {}): Uint8Array {
  const layout = options.layout ?? 'auto';
  const extra = options.metadata ?? {};
  for (const reserved of ['format', 'sizes']) {
    if (reserved in extra) throw new Error(`metadata key "${reserved}" is reserved for the file format`);
  }
  const tensors: TensorToWrite[] = [];
  for (const t of options.trainingTensors ?? []) {
    if (!t.name.startsWith(TRAINING_TENSOR_PREFIX)) throw new Error(`training tensor ${t.name} must be named ${TRAINING_TENSOR_PREFIX}*`);
    tensors.push(t);
  }
  net.weights.forEach((weights, l) => {
    const inSize = net.sizes[l]!;
    const outSize = net.sizes[l + 1]!;
    const mask = net.masks[l]!;
    let kept = 0;
    for (let k = 0; k < mask.length; k++) kept += mask[k]!;
    const csr = layout === 'csr' || (layout === 'auto' && kept * 2 < mask.length);
    if (csr) {
      const { indptr, indices, values } = toCsrByOutput(weights, mask, inSize, outSize);
      tensors.push({ name: `layers.${l}.indptr`, dtype: 'I32', shape: [outSize + 1], data: indptr });
      tensors.push({ name: `layers.${l}.indices`, dtype: 'I32', shape: [indices.length], data: indices });
      tensors.push({ name: `layers.${l}.values`, dtype: 'F32', shape: [values.length], data: values });
    } else {
      tensors.push({ name: `layers.${l}.weight`, dtype: 'F32', shape: [inSize, outSize], data: weights });
      if (kept < mask.length) tensors.push({ name: `layers.${l}.mask`, dtype: 'U8', shape: [inSize, outSize], data: mask });
    }
  });
  // Four-byte tensors first, so each of them starts 4-byte aligned in the file and can be
  // viewed in place; the byte masks go last.
  tensors.sort((a, b) => DTYPE_BYTES[b.dtype] - DTYPE_BYTES[a.dtype] || compareNames(a.name, b.name));

  const header: Record<string, unknown> = {
    __metadata__: { format: SAFETENSORS_FORMAT_NAME, sizes: net.sizes.join(','), ...extra },
  };
  let offset = 0;
  for (const t of tensors) {
    const size = t.data.length * DTYPE_BYTES[t.dtype];
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + size] };
    offset += size;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const headerLength = Math.ceil(json.length / 8) * 8;
  const bytes = new Uint8Array(8 + headerLength + offset);
  const view = new DataView(bytes.buffer);
  view.setBigUint64(0, BigInt(headerLength), true);
  bytes.set(json, 8);
  bytes.fill(0x20, 8 + json.length, 8 + headerLength);
  let at = 8 + headerLength;
  for (const t of tensors) {
    for (let k = 0; k < t.data.length; k++, at += DTYPE_BYTES[t.dtype]) {
      if (t.dtype === 'F32') view.setFloat32(at, t.data[k]!, true);
      else if (t.dtype === 'I32') view.setInt32(at, t.data[k]!, true);
      else view.setUint8(at, t.data[k]!);
    }
  }
  return bytes;
}

interface TensorEntry {
  name: string;
  dtype: string;
  shape: number[];
  begin: number;
  end: number;
}

/** Reads and checks a file written by `encodeSafetensors` (or by Python in the same layout). */
export function decodeSafetensors(bytes: Uint8Array, fileName: string): DecodedSafetensors {
  // Tensor names, metadata and the JSON parser's messages quote the file: escaped for the terminal.
  const fail = (problem: string): never => {
    throw new UserError(printable(`${fileName}: ${problem}`));
  };
  if (bytes.length < 8) fail(`${bytes.length} bytes, too short for a safetensors file`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const declaredLength = view.getBigUint64(0, true);
  if (declaredLength > BigInt(bytes.length - 8)) {
    fail(`safetensors header length ${declaredLength} is larger than the ${bytes.length - 8} bytes after it`);
  }
  const headerLength = Number(declaredLength);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLength)));
  } catch (error) {
    fail(`safetensors header is not valid JSON (${(error as Error).message})`);
  }
  if (!isPlainObject(header)) fail('safetensors header is not a JSON object');
  const entries = header as Record<string, unknown>;
  const dataStart = 8 + headerLength;
  const dataLength = bytes.length - dataStart;

  const metadata = readMetadata(entries['__metadata__'], fail);
  const sizes = readSizes(metadata, bytes.length, fail);

  const tensors = new Map<string, TensorEntry>();
  for (const [name, value] of Object.entries(entries)) {
    if (name === '__metadata__') continue;
    tensors.set(name, readTensorEntry(name, value, dataLength, fail));
  }
  checkContiguous([...tensors.values()], dataLength, fail);

  // Every tensor is checked against the sizes before anything is allocated.
  const layers = sizes.slice(1).map((outSize, l) => planLayer(l, sizes[l]!, outSize, tensors, sizes, fail));
  const used = new Set(layers.flatMap((layer) => Object.values(layer).map((t) => t.name)));
  for (const name of tensors.keys()) {
    if (!used.has(name) && !name.startsWith(TRAINING_TENSOR_PREFIX)) fail(`unexpected tensor ${name} for sizes ${sizes.join(',')}`);
  }

  const read = (t: TensorEntry) => readData(bytes, dataStart + t.begin, t.dtype as Dtype, elementCount(t.shape));
  const net: Network = { sizes, weights: [], masks: [] };
  layers.forEach((layer, l) => {
    const inSize = sizes[l]!;
    const outSize = sizes[l + 1]!;
    if ('weight' in layer) {
      const weights = read(layer.weight) as Float32Array;
      checkFinite(weights, layer.weight.name, fail);
      const mask = layer.mask ? (read(layer.mask) as Uint8Array) : new Uint8Array(weights.length).fill(1);
      if (layer.mask) {
        const bad = mask.findIndex((m) => m > 1);
        if (bad >= 0) fail(`tensor ${layer.mask.name} has value ${mask[bad]} at element ${bad}; a mask holds 0 or 1`);
        // A weight edited under a 0 in the mask stays pruned: the mask is the truth.
        for (let k = 0; k < mask.length; k++) if (mask[k] === 0) weights[k] = 0;
      }
      net.weights.push(weights);
      net.masks.push(mask);
    } else {
      const csr = {
        indptr: read(layer.indptr) as Int32Array,
        indices: read(layer.indices) as Int32Array,
        values: read(layer.values) as Float32Array,
      };
      const problem = csrProblem(csr, inSize, outSize);
      if (problem) fail(`layer ${l} CSR tensors ${layer.indptr.name}/${layer.indices.name}: ${problem}`);
      checkFinite(csr.values, layer.values.name, fail);
      const { weights, mask } = fromCsrByOutput(csr, inSize, outSize);
      net.weights.push(weights);
      net.masks.push(mask);
    }
  });
  const trainingTensors = new Map<string, Float32Array | Int32Array | Uint8Array>();
  for (const [name, t] of tensors) if (!used.has(name)) trainingTensors.set(name, read(t));
  return { net, metadata, trainingTensors };
}

type LayerTensors = { weight: TensorEntry; mask?: TensorEntry } | { indptr: TensorEntry; indices: TensorEntry; values: TensorEntry };

/** The tensors of layer l, each checked for its dtype and the shape the sizes imply. */
function planLayer(
  l: number,
  inSize: number,
  outSize: number,
  tensors: Map<string, TensorEntry>,
  sizes: number[],
  fail: Fail,
): LayerTensors {
  const expect = (name: string, dtype: Dtype, shape: number[]): TensorEntry => {
    const t = tensors.get(name)!;
    if (t.dtype !== dtype) fail(`tensor ${name} has dtype ${t.dtype}, expected ${dtype}`);
    if (t.shape.length !== shape.length || t.shape.some((n, k) => n !== shape[k])) {
      fail(`tensor ${name} has shape [${t.shape.join(', ')}], expected [${shape.join(', ')}] for sizes ${sizes.join(',')}`);
    }
    return t;
  };
  const names = {
    weight: `layers.${l}.weight`,
    mask: `layers.${l}.mask`,
    indptr: `layers.${l}.indptr`,
    indices: `layers.${l}.indices`,
    values: `layers.${l}.values`,
  };
  const dense = tensors.has(names.weight);
  const csrNames = [names.indptr, names.indices, names.values];
  const csrPresent = csrNames.filter((n) => tensors.has(n));
  if (dense && csrPresent.length > 0) fail(`layer ${l} has both ${names.weight} and ${csrPresent[0]}`);
  if (!dense && csrPresent.length === 0) {
    fail(`layer ${l} has no weights: expected ${names.weight} or ${csrNames.join(', ')}`);
  }
  if (dense) {
    const weight = expect(names.weight, 'F32', [inSize, outSize]);
    return tensors.has(names.mask) ? { weight, mask: expect(names.mask, 'U8', [inSize, outSize]) } : { weight };
  }
  const missing = csrNames.find((n) => !tensors.has(n));
  if (missing) fail(`layer ${l} is CSR but ${missing} is missing`);
  const nnz = tensors.get(names.indices)!.shape[0] ?? -1;
  return {
    indptr: expect(names.indptr, 'I32', [outSize + 1]),
    indices: expect(names.indices, 'I32', [nnz]),
    values: expect(names.values, 'F32', [nnz]),
  };
}

type Fail = (problem: string) => never;

function readMetadata(value: unknown, fail: Fail): Record<string, string> {
  if (value === undefined) fail('safetensors header has no __metadata__; it is not a webgpu-prune network');
  if (!isPlainObject(value)) fail('__metadata__ is not a JSON object');
  const metadata: Record<string, string> = {};
  for (const [key, entry] of Object.entries(value as Record<string, unknown>)) {
    if (typeof entry !== 'string') fail(`__metadata__ entry "${key}" is not a string`);
    metadata[key] = entry as string;
  }
  return metadata;
}

function readSizes(metadata: Record<string, string>, fileBytes: number, fail: Fail): number[] {
  const text = metadata['sizes'];
  if (text === undefined) fail('__metadata__ has no "sizes" entry; it is not a webgpu-prune network');
  const fields = text!.split(',');
  if (!fields.every((f) => /^\d+$/.test(f))) fail(`__metadata__ sizes "${text}" is not a list like 784,100,100,10`);
  const sizes = fields.map(Number);
  const problem = declaredSizesProblem(sizes, fileBytes);
  if (problem) fail(`__metadata__ sizes "${text}": ${problem}`);
  return sizes;
}

function readTensorEntry(name: string, value: unknown, dataLength: number, fail: Fail): TensorEntry {
  if (!isPlainObject(value)) fail(`tensor ${name}: header entry is not a JSON object`);
  const { dtype, shape, data_offsets: offsets } = value as Record<string, unknown>;
  if (typeof dtype !== 'string' || !(dtype in DTYPE_BYTES)) {
    fail(`tensor ${name} has dtype ${JSON.stringify(dtype)}; expected F32, I32 or U8`);
  }
  if (!Array.isArray(shape) || !shape.every(isCount)) fail(`tensor ${name}: shape is not a list of non-negative integers`);
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount)) {
    fail(`tensor ${name}: data_offsets is not [begin, end]`);
  }
  const [begin, end] = offsets as [number, number];
  if (begin > end || end > dataLength) {
    fail(`tensor ${name}: data_offsets [${begin}, ${end}] lie outside the ${dataLength} data bytes`);
  }
  const elements = elementCount(shape as number[]);
  const expectedBytes = elements * DTYPE_BYTES[dtype as Dtype];
  if (end - begin !== expectedBytes) {
    fail(`tensor ${name}: ${dtype} shape [${(shape as number[]).join(', ')}] needs ${expectedBytes} bytes, data_offsets hold ${end - begin}`);
  }
  return { name, dtype: dtype as string, shape: shape as number[], begin, end };
}

/** The tensors must tile the data section exactly, as Python's safetensors requires. */
function checkContiguous(tensors: TensorEntry[], dataLength: number, fail: Fail): void {
  const ordered = [...tensors].sort((a, b) => a.begin - b.begin || a.end - b.end);
  ordered.forEach((t, k) => {
    const previous = ordered[k - 1];
    if (previous && t.begin < previous.end) fail(`tensor ${t.name} overlaps tensor ${previous.name}`);
  });
  let previous: TensorEntry | undefined;
  for (const t of ordered) {
    const expectedBegin = previous?.end ?? 0;
    if (t.begin > expectedBegin) fail(`${t.begin - expectedBegin} unused data bytes before tensor ${t.name}`);
    previous = t;
  }
  const covered = previous?.end ?? 0;
  if (covered < dataLength) fail(`${dataLength - covered} trailing bytes after the last tensor`);
}

function readData(bytes: Uint8Array, at: number, dtype: Dtype, count: number): Float32Array | Int32Array | Uint8Array {
  if (dtype === 'U8') return new Uint8Array(bytes.subarray(at, at + count));
  const view = new DataView(bytes.buffer, bytes.byteOffset + at, count * 4);
  if (dtype === 'F32') {
    const out = new Float32Array(count);
    for (let k = 0; k < count; k++) out[k] = view.getFloat32(4 * k, true);
    return out;
  }
  const out = new Int32Array(count);
  for (let k = 0; k < count; k++) out[k] = view.getInt32(4 * k, true);
  return out;
}

function elementCount(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function checkFinite(values: Float32Array, name: string, fail: Fail): void {
  const bad = values.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) fail(`tensor ${name} has non-finite value ${values[bad]} at element ${bad}`);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/** Orders `layers.10.x` after `layers.9.x`. */
function compareNames(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}
