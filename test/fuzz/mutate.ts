/**
 * Mutations of valid files for the reader fuzz tests, as plain data so that fast-check can
 * shrink a failure to a short list and print it, and the property every reader must keep.
 * A failure prints its seed (to replay it: `fc.assert(…, { seed, path })`) and the shrunk
 * input, which goes into the test file's REGRESSIONS once the reader is fixed.
 */
import fc from 'fast-check';
import { expect } from 'vitest';
import { maxWeightsForFile } from '../../src/format/file-limits';
import { detectAndParseModel, encodeModel } from '../../src/format/model-file';
import { validateSizes, type Network } from '../../src/model/network';
import { expandInputs, type CompactNetwork } from '../../src/prune/structured';
import { UserError } from '../../src/util/errors';
import { withAllocationLimit } from './allocation';

/** Mutated inputs per reader per run. */
export const FUZZ_RUNS = 4000;

/** Values that sit on the edges size fields are checked against. */
export const EDGE_INTEGERS = [
  0, 1, 2, 3, 4, 5, 7, 8, 255, 256, 1023, 1024, 65_535, 65_536, 1_048_576, 100_000_000, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1,
  2 ** 32, 2 ** 53 - 1, 2 ** 53, 1e15, -1, -2, -(2 ** 31),
];

export const edgeInteger = (): fc.Arbitrary<number> => fc.oneof(fc.constantFrom(...EDGE_INTEGERS), fc.integer({ min: -8, max: 600 }));

/** A byte-level change; positions are taken modulo the length, so any list applies to any file. */
export type ByteMutation =
  | { kind: 'truncate'; at: number }
  | { kind: 'set'; at: number; value: number }
  | { kind: 'insert'; at: number; bytes: number[] }
  | { kind: 'delete'; at: number; length: number }
  | { kind: 'duplicate'; at: number; length: number };

export const byteMutation = (): fc.Arbitrary<ByteMutation> =>
  fc.oneof(
    fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
    fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 8 }) }),
    fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 16 }) }),
    fc.record({ kind: fc.constant('duplicate' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 64 }) }),
  );

export function applyByteMutation(bytes: Uint8Array, m: ByteMutation): Uint8Array {
  const at = m.at % (bytes.length + 1);
  const before = bytes.subarray(0, at);
  switch (m.kind) {
    case 'truncate':
      return bytes.slice(0, at);
    case 'set': {
      const copy = bytes.slice();
      if (at < copy.length) copy[at] = m.value;
      return copy;
    }
    case 'insert':
      return concat(before, Uint8Array.from(m.bytes), bytes.subarray(at));
    case 'delete':
      return concat(before, bytes.subarray(at + m.length));
    case 'duplicate':
      return concat(bytes.subarray(0, at + m.length), bytes.subarray(at));
  }
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * Runs a reader: it must return, or throw a `UserError` whose message is one line with no raw
 * control characters; never another exception, and never allocate more than `limitBytes`.
 * Returns what the reader returned, or undefined after a `UserError`.
 */
export function readOrRefuse<T>(limitBytes: number, read: () => T): T | undefined {
  try {
    return withAllocationLimit(limitBytes, read).value;
  } catch (error) {
    if (!(error instanceof UserError)) throw error;
    expect(error.message).not.toMatch(/[\x00-\x1f\x7f-\x9f]/);
    return undefined;
  }
}

/**
 * What a network reader may allocate for a file, proportional to its size above the floor
 * every file may use: the dense network the file may declare (a float32 weight and a mask byte
 * each), once more for a CSR layer's dense form and its scratch, plus copies of the file's own
 * tensors.
 */
function networkAllocationBound(fileBytes: number): number {
  return 12 * maxWeightsForFile(fileBytes) + 4 * fileBytes;
}

/**
 * Runs `accepts` (which checks one input and says whether the reader accepted it) on
 * `FUZZ_RUNS` inputs. Both outcomes must be common, or the mutations no longer reach the
 * reader's checks.
 */
export function fuzz<T>(inputs: fc.Arbitrary<T>, accepts: (input: T) => boolean): void {
  let accepted = 0;
  fc.assert(
    fc.property(inputs, (input) => {
      if (accepts(input)) accepted++;
    }),
    { numRuns: FUZZ_RUNS },
  );
  expect(accepted).toBeGreaterThan(FUZZ_RUNS / 50);
  expect(accepted).toBeLessThan(FUZZ_RUNS - FUZZ_RUNS / 50);
}

/**
 * A network file through the reader the CLI uses: a valid network that writes and reads back
 * the same (in the layout it came in), or a `UserError` as `readOrRefuse` requires. Whether it
 * was accepted.
 */
export function checkNetworkFile(bytes: Uint8Array, fileName: string): boolean {
  const parsed = readOrRefuse(networkAllocationBound(bytes.length), () => detectAndParseModel(bytes, fileName));
  if (!parsed) return false;
  expectValidNetwork(parsed.net);
  expectValidInputs(parsed);
  const layout = parsed.layout === 'torch' ? 'torch' : undefined;
  const again = detectAndParseModel(encodeModel(parsed, parsed.format, { layout }), fileName);
  expectSameNetwork(again.net, parsed.net);
  expect([again.inputIndices, again.inputSize]).toEqual([parsed.inputIndices, parsed.inputSize]);
  return true;
}

/** The features a compact network reads: one per input, ascending, each a feature of the sample; expandable back to whole samples. */
function expectValidInputs({ net, inputIndices, inputSize }: CompactNetwork): void {
  if (!inputIndices) {
    expect(inputSize).toBe(net.sizes[0]);
    return;
  }
  expect(inputIndices).toBeInstanceOf(Int32Array);
  expect(inputIndices.length).toBe(net.sizes[0]);
  inputIndices.forEach((feature, k) => {
    if (feature < 0 || feature >= inputSize || (k > 0 && feature <= inputIndices[k - 1]!)) {
      throw new Error(`input ${k} reads feature ${feature} (after ${inputIndices[k - 1]}) of ${inputSize}`);
    }
  });
  validateSizes(expandInputs({ net, inputIndices, inputSize }).sizes);
}

/** The invariants of `Network`: sizes allowed, shapes, masks of 0/1, finite weights, pruned weights exactly 0, finite biases of [out] or none. */
function expectValidNetwork(net: Network): void {
  validateSizes(net.sizes);
  expect(net.weights.length).toBe(net.sizes.length - 1);
  expect(net.masks.length).toBe(net.sizes.length - 1);
  net.weights.forEach((weights, l) => {
    const mask = net.masks[l]!;
    expect(weights).toBeInstanceOf(Float32Array);
    expect(mask).toBeInstanceOf(Uint8Array);
    expect(weights.length).toBe(net.sizes[l]! * net.sizes[l + 1]!);
    expect(mask.length).toBe(weights.length);
    for (let k = 0; k < weights.length; k++) {
      if (mask[k] > 1 || !Number.isFinite(weights[k]) || (mask[k] === 0 && weights[k] !== 0)) {
        throw new Error(`layer ${l} element ${k}: mask ${mask[k]}, weight ${weights[k]}`);
      }
    }
  });
  if (!net.biases) return;
  expect(net.biases.length).toBe(net.sizes.length - 1);
  net.biases.forEach((bias, l) => {
    expect(bias).toBeInstanceOf(Float32Array);
    expect(bias.length).toBe(net.sizes[l + 1]);
    const bad = bias.findIndex((b) => !Number.isFinite(b));
    if (bad >= 0) throw new Error(`layer ${l} bias ${bad}: ${bias[bad]}`);
  });
}

function expectSameNetwork(actual: Network, expected: Network): void {
  expect(actual.sizes).toEqual(expected.sizes);
  actual.weights.forEach((w, l) => {
    expect(w).toEqual(expected.weights[l]);
    expect(actual.masks[l]).toEqual(expected.masks[l]);
  });
  expect(actual.biases).toEqual(expected.biases);
}
