import { describe, expect, it } from 'vitest';
import { compactInfer, csrLayers, denseInfer, sparseInfer } from '../../src/cpu/sparse-forward';
import { DotNetRandom } from '../../src/model/dotnet-random';
import { initNetwork, keptWeights, type Network } from '../../src/model/network';
import { compactNetwork, expandInputs, gatherInputs, selectInputs } from '../../src/prune/structured';
import { pruneToSparsity } from '../../src/prune/unstructured';

function randomInputs(count: number, features: number, seed: number): Float32Array {
  const rng = new DotNetRandom(seed);
  const x = new Float32Array(count * features);
  // Mostly non-negative, like pixels, with some negatives so ReLU and signed sums both matter.
  for (let k = 0; k < x.length; k++) x[k] = rng.nextDouble() * 1.2 - 0.2;
  return x;
}

function cut(net: Network, l: number, i: number, o: number): void {
  const out = net.sizes[l + 1]!;
  net.weights[l]![i * out + o] = 0;
  net.masks[l]![i * out + o] = 0;
}

/** Removes every incoming weight of hidden neuron j of layer l (sizes index). */
function cutIncoming(net: Network, l: number, j: number): void {
  for (let i = 0; i < net.sizes[l - 1]!; i++) cut(net, l - 1, i, j);
}

function cutOutgoing(net: Network, l: number, j: number): void {
  for (let o = 0; o < net.sizes[l + 1]!; o++) cut(net, l, j, o);
}

/** Bitwise equality, except that +0 and −0 are the same value. */
function expectSameValues(actual: Float32Array, expected: Float32Array): void {
  expect(actual.length).toBe(expected.length);
  for (let k = 0; k < expected.length; k++) {
    if (actual[k] !== expected[k]) throw new Error(`index ${k}: ${actual[k]} != ${expected[k]}`);
  }
}

describe('structured compression', () => {
  it('removes neurons with no inputs, no outputs, and the ones they orphan, to a fixed point', () => {
    const net = initNetwork([6, 5, 4, 3], 1);
    cutIncoming(net, 1, 0); // hidden 1.0 always 0
    cutOutgoing(net, 1, 1); // hidden 1.1 feeds nothing
    // hidden 2.2 is fed only by 1.0, which dies, so 2.2 dies in the second round.
    for (let i = 1; i < 5; i++) cut(net, 1, i, 2);
    // Input 5 feeds only 1.1 (dead); input 4 feeds nothing at all.
    for (let o = 0; o < 5; o++) cut(net, 0, 4, o);
    for (let o = 0; o < 5; o++) if (o !== 1) cut(net, 0, 5, o);

    const { compact, report } = compactNetwork(net);
    expect(compact.net.sizes).toEqual([4, 3, 3, 3]);
    expect([...compact.inputIndices!]).toEqual([0, 1, 2, 3]);
    expect(report.neurons.map((n) => [...n.removed])).toEqual([[4, 5], [0, 1], [2], []]);
    expect(report.neurons.map((n) => n.role)).toEqual(['input', 'hidden', 'hidden', 'output']);
    expect(report.rounds).toBeGreaterThanOrEqual(3);
    report.weights.forEach((w, l) => {
      expect(w.weightsBefore).toBe(keptWeights(net.masks[l]!));
      expect(w.weightsAfter).toBe(keptWeights(compact.net.masks[l]!));
    });

    const x = randomInputs(37, 6, 2);
    expectSameValues(compactInfer(compact, x, 37).logits, denseInfer(net, x, 37).logits);
  });

  it('keeps output neurons even when nothing feeds them', () => {
    const net = initNetwork([4, 3, 2], 3);
    cutIncoming(net, 2, 1);
    const { compact } = compactNetwork(net);
    expect(compact.net.sizes[2]).toBe(2);
    const x = randomInputs(5, 4, 4);
    expectSameValues(compactInfer(compact, x, 5).logits, denseInfer(net, x, 5).logits);
  });

  it('keeps every input with dropInputs: false', () => {
    const net = initNetwork([5, 4, 2], 5);
    for (let o = 0; o < 4; o++) cut(net, 0, 2, o);
    const { compact } = compactNetwork(net, { dropInputs: false });
    expect(compact.inputIndices).toBeNull();
    expect(compact.inputSize).toBe(5);
    expect(compact.net.sizes).toEqual([5, 4, 2]);
  });

  it.each([0.5, 0.9, 0.93, 0.99])('gives the same outputs as the pruned MNIST-shaped net at sparsity %s', (sparsity) => {
    const net = initNetwork([784, 100, 100, 10], 7);
    pruneToSparsity(net, sparsity, 'layer');
    const { compact, report } = compactNetwork(net);
    const count = 50;
    const x = randomInputs(count, 784, 11);
    const reference = denseInfer(net, x, count);
    expectSameValues(compactInfer(compact, x, count).logits, reference.logits);
    expectSameValues(compactInfer(compact, x, count, true).logits, reference.logits);
    expectSameValues(sparseInfer(csrLayers(net), x, count).logits, reference.logits);
    expect([...compactInfer(compact, x, count).predictions]).toEqual([...reference.predictions]);
    if (sparsity >= 0.99) expect(report.neurons[0]!.neuronsAfter).toBeLessThan(784);
  });

  it('trims the weakest hidden neurons to a target count, then drops what they orphan', () => {
    const net = initNetwork([20, 12, 8, 3], 9);
    pruneToSparsity(net, 0.5, 'layer');
    const { compact, report } = compactNetwork(net, { keepHidden: [6, 4] });
    expect(compact.net.sizes[1]).toBeLessThanOrEqual(6);
    expect(compact.net.sizes[2]).toBeLessThanOrEqual(4);
    const alive = compactNetwork(net).compact.net.sizes;
    expect(report.neurons[1]!.removedAsWeakest).toBe(Math.max(0, alive[1]! - 6));
    const byFraction = compactNetwork(net, { keepHidden: { fraction: 0.5 } }).compact;
    expect(byFraction.net.sizes[1]).toBeLessThanOrEqual(6);
    expect(() => compactNetwork(net, { keepHidden: [1] })).toThrow(/one count per hidden layer/);
  });

  it('removes the hidden neuron with the smallest L2 norm of incoming and outgoing weights', () => {
    const net = initNetwork([2, 3, 1], 1);
    net.weights[0]!.set([0.5, 0.1, -0.6, 0.4, 0.05, 0.7]); // [in 2, out 3]: neuron 1 gets 0.1, 0.05
    net.weights[1]!.set([0.9, -0.2, 0.8]); // neuron 1 sends −0.2
    const { compact, report } = compactNetwork(net, { keepHidden: [2] });
    expect([...report.neurons[1]!.removed]).toEqual([1]);
    expect(report.neurons[1]!.removedAsWeakest).toBe(1);
    expect([...compact.net.weights[0]!]).toEqual([0.5, -0.6, 0.4, 0.7].map(Math.fround));
  });

  it('gathers the kept input features', () => {
    const x = Float32Array.from([0, 1, 2, 3, 10, 11, 12, 13]);
    expect([...gatherInputs(x, 2, 4, Int32Array.from([1, 3]))]).toEqual([1, 3, 11, 13]);
    expect(gatherInputs(x, 2, 4, null)).toBe(x);
  });

  it('expands a compact network back to whole samples and selects the same features again', () => {
    const net = initNetwork([6, 3, 2], 8);
    for (const i of [0, 2, 5]) cutOutgoing(net, 0, i);
    const { compact } = compactNetwork(net);
    expect([...compact.inputIndices!]).toEqual([1, 3, 4]);
    const expanded = expandInputs(compact);
    expect(expanded.sizes).toEqual([6, 3, 2]);
    expect(expanded.weights[0]).toEqual(net.weights[0]);
    expect(expanded.masks[0]).toEqual(net.masks[0]);
    const selected = selectInputs(expanded, compact.inputIndices);
    expect(selected.net.weights[0]).toEqual(compact.net.weights[0]);
    expect(selected.inputSize).toBe(6);
    expect(expandInputs(net)).toBe(net);
  });

  it('compacting a compact network again keeps the indices of the original sample', () => {
    const net = initNetwork([7, 4, 2], 9);
    for (const i of [1, 4]) cutOutgoing(net, 0, i);
    const first = compactNetwork(net).compact;
    expect([...first.inputIndices!]).toEqual([0, 2, 3, 5, 6]);
    // Hidden neuron 0 alone reads feature 3 (input 2 of the compact network): it goes, and feature 3 with it.
    for (let j = 1; j < 4; j++) cut(first.net, 0, 2, j);
    cutIncoming(first.net, 1, 0);
    const second = compactNetwork(first).compact;
    expect(second.inputSize).toBe(7);
    expect([...second.inputIndices!]).toEqual([0, 2, 5, 6]);
    const x = randomInputs(5, 7, 3);
    expectSameValues(compactInfer(second, x, 5).logits, compactInfer(first, x, 5).logits);
  });
});
