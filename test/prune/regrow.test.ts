import { describe, expect, it } from 'vitest';
import { keptPerLayer, zeroNetwork, type Network } from '../../src/model/network';
import { denseGradients, regrow } from '../../src/prune/regrow';
import { gradualTarget, regrowthFraction, type GradualSchedule } from '../../src/prune/schedule';
import { mulberry32, randomFloats, randomMask } from '../helpers/random';

/**
 * Σ_samples log p[target] in float64 with plain loops (ReLU hidden layers, softmax output), and
 * how many hidden values are exactly 0: ReLU's kink, where a derivative has no value to check.
 */
function logLikelihood(sizes: number[], weights: Float64Array[], inputs: Float32Array, labels: Uint8Array, samples: number[]): { value: number; kinks: number } {
  let value = 0;
  let kinks = 0;
  for (const s of samples) {
    let values = Array.from(inputs.subarray(s * sizes[0]!, (s + 1) * sizes[0]!));
    for (let l = 0; l + 1 < sizes.length; l++) {
      const next = new Array<number>(sizes[l + 1]!).fill(0);
      for (let i = 0; i < sizes[l]!; i++) for (let o = 0; o < next.length; o++) next[o]! += values[i]! * weights[l]![i * next.length + o]!;
      if (l + 2 < sizes.length) kinks += next.filter((v) => v === 0).length;
      values = l + 2 < sizes.length ? next.map((v) => Math.max(v, 0)) : next;
    }
    const max = Math.max(...values);
    const log = Math.log(values.reduce((sum, v) => sum + Math.exp(v - max), 0)) + max;
    value += values[labels[s]!]! - log;
  }
  return { value, kinks };
}

describe('denseGradients', () => {
  it('is ∂/∂w of Σ log p[target] at every position, pruned ones included (central differences in float64)', () => {
    const random = mulberry32(6);
    const sizes = [6, 5, 4, 3];
    const net = zeroNetwork(sizes);
    net.weights.forEach((w, l) => {
      w.set(randomFloats(random, w.length));
      net.masks[l]!.set(randomMask(random, w.length, 0.6));
      for (let k = 0; k < w.length; k++) if (net.masks[l]![k] === 0) w[k] = 0;
    });
    const inputs = randomFloats(random, 8 * 6, 0, 1);
    const labels = Uint8Array.from({ length: 8 }, (_, s) => s % 3);
    const samples = [0, 2, 3, 5, 7];
    const gradients = denseGradients(net, inputs, labels, samples);
    const weights64 = net.weights.map((x) => Float64Array.from(x));
    expect(logLikelihood(sizes, weights64, inputs, labels, samples).kinks, 'hidden values at exactly 0').toBe(0);
    const h = 1e-6;
    let pruned = 0;
    net.weights.forEach((w, l) => {
      for (let k = 0; k < w.length; k++) {
        const at = (delta: number): number => {
          const weights = weights64.map((x) => x.slice());
          weights[l]![k]! += delta;
          return logLikelihood(sizes, weights, inputs, labels, samples).value;
        };
        const numeric = (at(h) - at(-h)) / (2 * h);
        expect(gradients[l]![k]!, `layer ${l} position ${k}`).toBeCloseTo(numeric, 4);
        if (net.masks[l]![k] === 0 && Math.abs(numeric) > 1e-3) pruned++;
      }
    });
    expect(pruned, 'pruned positions with a gradient').toBeGreaterThan(5);
  });
});

/** One layer of 2 × 4 weights (and a 4 × 1 layer that stays as it is). */
function layer(weights: number[], mask: number[]): Network {
  const net = zeroNetwork([2, 4, 1]);
  net.weights[0]!.set(weights);
  net.masks[0]!.set(mask);
  net.masks[1]!.fill(1);
  net.weights[1]!.fill(1);
  return net;
}

describe('regrow', () => {
  it('grows the pruned positions of largest |gradient| at 0 and drops as many of the smallest kept |w|', () => {
    const net = layer([0.5, 0, -0.1, 0, 0.3, 0, -0.2, 0], [1, 0, 1, 0, 1, 0, 1, 0]);
    const gradients = [Float32Array.from([9, -0.5, 9, 2, 9, -3, 9, 1]), new Float32Array(4)];
    expect(regrow(net, gradients, 0.5)).toEqual([2, 0]);
    expect([...net.masks[0]!]).toEqual([1, 0, 0, 1, 1, 1, 0, 0]);
    expect([...net.weights[0]!].map((w) => Math.fround(w))).toEqual([0.5, 0, 0, 0, Math.fround(0.3), 0, 0, 0].map((w) => Math.fround(w)));
    expect(keptPerLayer(net)).toEqual([4, 4]);
  });

  it('rounds the share, breaks ties by position, and moves no more than the pruned positions with a gradient', () => {
    const tie = layer([0.1, 0, -0.1, 0, 0.1, 0, 0.7, 0], [1, 0, 1, 0, 1, 0, 1, 0]);
    expect(regrow(tie, [Float32Array.from([0, 1, 0, -1, 0, 1, 0, 0.5]), new Float32Array(4)], 0.3)).toEqual([1, 0]);
    expect([...tie.masks[0]!]).toEqual([0, 1, 1, 0, 1, 0, 1, 0]);
    const flat = layer([0.1, 0, 0.2, 0, 0.3, 0, 0.4, 0], [1, 0, 1, 0, 1, 0, 1, 0]);
    expect(regrow(flat, [Float32Array.from([0, 0, 0, 0.5, 0, 0, 0, 0]), new Float32Array(4)], 0.75)).toEqual([1, 0]);
    expect([...flat.masks[0]!]).toEqual([0, 0, 1, 1, 1, 0, 1, 0]);
    const none = layer([0.1, 0, 0.2, 0, 0.3, 0, 0.4, 0], [1, 0, 1, 0, 1, 0, 1, 0]);
    expect(regrow(none, [new Float32Array(8).fill(1), new Float32Array(4)], 0)).toEqual([0, 0]);
    expect([...none.masks[0]!]).toEqual([1, 0, 1, 0, 1, 0, 1, 0]);
  });
});

describe('regrow by lookahead', () => {
  it('drops the kept weights of smallest lookahead score: first those into a neuron that feeds nothing', () => {
    const net = layer([0.5, 0, 0.9, 0, 0.3, 0, 0.8, 0], [1, 0, 1, 0, 1, 0, 1, 0]);
    net.weights[1]!.set([1, 1, 0, 1]);
    net.masks[1]!.set([1, 1, 0, 1]); // hidden 2 feeds nothing: 0.9 and 0.8 score 0
    const gradients = [Float32Array.from([0, 4, 0, 3, 0, 2, 0, 1]), new Float32Array(4)];
    const byMagnitude = structuredClone(net);
    expect(regrow(byMagnitude, gradients, 0.5)).toEqual([2, 0]);
    expect([...byMagnitude.masks[0]!]).toEqual([0, 1, 1, 1, 0, 0, 1, 0]);
    expect(regrow(net, gradients, 0.5, 'lookahead')).toEqual([2, 0]);
    expect([...net.masks[0]!]).toEqual([1, 1, 0, 1, 1, 0, 0, 0]);
  });
});

describe('a regrowing gradual schedule', () => {
  const schedule: GradualSchedule = {
    kind: 'gradual',
    start: 2,
    end: 6,
    every: 2,
    initialSparsity: 0,
    sparsity: [0.9, 0.5],
    scope: 'layer',
    regrow: { fraction: 0.3, end: 10 },
  };

  it('passes on at the final sparsity until regrow.end', () => {
    expect(gradualTarget(schedule, 6)).toEqual([0.9, 0.5]);
    expect(gradualTarget(schedule, 8)).toEqual([0.9, 0.5]);
    expect(gradualTarget(schedule, 10)).toEqual([0.9, 0.5]);
    expect(gradualTarget(schedule, 9)).toBeNull();
    expect(gradualTarget(schedule, 12)).toBeNull();
    expect(gradualTarget({ ...schedule, regrow: undefined }, 8)).toBeNull();
  });

  it('moves a share that falls along half a cosine from the first pass to 0 at regrow.end', () => {
    expect(regrowthFraction(schedule, 2)).toBeCloseTo(0.3, 12);
    expect(regrowthFraction(schedule, 6)).toBeCloseTo(0.15, 12);
    expect(regrowthFraction(schedule, 4)).toBeCloseTo(0.15 * (1 + Math.SQRT1_2), 12);
    expect(regrowthFraction(schedule, 10)).toBeCloseTo(0, 12);
    expect(regrowthFraction(schedule, 5)).toBe(0);
    expect(regrowthFraction({ ...schedule, regrow: undefined }, 2)).toBe(0);
  });
});
