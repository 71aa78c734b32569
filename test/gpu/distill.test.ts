/**
 * Distillation on the GPU. softmax_grad with DISTILL against a plain-loop reference written here
 * (float64; the kernel's float32 differs by a few roundings: rel 1e-4, abs 1e-6), on shapes that
 * are not multiples of the 64-sample workgroup, outputs poisoned with NaN, confident samples
 * skipped and a non-finite row; then the training loop with a teacher (shuffled, shifted images,
 * a pruning pass and the smaller network after it) on the GPU trainer against the JS reference's:
 * the same counts every epoch and the weights within the GPU trainer's tolerance (trainer.test.ts).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { inferAll } from '../../src/cpu/forward';
import { takeSamples, type Dataset } from '../../src/data/dataset';
import { readBuffer } from '../../src/gpu/buffers';
import { bindKernel, submitDispatches } from '../../src/gpu/dispatch';
import { softmaxGradKernel } from '../../src/gpu/kernels';
import { GpuTrainer } from '../../src/gpu/trainer';
import { initNetwork } from '../../src/model/network';
import { loadMnist } from '../../src/node/mnist';
import type { Distillation, Teacher } from '../../src/train/distill';
import type { Recipe } from '../../src/train/recipe';
import { runTraining } from '../../src/train/run';
import type { EpochResult } from '../../src/train/trainer';
import { expectClose } from '../helpers/expect-close';
import { testGpu } from '../helpers/gpu';
import { inputBuffer, poisonedBuffer } from '../helpers/gpu-buffers';
import { mulberry32, randomFloats } from '../helpers/random';
import { cpuTrainerAt, epochTable, finished, SMALL_SEED_RECIPE, trainConfig } from '../helpers/training-runs';

const gpu = await testGpu();

/** The distilled output gradient of every sample, in plain loops: 0 for a non-finite or confident one. */
function distilledGradient(logits: Float32Array, targets: Uint32Array, soft: Float32Array, batch: number, classes: number, confidence: number, d: Distillation) {
  const grad = new Float32Array(batch * classes);
  const backprop = new Uint32Array(batch);
  for (let s = 0; s < batch; s++) {
    const z = Array.from(logits.subarray(s * classes, (s + 1) * classes));
    if (!z.every(Number.isFinite)) continue;
    const max = Math.max(...z);
    const e = z.map((v) => Math.exp(v - max));
    const et = z.map((v) => Math.exp((v - max) / d.temperature));
    const [sum, sumT] = [e, et].map((a) => a.reduce((x, y) => x + y, 0));
    if (e[targets[s]!]! / sum! >= confidence) continue;
    backprop[s] = 1;
    for (let c = 0; c < classes; c++) {
      const hard = (c === targets[s] ? 1 : 0) - e[c]! / sum!;
      grad[s * classes + c] = (1 - d.weight) * hard + d.weight * d.temperature * (soft[s * classes + c]! - et[c]! / sumT!);
    }
  }
  return { grad, backprop };
}

/** Random soft targets: rows of positive values summing to 1. */
function randomSoftTargets(random: () => number, batch: number, classes: number): Float32Array {
  const soft = randomFloats(random, batch * classes, 0.01, 1);
  for (let s = 0; s < batch; s++) {
    let sum = 0;
    for (let c = 0; c < classes; c++) sum += soft[s * classes + c]!;
    for (let c = 0; c < classes; c++) soft[s * classes + c] = soft[s * classes + c]! / sum;
  }
  return soft;
}

let train: Dataset;

beforeAll(async () => {
  train = takeSamples((await loadMnist()).train, 500);
});

const counts = ({ lossSum: _lossSum, ...rest }: EpochResult) => rest;

describe.skipIf(!gpu.context)(`distillation on the GPU ${gpu.label}`, () => {
  const ctx = gpu.context!;

  for (const [batch, classes, distill] of [
    [1, 10, { weight: 0.5, temperature: 4 }],
    [65, 3, { weight: 1, temperature: 0.5 }],
    [130, 10, { weight: 0.3, temperature: 2 }],
  ] as const) {
    it(`softmax_grad with DISTILL on [${batch}x${classes}], α ${distill.weight}, T ${distill.temperature}`, async () => {
      const random = mulberry32(batch * 7 + classes);
      const logits = randomFloats(random, batch * classes, -4, 4);
      // With several samples, a confident one (its target's logit far above the rest) and a non-finite one.
      const targets = Uint32Array.from({ length: batch }, () => Math.floor(random() * classes));
      if (batch > 1) logits[targets[0]!] = 30;
      if (batch > 2) logits[2 * classes + 1] = NaN;
      const soft = randomSoftTargets(random, batch, classes);
      const confidence = 0.6;
      const expected = distilledGradient(logits, targets, soft, batch, classes, confidence, distill);
      const kernel = await softmaxGradKernel(ctx, batch, classes, confidence, distill);
      const grad = poisonedBuffer(ctx, 'grad', batch * classes);
      const backprop = inputBuffer(ctx, 'backprop', new Uint32Array(batch).fill(7));
      const buffers = [
        inputBuffer(ctx, 'logits', logits),
        inputBuffer(ctx, 'targets', targets),
        grad,
        inputBuffer(ctx, 'counters', new Uint32Array(3)),
        backprop,
        inputBuffer(ctx, 'loss', new Float32Array(batch)),
        inputBuffer(ctx, 'soft targets', soft),
      ];
      await submitDispatches(ctx, kernel.name, [bindKernel(ctx, kernel, 'test', buffers)]);
      expectClose(await readBuffer(ctx, grad, new Float32Array(batch * classes)), expected.grad, { rel: 1e-4, abs: 1e-6 }, kernel.name);
      const flags = await readBuffer(ctx, backprop, new Uint32Array(batch));
      expect(flags).toEqual(expected.backprop);
      expect(flags.some((f) => f === 1)).toBe(true);
      if (batch > 1) expect(flags[0]).toBe(0);
      buffers.forEach((b) => b.destroy());
    });
  }

  it("a teacher's run: the JS reference's counts and weights, through a pruning pass and the smaller network", async () => {
    const recipe: Recipe = {
      ...SMALL_SEED_RECIPE,
      epochs: 2,
      shuffle: true,
      shift: 1,
      prune: { kind: 'once-sparsity', epoch: 0, sparsity: [0.98, 0.5, 0], scope: 'layer' },
      distill: { teacher: 'teacher.safetensors', weight: 0.6, temperature: 3 },
    };
    const teacherNet = initNetwork([784, 30, 10], 99);
    let asked = 0;
    const teacher: Teacher = {
      async logits(inputs, count) {
        asked++;
        return inferAll(teacherNet, { ...train, inputs, count }).logits;
      },
    };
    const reference = finished(await runTraining(cpuTrainerAt(recipe, train), recipe, train.count, {}, { train, teacher }));
    expect(asked).toBe(2);
    const first = await GpuTrainer.create(ctx, initNetwork(recipe.sizes, recipe.seed), train, trainConfig(recipe));
    const sizes: number[][] = [];
    try {
      const result = finished(
        await runTraining(first, recipe, train.count, {}, {
          train,
          teacher,
          trainers: {
            train,
            makeTrainer: async (net, data, start) => {
              sizes.push(net.sizes);
              return GpuTrainer.create(ctx, net, data, trainConfig(recipe), start);
            },
          },
        }),
      );
      expect(sizes[0]![0]).toBeLessThan(784);
      expect(epochTable(result).map(counts)).toEqual(epochTable(reference).map(counts));
      reference.net.weights.forEach((w, l) => expectClose(result.net.weights[l]!, w, { rel: 1e-4, abs: 1e-6 }, `weights ${l}`));
      const undistilled = finished(await runTraining(cpuTrainerAt({ ...recipe, distill: undefined }, train), { ...recipe, distill: undefined }, train.count, {}, { train }));
      expect(undistilled.net.weights[1]).not.toEqual(reference.net.weights[1]);
    } finally {
      first.dispose();
    }
  });

  it('refuses an epoch without its soft targets', async () => {
    const recipe: Recipe = { ...SMALL_SEED_RECIPE, distill: { teacher: 't', weight: 0.5, temperature: 4 } };
    const trainer = await GpuTrainer.create(ctx, initNetwork(recipe.sizes, recipe.seed), train, trainConfig(recipe));
    try {
      await expect(trainer.trainEpoch(null, 0.002, 0.67)).rejects.toThrow(/needs each epoch's soft targets/);
    } finally {
      trainer.dispose();
    }
  });
});
