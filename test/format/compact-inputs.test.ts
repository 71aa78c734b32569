/**
 * A compact network in a file: `inputs.indices` (the features its first layer reads) and
 * `__metadata__.inputSize` travel with it in our safetensors layout, are checked on read, and
 * every other writer takes it: the seed's text and the torch layout expanded back to whole
 * samples, ONNX with a Gather on the input. Its outputs on whole samples are those of the
 * uncompacted network.
 */
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { inferAll } from '../../src/cpu/forward';
import { compactInfer, denseInfer } from '../../src/cpu/sparse-forward';
import { detectAndParseModel, encodeModel } from '../../src/format/model-file';
import { encodeOnnx } from '../../src/format/onnx';
import { decodeSafetensors, encodeSafetensors, INPUT_INDICES_TENSOR } from '../../src/format/safetensors';
import { encodeSafetensorsFile, type TensorToWrite } from '../../src/format/safetensors-file';
import { initNetwork, keptTotal, type Network } from '../../src/model/network';
import { compactNetwork, expandInputs, type CompactNetwork } from '../../src/prune/structured';
import { pruneToSparsity } from '../../src/prune/unstructured';
import { UserError } from '../../src/util/errors';
import { mulberry32, randomFloats } from '../helpers/random';

const INPUTS = 40;

/** A pruned 40-12-9-4 network whose features 0–9 and every third one after feed nothing. */
function prunedWithDeadInputs(): Network {
  const net = initNetwork([INPUTS, 12, 9, 4], 5);
  pruneToSparsity(net, 0.6, 'layer');
  const out = net.sizes[1]!;
  for (let i = 0; i < INPUTS; i++) {
    if (i >= 10 && i % 3 !== 0) continue;
    net.weights[0]!.fill(0, i * out, (i + 1) * out);
    net.masks[0]!.fill(0, i * out, (i + 1) * out);
  }
  return net;
}

const net = prunedWithDeadInputs();
const { compact } = compactNetwork(net);
const count = 23;
const samples = randomFloats(mulberry32(9), count * INPUTS, 0, 1);

function expectSameCompact(actual: CompactNetwork, expected: CompactNetwork): void {
  expect(actual.net.sizes).toEqual(expected.net.sizes);
  actual.net.weights.forEach((w, l) => {
    expect(w).toEqual(expected.net.weights[l]);
    expect(actual.net.masks[l]).toEqual(expected.net.masks[l]);
  });
  expect(actual.inputIndices).toEqual(expected.inputIndices);
  expect(actual.inputSize).toBe(expected.inputSize);
}

/** Same predictions, logits equal up to the exact zeros the compact network leaves out. */
function expectSameOutputs(actual: { logits: Float32Array; predictions: Uint8Array }, expected: { logits: Float32Array; predictions: Uint8Array }): void {
  expect(actual.predictions).toEqual(expected.predictions);
  actual.logits.forEach((v, k) => expect(Math.abs(v - expected.logits[k]!)).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(expected.logits[k]!))));
}

function messageOf(read: () => unknown): string {
  try {
    read();
  } catch (error) {
    expect(error).toBeInstanceOf(UserError);
    return (error as Error).message;
  }
  throw new Error('the file was accepted');
}

/** A 3-2-2 network whose 3 inputs read `indices` (no tensor when null) of `inputSize` features, written by hand. */
function handWritten(indices: number[] | null, inputSize: string | undefined): Uint8Array {
  const metadata: Record<string, string> = { format: 'webgpu-prune', sizes: '3,2,2' };
  if (inputSize !== undefined) metadata['inputSize'] = inputSize;
  const tensors: TensorToWrite[] = [
    { name: 'layers.0.weight', dtype: 'F32', shape: [3, 2], data: new Float32Array(6).fill(0.5) },
    { name: 'layers.1.weight', dtype: 'F32', shape: [2, 2], data: new Float32Array(4).fill(0.25) },
  ];
  if (indices) tensors.push({ name: INPUT_INDICES_TENSOR, dtype: 'I32', shape: [indices.length], data: Int32Array.from(indices) });
  return encodeSafetensorsFile(metadata, tensors);
}

describe('a compact network in a file', () => {
  it('is a network that reads fewer features, with the outputs of the uncompacted one', () => {
    expect(compact.net.sizes[0]).toBe(INPUTS - 10 - 10);
    expect(compact.inputSize).toBe(INPUTS);
    expect(keptTotal(compact.net)).toBeLessThanOrEqual(keptTotal(net));
    expectSameOutputs(compactInfer(compact, samples, count), denseInfer(net, samples, count));
  });

  it.each(['dense', 'csr', 'auto'] as const)('round-trips through safetensors (%s layout) with inputs.indices and inputSize', (layout) => {
    const bytes = encodeSafetensors(compact, { layout, metadata: { note: 'kept' } });
    const decoded = decodeSafetensors(bytes, 'c.safetensors');
    expectSameCompact(decoded, compact);
    expect(decoded.metadata).toMatchObject({ sizes: compact.net.sizes.join(','), inputSize: String(INPUTS), note: 'kept' });
    const parsed = detectAndParseModel(bytes, 'c.safetensors');
    expectSameCompact(parsed, compact);
    expectSameOutputs(compactInfer(parsed, samples, count), denseInfer(net, samples, count));
  });

  it('leaves a network that reads every feature as it was: no inputs.indices, no inputSize', () => {
    const decoded = decodeSafetensors(encodeSafetensors(net), 'n.safetensors');
    expect(decoded.inputIndices).toBeNull();
    expect(decoded.inputSize).toBe(INPUTS);
    expect(decoded.metadata['inputSize']).toBeUndefined();
  });

  it('is expanded back to whole samples, unread features pruned, in the seed text and the torch layout', () => {
    const expanded = expandInputs(compact);
    expect(expanded.sizes).toEqual([INPUTS, ...compact.net.sizes.slice(1)]);
    expect(keptTotal(expanded)).toBe(keptTotal(compact.net));
    for (const [format, layout] of [['seed-text', undefined], ['safetensors', 'torch']] as const) {
      const parsed = detectAndParseModel(encodeModel(compact, format, { layout }), 'c');
      expect(parsed.inputIndices).toBeNull();
      expect(parsed.net.sizes).toEqual(expanded.sizes);
      expect(parsed.net.masks[0]).toEqual(expanded.masks[0]);
      expectSameOutputs(inferAll(parsed.net, { source: 't', count, features: INPUTS, inputs: samples, labels: new Uint8Array(count), classes: 4 }), denseInfer(net, samples, count));
    }
  });

  it('exports to ONNX with a Gather of its features, taking whole samples in ONNX Runtime', async () => {
    const session = await ort.InferenceSession.create(encodeOnnx(compact));
    try {
      const results = await session.run({ input: new ort.Tensor('float32', samples, [count, INPUTS]) });
      const logits = results['logits']!.data as Float32Array;
      const ours = denseInfer(net, samples, count).logits;
      logits.forEach((v, k) => expect(Math.abs(v - ours[k]!)).toBeLessThanOrEqual(1e-5));
    } finally {
      await session.release();
    }
  });

  it('keeps inputSize to itself: callers cannot set it', () => {
    expect(() => encodeSafetensors(compact, { metadata: { inputSize: '7' } })).toThrow(/reserved/);
  });

  it.each([
    ['unsorted', [4, 2, 7], '9', /inputs\.indices: element 1 is 2 after 4; the features must be ascending and each listed once/],
    ['repeated', [1, 1, 5], '9', /inputs\.indices: element 1 is 1 after 1/],
    ['negative', [-1, 2, 5], '9', /inputs\.indices: element 0 is -1, outside the 9 features of a sample/],
    ['past the input size', [1, 2, 9], '9', /inputs\.indices: element 2 is 9, outside the 9 features/],
    ['a count unlike the first layer', [1, 2, 5, 6], '9', /tensor inputs\.indices has shape \[4\], expected \[3\] \(one feature per input of sizes 3,2,2\)/],
    ['indices with no inputSize', [1, 2, 5], undefined, /tensor inputs\.indices needs the __metadata__ entry inputSize/],
    ['inputSize not a number', [1, 2, 5], '9.5', /__metadata__ inputSize "9\.5" is not a whole number/],
    ['inputSize below the first layer', [0, 1, 2], '2', /__metadata__ inputSize 2 is smaller than the 3 inputs of the first layer/],
    ['inputSize too large for the file', [0, 1, 2], '100000000', /__metadata__ inputSize 100000000: layer sizes 100000000-2-2 make/],
    ['inputSize without the tensor', null, '9', /__metadata__ has inputSize "9" but no inputs\.indices tensor/],
  ])('refuses in one line: %s', (_, indices, inputSize, message) => {
    const text = messageOf(() => detectAndParseModel(handWritten(indices, inputSize), 'bad.safetensors'));
    expect(text).toMatch(/^bad\.safetensors: /);
    expect(text).toMatch(message);
    expect(text).not.toContain('\n');
  });

  it('refuses an inputs.indices tensor of another dtype', () => {
    const bytes = encodeSafetensorsFile({ format: 'webgpu-prune', sizes: '1,1', inputSize: '4' }, [
      { name: 'layers.0.weight', dtype: 'F32', shape: [1, 1], data: Float32Array.of(1) },
      { name: INPUT_INDICES_TENSOR, dtype: 'F32', shape: [1], data: Float32Array.of(2) },
    ]);
    expect(messageOf(() => detectAndParseModel(bytes, 'f.safetensors'))).toMatch(/tensor inputs\.indices has dtype F32, expected I32/);
  });
});
