/**
 * Structured pruning of a network with biases: a hidden neuron without inputs outputs the
 * constant relu(b) and is folded into the next layer's biases, one without outputs goes with its
 * bias, and the outputs stay those of the float64 plain loop (within 1e-5); training's variant
 * (keepUnfed) keeps the neurons whose bias still learns.
 */
import { describe, expect, it } from 'vitest';
import { compactInfer, denseInfer } from '../../src/cpu/sparse-forward';
import type { Network } from '../../src/model/network';
import { compactNetwork, expandInputs } from '../../src/prune/structured';
import { randomBiasedNetwork } from '../helpers/fixtures';
import { plainLogits } from '../helpers/plain-mlp';
import { mulberry32, randomFloats } from '../helpers/random';

const SIZES = [10, 12, 9, 4];

/** Sets weight (i → o) of layer l, kept (mask 1) with `value` or pruned when `value` is 0. */
function setWeight(net: Network, l: number, i: number, o: number, value: number): void {
  const k = i * net.sizes[l + 1]! + o;
  net.weights[l]![k] = value;
  net.masks[l]![k] = value === 0 ? 0 : 1;
}

/**
 * Hidden layer 1: neurons 0, 1, 2 have no inputs (biases 0.7, −0.5, 0.3), neuron 3 no outputs.
 * Hidden layer 2: neuron 0 is fed only by layer 1's neurons 0–2 (constant once they fold),
 * neuron 1 has no inputs and a negative bias (constant 0). Input 9 feeds nothing.
 */
function biasedNetworkWithDeadNeurons(): Network {
  const net = randomBiasedNetwork(SIZES, 3, 0.7);
  for (const j of [0, 1, 2]) for (let i = 0; i < SIZES[0]!; i++) setWeight(net, 0, i, j, 0);
  net.biases![0]!.set([0.7, -0.5, 0.3], 0);
  for (const j of [0, 1, 2]) setWeight(net, 1, j, 2 + j, 0.5 - 0.25 * j);
  for (let o = 0; o < SIZES[2]!; o++) setWeight(net, 1, 3, o, 0);
  for (let i = 0; i < SIZES[1]!; i++) setWeight(net, 1, i, 0, i < 3 ? 0.5 : 0);
  for (let i = 0; i < SIZES[1]!; i++) setWeight(net, 1, i, 1, 0);
  net.biases![1]![0] = 0.1;
  net.biases![1]![1] = -0.4;
  for (let o = 0; o < SIZES[1]!; o++) setWeight(net, 0, 9, o, 0);
  return net;
}

const COUNT = 17;
const inputs = randomFloats(mulberry32(8), COUNT * SIZES[0]!, 0, 1);
const plain = (net: Network): number[] => Array.from({ length: COUNT }, (_, s) => plainLogits(net, inputs.subarray(s * SIZES[0]!, (s + 1) * SIZES[0]!))).flat();

function expectWithin(actual: ArrayLike<number>, expected: readonly number[], tolerance: number): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) expect(Math.abs(actual[i]! - expected[i]!), `logit ${i}`).toBeLessThanOrEqual(tolerance);
}

describe('structured pruning with biases', () => {
  it('removes the neurons without inputs or outputs, folds the constant ones into the next biases, outputs unchanged', () => {
    const net = biasedNetworkWithDeadNeurons();
    const { compact, report } = compactNetwork(net);
    expect(report.neurons.map((n) => Array.from(n.removed))).toEqual([[9], [0, 1, 2, 3], [0, 1], []]);
    expect(compact.net.sizes).toEqual([9, 8, 7, 4]);
    expect(compact.net.biases!.map((b) => b.length)).toEqual([8, 7, 4]);
    // Layer 2's neuron 0 fires constantly (0.1 + 0.7·0.5 + 0.3·0.5 = 0.6): the output biases changed.
    expect(Array.from(compact.net.biases![2]!)).not.toEqual(Array.from(net.biases![2]!));
    const expected = plain(net);
    expectWithin(compactInfer(compact, inputs, COUNT).logits, expected, 1e-5);
    expectWithin(compactInfer(compact, inputs, COUNT, true).logits, expected, 1e-5);
    // Reading whole samples again keeps the biases.
    expectWithin(denseInfer(expandInputs(compact), inputs, COUNT).logits, expected, 1e-5);
  });

  it('with keepUnfed (training), only the neurons without outputs go, and the outputs stay bit for bit', () => {
    const net = biasedNetworkWithDeadNeurons();
    const { compact, report } = compactNetwork(net, { keepUnfed: true });
    expect(report.neurons.map((n) => Array.from(n.removed))).toEqual([[9], [3], [], []]);
    expect(Array.from(compact.net.biases![2]!)).toEqual(Array.from(net.biases![2]!));
    expect(Array.from(compactInfer(compact, inputs, COUNT).logits)).toEqual(Array.from(denseInfer(net, inputs, COUNT).logits));
  });
});
