import { describe, expect, it } from 'vitest';
import { keptPerLayer, zeroNetwork, type Network } from '../../src/model/network';
import { gradualTarget } from '../../src/prune/schedule';
import { pruneByThreshold, pruneToSparsity, sparsityOf, weightScores } from '../../src/prune/unstructured';
import { mulberry32, randomFloats, randomMask } from '../helpers/random';

function network() {
  const net = zeroNetwork([3, 2, 2]);
  net.weights[0]!.set([0.05, -0.2, 0.3, -0.01, 0.5, 0.09]);
  net.weights[1]!.set([-0.7, 0.02, 0.15, -0.4]);
  return net;
}

describe('pruneByThreshold', () => {
  it('drops w² < t (the seed rule), zeroes the weight, and never revives', () => {
    const net = network();
    const result = pruneByThreshold(net, 0.01); // |w| < 0.1
    expect(result.removed).toEqual([3, 1]);
    expect(result.kept).toEqual([3, 3]);
    expect([...net.masks[0]!]).toEqual([0, 1, 1, 0, 1, 0]);
    expect([...net.weights[0]!].map((x) => Math.fround(x))).toEqual([0, Math.fround(-0.2), Math.fround(0.3), 0, Math.fround(0.5), 0]);
    net.weights[0]![0] = 5; // a pruned slot that somehow got a value is still pruned
    expect(pruneByThreshold(net, 0.01).removed).toEqual([0, 0]);
    expect(net.masks[0]![0]).toBe(0);
  });
});

describe('pruneToSparsity', () => {
  it('global: keeps the largest |w| across layers', () => {
    const net = network();
    pruneToSparsity(net, 0.5);
    expect(keptPerLayer(net)).toEqual([3, 2]); // 0.7, 0.5, 0.4, 0.3, 0.2 kept
    expect(sparsityOf(net)).toBe(0.5);
    expect(net.masks[1]![0]).toBe(1);
    expect(net.masks[0]![1]).toBe(1);
  });

  it('per layer and with a per-layer policy', () => {
    const a = network();
    pruneToSparsity(a, 0.5, 'layer');
    expect(keptPerLayer(a)).toEqual([3, 2]);
    const b = network();
    pruneToSparsity(b, [2 / 3, 0]);
    expect(keptPerLayer(b)).toEqual([2, 4]);
    expect([...b.masks[0]!]).toEqual([0, 0, 1, 0, 1, 0]);
    expect(() => pruneToSparsity(network(), [0.5])).toThrow(/one sparsity per layer/);
    expect(() => pruneToSparsity(network(), 1.5)).toThrow(/\[0, 1\]/);
  });

  it('counts already-pruned weights toward the target', () => {
    const net = network();
    pruneByThreshold(net, 0.01); // 4 of 10 gone
    pruneToSparsity(net, 0.5);
    expect(sparsityOf(net)).toBe(0.5);
  });
});

/**
 * Lookahead scores with plain loops in float64: |w[i→o]| · √(Σ_j w_prev[j→i]² + b_prev[i]²) ·
 * √(Σ_p w_next[o→p]²), the first factor 1 in the first layer and the second 1 in the last.
 */
function lookaheadReference(net: Network): number[][] {
  const layers = net.weights.length;
  return net.weights.map((w, l) => {
    const inputs = net.sizes[l]!;
    const outputs = net.sizes[l + 1]!;
    const scores: number[] = [];
    for (let i = 0; i < inputs; i++) {
      let into = 1;
      if (l > 0) {
        let sum = net.biases ? net.biases[l - 1]![i]! ** 2 : 0;
        for (let j = 0; j < net.sizes[l - 1]!; j++) sum += net.weights[l - 1]![j * inputs + i]! ** 2;
        into = Math.sqrt(sum);
      }
      for (let o = 0; o < outputs; o++) {
        let outOf = 1;
        if (l + 1 < layers) {
          let sum = 0;
          const next = net.sizes[l + 2]!;
          for (let p = 0; p < next; p++) sum += net.weights[l + 1]![o * next + p]! ** 2;
          outOf = Math.sqrt(sum);
        }
        scores.push(Math.abs(w[i * outputs + o]!) * into * outOf);
      }
    }
    return scores;
  });
}

describe('weightScores', () => {
  it('magnitude is |w|; lookahead matches the plain-loop reference, with and without biases', () => {
    const random = mulberry32(41);
    for (const bias of [false, true]) {
      const net = zeroNetwork([13, 7, 5, 3], bias);
      net.weights.forEach((w, l) => {
        w.set(randomFloats(random, w.length));
        net.masks[l]!.set(randomMask(random, w.length, 0.4));
        w.forEach((_, k) => net.masks[l]![k] === 0 && (w[k] = 0));
      });
      net.biases?.forEach((b) => b.set(randomFloats(random, b.length)));
      // A neuron with nothing out of it: every weight into it scores 0.
      for (let p = 0; p < 5; p++) {
        net.weights[1]![2 * 5 + p] = 0;
        net.masks[1]![2 * 5 + p] = 0;
      }
      expect(weightScores(net, 'magnitude').map((s) => [...s])).toEqual(net.weights.map((w) => [...w].map(Math.abs)));
      const scores = weightScores(net, 'lookahead');
      const reference = lookaheadReference(net);
      // float32 scores of float64 products: within a few float32 ulps
      scores.forEach((s, l) => s.forEach((v, k) => expect(Math.abs(v - reference[l]![k]!)).toBeLessThanOrEqual(1e-6 * reference[l]![k]!)));
      for (let i = 0; i < 13; i++) expect(scores[0]![i * 7 + 2]).toBe(0);
    }
  });
});

describe('pruneToSparsity by lookahead', () => {
  it('drops a large weight that can no longer reach the output before a small one that can', () => {
    const net = zeroNetwork([2, 2, 1]);
    // Hidden neuron 1 feeds nothing: its inputs 0.9 and 0.8 are the largest |w| but score 0.
    net.weights[0]!.set([0.3, 0.9, 0.2, 0.8]);
    net.weights[1]!.set([0.5, 0]);
    net.masks[1]!.set([1, 0]);
    const byMagnitude = structuredClone(net);
    pruneToSparsity(byMagnitude, [0.5, 0], 'layer');
    expect([...byMagnitude.masks[0]!]).toEqual([0, 1, 0, 1]);
    pruneToSparsity(net, [0.5, 0], 'layer', 'lookahead');
    expect([...net.masks[0]!]).toEqual([1, 0, 1, 0]);
    expect([...net.weights[0]!].map(Math.fround)).toEqual([0.3, 0, 0.2, 0].map(Math.fround));
  });

  it('weighs a weight by the neurons on both sides: a small weight on a strong path outranks a larger one on a weak path', () => {
    const net = zeroNetwork([1, 2, 1]);
    net.weights[0]!.set([0.2, 0.3]);
    net.weights[1]!.set([2, 0.1]); // out of hidden 0: 2, out of hidden 1: 0.1
    pruneToSparsity(net, [0.5, 0], 'layer', 'lookahead'); // 0.2 · 2 = 0.4 beats 0.3 · 0.1
    expect([...net.masks[0]!]).toEqual([1, 0]);
  });
});

describe('gradual schedule (Zhu & Gupta)', () => {
  it('follows s_f + (s_i − s_f)(1 − progress)³ between start and end', () => {
    const s = { kind: 'gradual' as const, start: 2, end: 12, every: 2, initialSparsity: 0, sparsity: 0.9, scope: 'global' as const };
    expect(gradualTarget(s, 1)).toBeNull();
    expect(gradualTarget(s, 3)).toBeNull();
    expect(gradualTarget(s, 2)).toBe(0);
    expect(gradualTarget(s, 7)).toBeNull();
    expect(gradualTarget(s, 8)).toBeCloseTo(0.9 - 0.9 * 0.4 ** 3, 12);
    expect(gradualTarget(s, 12)).toBe(0.9);
    expect(gradualTarget(s, 13)).toBeNull();
  });

  it('reaches the final sparsity at the end when the steps do not land on it', () => {
    const s = { kind: 'gradual' as const, start: 2, end: 10, every: 3, initialSparsity: 0, sparsity: 0.95, scope: 'global' as const };
    expect([2, 5, 8, 10].map((e) => gradualTarget(s, e) !== null)).toEqual([true, true, true, true]);
    expect([3, 9, 11].map((e) => gradualTarget(s, e))).toEqual([null, null, null]);
    expect(gradualTarget(s, 10)).toBe(0.95);
  });

  it('a per-layer policy follows the same curve in every layer', () => {
    const s = { kind: 'gradual' as const, start: 0, end: 10, every: 1, initialSparsity: 0, sparsity: [0.96, 0.9, 0.5], scope: 'layer' as const };
    expect(gradualTarget(s, 0)).toEqual([0, 0, 0]);
    const mid = gradualTarget(s, 5) as number[];
    [0.96, 0.9, 0.5].forEach((f, l) => expect(mid[l]).toBeCloseTo(f * (1 - 0.5 ** 3), 12));
    expect(gradualTarget(s, 10)).toEqual([0.96, 0.9, 0.5]);
  });
});
