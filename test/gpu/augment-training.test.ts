/**
 * Shift augmentation on the GPU: the trainer uploads an epoch's own inputs (and the training set's
 * again for the next epoch that has none), and the training loop with a shifting recipe, going on
 * with the smaller network after the pruning pass, counts as the JS reference's full-shape run does
 * (the network within the GPU trainer's tolerance; see trainer.test.ts).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { CpuTrainer } from '../../src/cpu/trainer';
import { shiftedInputs } from '../../src/data/augment';
import { takeSamples, type Dataset } from '../../src/data/dataset';
import { GpuTrainer } from '../../src/gpu/trainer';
import { initNetwork } from '../../src/model/network';
import { loadMnist } from '../../src/node/mnist';
import type { Recipe } from '../../src/train/recipe';
import { runTraining } from '../../src/train/run';
import type { EpochResult } from '../../src/train/trainer';
import { expectClose } from '../helpers/expect-close';
import { testGpu } from '../helpers/gpu';
import { cpuTrainerAt, epochTable, finished, SMALL_SEED_RECIPE, trainConfig } from '../helpers/training-runs';

const gpu = await testGpu();

let train: Dataset;

beforeAll(async () => {
  train = takeSamples((await loadMnist()).train, 500);
});

const SHIFTED: Recipe = { ...SMALL_SEED_RECIPE, epochs: 3, shift: 1, prune: { kind: 'once-sparsity', epoch: 1, sparsity: [0.98, 0.5, 0], scope: 'layer' } };

const counts = ({ lossSum: _lossSum, ...rest }: EpochResult) => rest;

describe.skipIf(!gpu.context)(`shift augmentation on the GPU ${gpu.label}`, () => {
  const ctx = gpu.context!;

  it("trains on an epoch's own inputs, then on the training set's again, as the JS reference does", async () => {
    const recipe: Recipe = { ...SHIFTED, prune: { kind: 'none' } };
    const net = initNetwork(recipe.sizes, recipe.seed);
    const cpu = new CpuTrainer(net, train, trainConfig(recipe));
    const gpuTrainer = await GpuTrainer.create(ctx, net, train, trainConfig(recipe));
    try {
      const shifted = shiftedInputs(train, 2, recipe.seed, 0);
      const order = Uint32Array.from({ length: train.count }, (_, k) => (k * 7) % train.count);
      // Shifted in file order, shifted in another order, then the set's own pixels in file order.
      for (const [epochOrder, inputs] of [[null, shifted], [order, shifted], [null, undefined]] as const) {
        const expected = await cpu.trainEpoch(epochOrder, 0.002, 0.67, { inputs });
        const got = await gpuTrainer.trainEpoch(epochOrder, 0.002, 0.67, { inputs });
        expect(counts(got)).toEqual(counts(expected));
      }
      const [a, b] = [await cpu.state(), await gpuTrainer.state()];
      a.net.weights.forEach((w, l) => expectClose(b.net.weights[l]!, w, { rel: 1e-4, abs: 1e-6 }, `weights ${l}`));
      await expect(gpuTrainer.trainEpoch(null, 0.002, 0.67, { inputs: shifted.subarray(1) })).rejects.toThrow(/inputs have/);
    } finally {
      gpuTrainer.dispose();
    }
  });

  it("with the smaller network after pruning: the counts of the JS reference's full-shape run", async () => {
    const reference = finished(await runTraining(cpuTrainerAt(SHIFTED, train), SHIFTED, train.count, {}, { train }));
    const first = await GpuTrainer.create(ctx, initNetwork(SHIFTED.sizes, SHIFTED.seed), train, trainConfig(SHIFTED));
    const sizes: number[][] = [];
    try {
      const result = finished(
        await runTraining(first, SHIFTED, train.count, {}, {
          train,
          trainers: {
            train,
            makeTrainer: async (net, data, start) => {
              sizes.push(net.sizes);
              return GpuTrainer.create(ctx, net, data, trainConfig(SHIFTED), start);
            },
          },
        }),
      );
      expect(sizes[0]![0]).toBeLessThan(784);
      expect(epochTable(result).map(counts)).toEqual(epochTable(reference).map(counts));
      reference.net.weights.forEach((w, l) => expectClose(result.net.weights[l]!, w, { rel: 1e-4, abs: 1e-6 }, `weights ${l}`));
    } finally {
      first.dispose();
    }
  });
});
