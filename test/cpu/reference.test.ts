import { describe, expect, it } from 'vitest';
import { allocateActivations, argmax, forwardSample } from '../../src/cpu/forward';
import { backpropSample, CpuTrainer, momentumUpdate, softmaxInPlace } from '../../src/cpu/trainer';
import type { Dataset } from '../../src/data/dataset';
import { zeroNetwork, type Network } from '../../src/model/network';
import { expectClose } from '../helpers/expect-close';

/** 2-2-2 network with hand-picked weights, row-major [in, out]. */
function tinyNetwork(): Network {
  const net = zeroNetwork([2, 2, 2]);
  net.weights[0]!.set([0.5, -1, 0.25, 2]); // in0→(h0, h1), in1→(h0, h1)
  net.weights[1]!.set([1, -1, 3, 0.5]); // h0→(o0, o1), h1→(o0, o1)
  return net;
}

describe('JS reference forward', () => {
  it('matches hand-computed values, hidden neurons ≤ 0 pass nothing on', () => {
    const acts = allocateActivations([2, 2, 2]);
    acts[0]!.set([1, 2]);
    forwardSample(tinyNetwork(), acts);
    // h0 = 1·0.5 + 2·0.25 = 1; h1 = 1·(−1) + 2·2 = 3
    expect([...acts[1]!]).toEqual([1, 3]);
    // o0 = 1·1 + 3·3 = 10; o1 = 1·(−1) + 3·0.5 = 0.5
    expect([...acts[2]!]).toEqual([10, 0.5]);
    acts[0]!.set([1, 0]); // h0 = 0.5, h1 = −1 → h1 inactive
    forwardSample(tinyNetwork(), acts);
    expect([...acts[1]!]).toEqual([0.5, -1]);
    expect([...acts[2]!]).toEqual([0.5, -0.5]);
  });

  it('argmax takes the first of equal maxima; softmax sums to 1', () => {
    expect(argmax([1, 3, 3, 2])).toBe(1);
    const p = new Float32Array([1, 2, 3]);
    softmaxInPlace(p);
    const e = [Math.exp(1), Math.exp(2), Math.exp(3)];
    const s = e[0]! + e[1]! + e[2]!;
    expectClose(p, e.map((x) => x / s), { rel: 1e-6 });
  });
});

/** log p[target] of the network in float64, written independently of the reference. */
function logProbability(net: Network, x: number[], target: number): number {
  let a = x;
  for (let l = 0; l + 1 < net.sizes.length; l++) {
    const out = net.sizes[l + 1]!;
    const next = new Array<number>(out).fill(0);
    for (let i = 0; i < a.length; i++) {
      if (a[i]! <= 0) continue;
      for (let o = 0; o < out; o++) next[o] += net.weights[l]![i * out + o]! * a[i]!;
    }
    a = next;
  }
  const max = Math.max(...a);
  const logSum = Math.log(a.reduce((s, v) => s + Math.exp(v - max), 0)) + max;
  return a[target]! - logSum;
}

describe('JS reference backprop', () => {
  it('accumulates the gradient of log p[target], checked by finite differences', () => {
    const sizes = [5, 4, 3, 3];
    const net = zeroNetwork(sizes);
    let seed = 12345;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648) * 2 - 1;
    net.weights.forEach((w) => w.forEach((_, k) => (w[k] = rand())));
    const x = [0.9, 0.1, 0.5, 0.7, 0.3];
    const target = 2;
    const acts = allocateActivations(sizes);
    const grads = allocateActivations(sizes);
    acts[0]!.set(x);
    forwardSample(net, acts);
    for (const h of [...acts[1]!, ...acts[2]!]) expect(Math.abs(h)).toBeGreaterThan(1e-2); // no ReLU kink nearby
    softmaxInPlace(acts[3]!);
    const velocities = net.weights.map((w) => new Float32Array(w.length));
    backpropSample(net, acts, grads, target, velocities);
    const eps = 1e-3;
    net.weights.forEach((w, l) => {
      const numeric = new Float64Array(w.length);
      for (let k = 0; k < w.length; k++) {
        const saved = w[k]!;
        w[k] = saved + eps;
        const up = logProbability(net, x, target);
        w[k] = saved - eps;
        const down = logProbability(net, x, target);
        w[k] = saved;
        numeric[k] = (up - down) / (2 * eps);
      }
      // float32 forward vs float64 central differences: agreement to ~1e-3 absolute.
      expectClose(velocities[l]!, numeric, { rel: 1e-2, abs: 2e-3 }, `layer ${l} [${sizes[l]}, ${sizes[l + 1]}]`);
    });
  });

  it('momentum update: w += lr·v, v *= momentum, pruned entries forced to 0', () => {
    const net = zeroNetwork([2, 1]);
    net.weights[0]!.set([1, 1]);
    net.masks[0]!.set([1, 0]);
    const v = [new Float32Array([2, 5])];
    momentumUpdate(net, v, 0.5, 0.25);
    expect([...net.weights[0]!]).toEqual([2, 0]);
    expect([...v[0]!]).toEqual([0.5, 0]);
  });
});

describe('CpuTrainer', () => {
  it('skips confident samples and keeps pruned weights at 0 through training', async () => {
    const features = 4;
    const count = 64;
    const inputs = new Float32Array(count * features);
    const labels = new Uint8Array(count);
    for (let s = 0; s < count; s++) {
      labels[s] = s % 2;
      inputs[s * features + (s % 2)] = 1;
      inputs[s * features + 2] = 0.5;
    }
    const data: Dataset = { source: 'toy', count, features, inputs, labels, classes: 2 };
    const net = zeroNetwork([4, 3, 2]);
    net.weights[0]!.set([0.3, -0.2, 0.1, -0.1, 0.4, 0.2, 0.2, 0.2, 0.2, 0.1, 0.1, 0.1]);
    net.weights[1]!.set([0.5, -0.5, -0.3, 0.3, 0.1, 0.2]);
    net.masks[0]![3] = 0;
    net.weights[0]![3] = 0;
    const trainer = new CpuTrainer(net, data, { batchSize: 16, confidence: 0.99 });
    let last = { correct: 0, samples: 0, backpropagated: 0 };
    for (let e = 0; e < 30; e++) last = await trainer.trainEpoch(null, 0.05, 0.5);
    expect(last.samples).toBe(64);
    expect(last.correct).toBe(64);
    expect(last.backpropagated).toBeLessThan(64);
    const { net: trained, velocities } = await trainer.state();
    expect(trained.weights[0]![3]).toBe(0);
    expect(velocities[0]![3]).toBe(0);
    // Input 3 is always 0, so its weights never move.
    expect(trained.weights[0]![9]).toBe(net.weights[0]![9]);
  });
});
