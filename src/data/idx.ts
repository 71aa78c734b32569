import { UserError } from '../util/errors';

/**
 * The IDX files of MNIST (http://yann.lecun.com/exdb/mnist/): a big-endian header (two zero
 * bytes, a data-type byte, a dimension count, one u32 per dimension) followed by the data.
 * Only unsigned bytes (type 0x08) occur in MNIST, so only those are accepted.
 */

export interface IdxImages {
  count: number;
  rows: number;
  cols: number;
  /** `[count, rows, cols]` row-major, one byte per pixel (a view into the file's bytes). */
  pixels: Uint8Array;
}

export interface IdxLabels {
  count: number;
  /** One byte per sample (a view into the file's bytes). */
  labels: Uint8Array;
}

const UNSIGNED_BYTE = 0x08;

/** The longest IDX header: 255 dimensions. */
export const IDX_MAX_HEADER_BYTES = 4 + 4 * 255;

const TYPE_NAMES = new Map<number, string>([
  [0x08, 'unsigned byte'],
  [0x09, 'signed byte'],
  [0x0b, 'short'],
  [0x0c, 'int'],
  [0x0d, 'float'],
  [0x0e, 'double'],
]);

/** Parses an images file (magic 0x00000803: count × rows × cols unsigned bytes). */
export function parseIdxImages(bytes: Uint8Array, fileName: string): IdxImages {
  const { dims, data } = parseIdx(bytes, fileName, 3, 'an images file', 'pixel bytes');
  const [count, rows, cols] = dims as [number, number, number];
  return { count, rows, cols, pixels: data };
}

/** Parses a labels file (magic 0x00000801: count unsigned bytes). */
export function parseIdxLabels(bytes: Uint8Array, fileName: string): IdxLabels {
  const { dims, data } = parseIdx(bytes, fileName, 1, 'a labels file', 'labels');
  return { count: dims[0]!, labels: data };
}

function parseIdx(
  bytes: Uint8Array,
  fileName: string,
  dimCount: number,
  kind: string,
  unit: string,
): { dims: number[]; data: Uint8Array } {
  const fail = (problem: string): never => {
    throw new UserError(`${fileName}: ${problem}`);
  };
  const expectedMagic = hex32(0x800 | dimCount);
  if (bytes.length < 4) {
    fail(`truncated: ${bytes.length} bytes, too short for an IDX header (expected magic ${expectedMagic} for ${kind})`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0, false);
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    fail(`not an IDX file: magic number ${hex32(magic)}, expected ${expectedMagic} for ${kind}`);
  }
  if (bytes[2] !== UNSIGNED_BYTE) {
    const typeName = TYPE_NAMES.get(bytes[2]!) ?? 'unknown';
    fail(`IDX data type 0x${hex2(bytes[2]!)} (${typeName}) is not supported; MNIST files hold unsigned bytes (0x08), magic ${expectedMagic}`);
  }
  if (bytes[3] !== dimCount) {
    fail(`magic number ${hex32(magic)} means ${bytes[3]} dimension(s), but ${kind} has ${dimCount} (magic ${expectedMagic})`);
  }
  const headerBytes = 4 + 4 * dimCount;
  if (bytes.length < headerBytes) {
    fail(`truncated: the ${headerBytes}-byte header is cut off after ${bytes.length} bytes`);
  }
  const dims = readDims(bytes, dimCount);
  const shape = dims.join('×');
  if (dims.some((n) => n === 0)) fail(`header says ${shape}; every dimension must be at least 1`);
  const expected = dims.reduce((a, b) => a * b, 1);
  const actual = bytes.length - headerBytes;
  const says = dimCount === 1 ? `header says ${expected} ${unit}` : `header says ${shape} = ${expected} ${unit}`;
  const has = `file has ${actual} after the ${headerBytes}-byte header`;
  if (actual < expected) fail(`truncated: ${says}, ${has}`);
  if (actual > expected) fail(`${actual - expected} trailing bytes: ${says}, ${has}`);
  return { dims, data: bytes.subarray(headerBytes) };
}

/**
 * The size in bytes, header and data, that an IDX file of unsigned bytes starting with `prefix`
 * declares; undefined while `prefix` is too short to tell, or when it does not start such a file
 * (parsing it then says what is wrong). A reader of a compressed file stops decompressing there.
 */
export function idxDeclaredBytes(prefix: Uint8Array): number | undefined {
  if (prefix.length < 4 || prefix[0] !== 0 || prefix[1] !== 0 || prefix[2] !== UNSIGNED_BYTE) return undefined;
  const dimCount = prefix[3]!;
  const headerBytes = 4 + 4 * dimCount;
  if (prefix.length < headerBytes) return undefined;
  return headerBytes + readDims(prefix, dimCount).reduce((a, b) => a * b, 1);
}

function readDims(bytes: Uint8Array, dimCount: number): number[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims: number[] = [];
  for (let d = 0; d < dimCount; d++) dims.push(view.getUint32(4 + 4 * d, false));
  return dims;
}

function hex32(n: number): string {
  return `0x${n.toString(16).toUpperCase().padStart(8, '0')}`;
}

function hex2(n: number): string {
  return n.toString(16).toUpperCase().padStart(2, '0');
}
