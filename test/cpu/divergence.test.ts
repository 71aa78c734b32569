/**
 * Divergence on the JS reference: samples whose logits overflow float32 are counted (training's
 * `nonFinite`, inference's `nonFinite`) and contribute no gradient, and evaluation refuses to
 * score them instead of calling them class 0.
 */
import { describe, expect, it } from 'vitest';
import { inferAll } from '../../src/cpu/forward';
import { relu, softmaxGrad } from '../../src/cpu/ops';
import { csrLayers, denseInfer, sparseInfer } from '../../src/cpu/sparse-forward';
import { CpuTrainer } from '../../src/cpu/trainer';
import { evaluateCpu } from '../../src/cli/evaluate';
import { initNetwork } from '../../src/model/network';
import { UserError } from '../../src/util/errors';
import { overflowingCount, overflowingData, overflowingNetwork, pixelData } from '../helpers/overflow';

const SIZES = [12, 24, 16, 5];

describe('non-finite outputs on the JS reference', () => {
  it('ReLU passes NaN on and clears −∞', () => {
    const x = Float32Array.of(NaN, Infinity, -Infinity, -1, 0, 2);
    relu(x);
    expect([...x]).toEqual([NaN, Infinity, 0, 0, 0, 2]);
  });

  it('softmaxGrad counts a row with a NaN or infinite logit as non-finite only, with gradient 0', () => {
    const logits = Float32Array.of(1, 2, 3, NaN, 0, 0, 0, Infinity, 0, -Infinity, 1, 1, 3.4e38, 0, 0);
    const grad = new Float32Array(logits.length).fill(NaN);
    const counts = softmaxGrad(logits, [0, 0, 0, 0, 0], grad, 5, 3, 0.99);
    // Loss from the finite rows only: [1, 2, 3] → ln(e⁻² + e⁻¹ + 1) + 2, and [3.4e38, 0, 0] → 0.
    expect(counts).toEqual({ correct: 1, backpropagated: 1, nonFinite: 3, lossSum: expect.closeTo(Math.log(1 + Math.exp(-1) + Math.exp(-2)) + 2, 12) });
    expect([...grad.subarray(3, 12)]).toEqual(Array(9).fill(0));
    expect(grad.subarray(0, 3).every(Number.isFinite)).toBe(true);
  });

  it('the forward, dense and sparse references count the same overflowing samples', () => {
    const net = overflowingNetwork(SIZES, 2);
    const data = overflowingData(40, SIZES[0]!, 5, 3, 4);
    const expected = overflowingCount(40, 3);
    for (const [name, inference] of [
      ['forward', inferAll(net, data)],
      ['dense', denseInfer(net, data.inputs, data.count)],
      ['sparse', sparseInfer(csrLayers(net), data.inputs, data.count)],
    ] as const) {
      expect(inference.nonFinite, name).toBe(expected);
      for (let s = 0; s < data.count; s++) {
        const row = inference.logits.subarray(s * 5, (s + 1) * 5);
        expect(row.every(Number.isNaN), `${name} sample ${s}`).toBe(s % 3 === 0);
        if (s % 3 !== 0) expect(row.every(Number.isFinite), `${name} sample ${s}`).toBe(true);
      }
    }
  });

  it('evaluateCpu refuses to score overflowing outputs, in one line', () => {
    const data = overflowingData(10, SIZES[0]!, 5, 3, 5);
    expect(() => evaluateCpu(overflowingNetwork(SIZES, 2), data)).toThrow(UserError);
    expect(() => evaluateCpu(overflowingNetwork(SIZES, 2), data)).toThrow(
      /^the network's outputs are not finite for 4 of 10 test samples \(its activations overflow float32\)$/,
    );
    expect(evaluateCpu(initNetwork(SIZES, 2), data).total).toBe(10);
  });
});

describe('CpuTrainer and non-finite outputs', () => {
  it('counts overflowing samples as non-finite, neither correct nor backpropagated, and learns nothing from them', async () => {
    const data = overflowingData(60, SIZES[0]!, 5, 4, 6);
    const config = { batchSize: 20, confidence: 0.99 };
    const trainer = new CpuTrainer(overflowingNetwork(SIZES, 2), data, config);
    const result = await trainer.trainEpoch(null, 0.01, 0.5);
    expect(result.nonFinite).toBe(overflowingCount(60, 4));
    expect(result.backpropagated).toBeLessThanOrEqual(60 - result.nonFinite);
    expect(result.backpropagated).toBeGreaterThan(0);
    const { net, velocities } = await trainer.state();
    for (const arrays of [net.weights, velocities]) for (const a of arrays) expect(a.every(Number.isFinite)).toBe(true);
    // Feature 0 is non-zero only in the overflowing samples: no gradient reached its weights.
    expect(velocities[0]!.subarray(0, SIZES[1]!).every((v) => v === 0)).toBe(true);
  });

  it('a huge learning rate makes the next batches overflow, and the epoch says so', async () => {
    const data = pixelData(60, SIZES[0]!, 5, 7);
    const trainer = new CpuTrainer(initNetwork(SIZES, 3), data, { batchSize: 10, confidence: 0.99 });
    const result = await trainer.trainEpoch(null, 1e30, 0.5);
    expect(result.nonFinite).toBeGreaterThan(0);
    expect(result.nonFinite).toBeLessThanOrEqual(50);
  });
});
