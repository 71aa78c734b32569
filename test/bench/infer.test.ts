/**
 * `bench infer` checks every engine's logits against the JS reference before it times it: an
 * engine that computes something else is refused by name (a stand-in engine, no GPU), and every
 * engine of a small pruned network passes on the GPU. Speeds are never asserted.
 */
import { describe, expect, it } from 'vitest';
import { benchInferNetwork, checkAgainstReference } from '../../src/bench/infer';
import { denseInfer } from '../../src/cpu/sparse-forward';
import { initNetwork } from '../../src/model/network';
import { pruneToSparsity } from '../../src/prune/unstructured';
import { testGpu } from '../helpers/gpu';
import { mulberry32, randomFloats } from '../helpers/random';

const gpu = await testGpu();

const SIZES = [20, 12, 5];
const BATCH = 37;

describe('checkAgainstReference', () => {
  const net = initNetwork(SIZES, 3, true);
  const inputs = randomFloats(mulberry32(4), BATCH * SIZES[0]!);
  const logits = denseInfer(net, inputs, BATCH).logits;
  const engine = (values: Float32Array) => ({ name: 'stand-in', readLogits: async () => values });

  it('passes logits equal to the reference up to float summation order', async () => {
    const reordered = logits.map((x) => x * (1 + 1e-6));
    await expect(checkAgainstReference('mnist sparse', engine(reordered), net, inputs, BATCH)).resolves.toBeUndefined();
  });

  it('refuses one wrong logit, naming the engine, the sample and the class', async () => {
    const wrong = Float32Array.from(logits);
    wrong[3 * SIZES[2]! + 4] = logits[3 * SIZES[2]! + 4]! + 0.5;
    await expect(checkAgainstReference('mnist sparse', engine(wrong), net, inputs, BATCH)).rejects.toThrow(
      /^bench infer: mnist sparse \(stand-in\) gives the logit .* at sample 3, class 4 where the JS reference gives .*; its speed would mean nothing$/,
    );
    const nan = Float32Array.from(logits);
    nan[0] = NaN;
    await expect(checkAgainstReference('mnist sparse', engine(nan), net, inputs, BATCH)).rejects.toThrow(/at sample 0, class 0/);
  });
});

describe.skipIf(!gpu.context)(`bench infer's engines on a pruned network ${gpu.label}`, () => {
  it('all match the JS reference, so all are timed', async () => {
    const net = initNetwork(SIZES, 5, true);
    pruneToSparsity(net, 0.7, 'layer');
    const result = await benchInferNetwork(gpu.context!, net, { batches: [1, BATCH], repeats: 1 });
    expect(new Set(result.rows.map((r) => r.variant))).toEqual(new Set(['dense', 'sparse', 'compact', 'hybrid', 'compact-dense']));
    expect(result.rows.every((r) => r.samplesPerSec > 0)).toBe(true);
  });
});
