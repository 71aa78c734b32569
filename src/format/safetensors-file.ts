/**
 * The safetensors container (https://github.com/huggingface/safetensors), whatever the tensors
 * mean: an 8-byte little-endian header length, a JSON header padded with spaces to a multiple
 * of 8, then the raw little-endian tensors back to back, tiling the data section exactly as
 * Python's reader requires. The network layouts on top of it are in safetensors.ts (ours) and
 * torch-layout.ts (PyTorch's `nn.Sequential`).
 */
import { UserError } from '../util/errors';
import { printable } from '../util/format';

export type Dtype = 'F32' | 'I32' | 'U8';

export const DTYPE_BYTES: Record<Dtype, number> = { F32: 4, I32: 4, U8: 1 };

export interface TensorToWrite {
  name: string;
  dtype: Dtype;
  shape: number[];
  data: Float32Array | Int32Array | Uint8Array;
}

/** A tensor as the header describes it, checked against the data section. */
export interface TensorEntry {
  name: string;
  dtype: Dtype;
  shape: number[];
  begin: number;
  end: number;
}

/** Throws the one-line `UserError` for a problem of the file. */
export type Fail = (problem: string) => never;

export interface SafetensorsFile {
  /** The header's `__metadata__` as it was, not yet checked (undefined when there is none). */
  metadata: unknown;
  /** Every other header entry, checked for dtype, shape, offsets and contiguity; nothing read yet. */
  tensors: Map<string, TensorEntry>;
  /** Copies a tensor's data out of the file. */
  read(t: TensorEntry): Float32Array | Int32Array | Uint8Array;
  /** Size of the whole file, for the bounds on what it may declare. */
  fileBytes: number;
  fail: Fail;
}

export function encodeSafetensorsFile(metadata: Record<string, string>, tensors: TensorToWrite[]): Uint8Array {
  // Four-byte tensors first, so each of them starts 4-byte aligned in the file and can be
  // viewed in place; the byte masks go last.
  const ordered = [...tensors].sort((a, b) => DTYPE_BYTES[b.dtype] - DTYPE_BYTES[a.dtype] || compareNames(a.name, b.name));
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const t of ordered) {
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
  for (const t of ordered) {
    for (let k = 0; k < t.data.length; k++, at += DTYPE_BYTES[t.dtype]) {
      if (t.dtype === 'F32') view.setFloat32(at, t.data[k]!, true);
      else if (t.dtype === 'I32') view.setInt32(at, t.data[k]!, true);
      else view.setUint8(at, t.data[k]!);
    }
  }
  return bytes;
}

/** Reads and checks the container; the tensors' meaning is the caller's. */
export function parseSafetensorsFile(bytes: Uint8Array, fileName: string): SafetensorsFile {
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
  const dataStart = 8 + headerLength;
  const dataLength = bytes.length - dataStart;
  const tensors = new Map<string, TensorEntry>();
  for (const [name, value] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') continue;
    tensors.set(name, readTensorEntry(name, value, dataLength, fail));
  }
  checkContiguous([...tensors.values()], dataLength, fail);
  return {
    metadata: (header as Record<string, unknown>)['__metadata__'],
    tensors,
    read: (t) => readData(bytes, dataStart + t.begin, t.dtype, elementCount(t.shape)),
    fileBytes: bytes.length,
    fail,
  };
}

/** `__metadata__` as the format defines it: an object of strings. */
export function readMetadata(value: unknown, fail: Fail): Record<string, string> {
  if (!isPlainObject(value)) fail('__metadata__ is not a JSON object');
  const metadata: Record<string, string> = {};
  for (const [key, entry] of Object.entries(value as Record<string, unknown>)) {
    if (typeof entry !== 'string') fail(`__metadata__ entry "${key}" is not a string`);
    metadata[key] = entry as string;
  }
  return metadata;
}

/** The tensor's dtype and shape must be these. */
export function expectTensor(t: TensorEntry, dtype: Dtype, shape: number[], fail: Fail, context = ''): TensorEntry {
  if (t.dtype !== dtype) fail(`tensor ${t.name} has dtype ${t.dtype}, expected ${dtype}`);
  if (t.shape.length !== shape.length || t.shape.some((n, k) => n !== shape[k])) {
    fail(`tensor ${t.name} has shape [${t.shape.join(', ')}], expected [${shape.join(', ')}]${context}`);
  }
  return t;
}

export function checkFinite(values: Float32Array, name: string, fail: Fail): void {
  const bad = values.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) fail(`tensor ${name} has non-finite value ${values[bad]} at element ${bad}`);
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
  return { name, dtype: dtype as Dtype, shape: shape as number[], begin, end };
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
