/**
 * Distillation on the JS reference: one sample's weight step is minus the gradient of the
 * distillation loss (1 − α)·CE(z, target) + α·T²·KL(q_T ‖ softmax(z / T)), checked against
 * central finite differences of that loss computed here in float64 on a tiny network; the
 * confidence skip still applies; and the trainer refuses soft targets it cannot use.
 */
import { describe, expect, it } from 'vitest';
import { CpuTrainer } from '../../src/cpu/trainer';
import type { Dataset } from '../../src/data/dataset';
import type { Network } from '../../src/model/network';
import { softTargets, type Distillation } from '../../src/train/distill';
import { expectClose } from '../helpers/expect-close';
import { mulberry32, randomFloats } from '../helpers/random';

const SIZES = [5, 4, 3];

/** The distillation loss of one sample on a ReLU network with weights `w` (per layer [in, out]), in float64. */
function distillationLoss(w: Float64Array[], x: ArrayLike<number>, target: number, soft: ArrayLike<number>, { weight, temperature }: Distillation): number {
  let a = Array.from(x);
  w.forEach((layer, l) => {
    const out = SIZES[l + 1]!;
    const next = new Array<number>(out).fill(0);
    for (let i = 0; i < a.length; i++) for (let o = 0; o < out; o++) next[o]! += a[i]! * layer[i * out + o]!;
    a = l + 1 < w.length ? next.map((v) => Math.max(v, 0)) : next;
  });
  const logSoftmax = (z: number[]): number[] => {
    const max = Math.max(...z);
    const log = Math.log(z.reduce((sum, v) => sum + Math.exp(v - max), 0));
    return z.map((v) => v - max - log);
  };
  const hard = -logSoftmax(a)[target]!;
  const tempered = logSoftmax(a.map((v) => v / temperature));
  let kl = 0;
  for (let c = 0; c < a.length; c++) kl += soft[c]! * (Math.log(soft[c]!) - tempered[c]!);
  return (1 - weight) * hard + weight * temperature * temperature * kl;
}

function oneSample(random: () => number): { net: Network; data: Dataset; soft: Float32Array } {
  const weights = SIZES.slice(1).map((out, l) => randomFloats(random, SIZES[l]! * out, -0.8, 0.8));
  const net: Network = { sizes: SIZES, weights, masks: weights.map((w) => new Uint8Array(w.length).fill(1)) };
  const data: Dataset = { source: 'one sample', count: 1, features: SIZES[0]!, inputs: randomFloats(random, SIZES[0]!, 0.2, 1), labels: Uint8Array.of(1), classes: 3 };
  return { net, data, soft: new Float32Array() };
}

describe('distillation on the JS reference', () => {
  for (const distill of [
    { weight: 0.5, temperature: 4 },
    { weight: 1, temperature: 0.7 },
    { weight: 0.2, temperature: 2 },
  ]) {
    it(`steps along minus the gradient of the distillation loss (α ${distill.weight}, T ${distill.temperature})`, async () => {
      const random = mulberry32(Math.round(distill.temperature * 100));
      const { net, data } = oneSample(random);
      const soft = softTargets(randomFloats(random, 3, -3, 3), 1, 3, distill.temperature);
      // lr 1, no momentum: one step moves each weight by the sample's g·a, the loss's negative gradient; confidence 2 backpropagates it.
      const trainer = new CpuTrainer(net, data, { batchSize: 1, confidence: 2, distill });
      const result = await trainer.trainEpoch(null, 1, 0, { softTargets: soft });
      expect(result.backpropagated).toBe(1);
      const after = (await trainer.state()).net.weights;
      const w = net.weights.map((layer) => Float64Array.from(layer));
      const h = 1e-6;
      w.forEach((layer, l) => {
        const step = Float64Array.from(after[l]!, (v, k) => v - net.weights[l]![k]!);
        const descent = layer.map((v, k) => {
          layer[k] = v + h;
          const up = distillationLoss(w, data.inputs, 1, soft, distill);
          layer[k] = v - h;
          const down = distillationLoss(w, data.inputs, 1, soft, distill);
          layer[k] = v;
          return -(up - down) / (2 * h);
        });
        expect(descent.some((d) => Math.abs(d) > 1e-3)).toBe(true);
        expectClose(step, descent, { rel: 1e-3, abs: 1e-5 }, `layer ${l}`);
      });
    });
  }

  it('leaves a confident sample alone, and refuses missing, misshapen or unasked-for soft targets', async () => {
    const { net, data } = oneSample(mulberry32(5));
    const soft = softTargets(Float32Array.of(0, 1, 2), 1, 3, 4);
    const trainer = new CpuTrainer(net, data, { batchSize: 1, confidence: 0, distill: { weight: 0.5, temperature: 4 } });
    const result = await trainer.trainEpoch(null, 1, 0, { softTargets: soft });
    expect(result.backpropagated).toBe(0);
    expect((await trainer.state()).net.weights).toEqual(net.weights);
    await expect(trainer.trainEpoch(null, 1, 0)).rejects.toThrow(/needs each epoch's soft targets/);
    await expect(trainer.trainEpoch(null, 1, 0, { softTargets: soft.subarray(1) })).rejects.toThrow(/soft targets have 2 values/);
    const plain = new CpuTrainer(net, data, { batchSize: 1, confidence: 2 });
    await expect(plain.trainEpoch(null, 1, 0, { softTargets: soft })).rejects.toThrow(/without distillation/);
  });
});
