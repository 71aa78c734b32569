/**
 * Shift augmentation in the training loop (recipe.shift) on the JS reference: each epoch trains on
 * that epoch's shifted images, the smaller-network training after a pruning pass sees the same
 * pixels (bit-identical to the full shape), and a run resumed from a checkpoint goes on with the
 * same images as a run never stopped.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { CpuTrainer } from '../../src/cpu/trainer';
import { shiftedInputs } from '../../src/data/augment';
import { takeSamples, type Dataset } from '../../src/data/dataset';
import { initNetwork } from '../../src/model/network';
import { loadMnist } from '../../src/node/mnist';
import type { Checkpoint } from '../../src/train/checkpoint';
import { epochRates } from '../../src/train/optimizer';
import type { Recipe } from '../../src/train/recipe';
import { runTraining } from '../../src/train/run';
import { cpuTrainerAt, epochTable, finished, SMALL_SEED_RECIPE, trainConfig } from '../helpers/training-runs';

let train: Dataset;

beforeAll(async () => {
  train = takeSamples((await loadMnist()).train, 600);
});

/** Pruned hard after epoch 2 of 4, so that the smaller network reads fewer pixels. */
const SHIFTED: Recipe = { ...SMALL_SEED_RECIPE, batchSize: 60, shift: 2, prune: { kind: 'once-sparsity', epoch: 1, sparsity: [0.98, 0.5, 0], scope: 'layer' } };

const bytes = (a: Float32Array): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

describe('shift augmentation in the training loop (JS reference)', () => {
  it("trains each epoch on that epoch's shifted images, as epochs driven by hand do", async () => {
    const recipe: Recipe = { ...SHIFTED, prune: { kind: 'none' } };
    const run = finished(await runTraining(cpuTrainerAt(recipe, train), recipe, train.count, {}, { train }));
    const byHand = new CpuTrainer(initNetwork(recipe.sizes, recipe.seed), train, trainConfig(recipe));
    for (let epoch = 0; epoch < recipe.epochs; epoch++) {
      const { learningRate, momentum } = epochRates(recipe, epoch);
      const result = await byHand.trainEpoch(null, learningRate, momentum, { inputs: shiftedInputs(train, 2, recipe.seed, epoch) });
      expect(result.correct).toBe(run.epochs[epoch]!.correct);
    }
    const state = await byHand.state();
    state.net.weights.forEach((w, l) => expect(bytes(run.net.weights[l]!).equals(bytes(w)), `weights ${l}`).toBe(true));

    const unshifted = finished(await runTraining(cpuTrainerAt(SMALL_SEED_RECIPE, train), { ...recipe, shift: undefined }, train.count));
    expect(epochTable(unshifted)).not.toEqual(epochTable(run));
  });

  it('gives the same run when the pruned network trains as the smaller one', async () => {
    const full = finished(await runTraining(cpuTrainerAt(SHIFTED, train), SHIFTED, train.count, {}, { train }));
    const sizes: number[][] = [];
    const compact = finished(
      await runTraining(cpuTrainerAt(SHIFTED, train), SHIFTED, train.count, {}, {
        train,
        trainers: {
          train,
          makeTrainer: async (net, data, start) => {
            sizes.push(net.sizes);
            return new CpuTrainer(net, data, trainConfig(SHIFTED), start);
          },
        },
      }),
    );
    expect(sizes).toHaveLength(1);
    expect(sizes[0]![0]).toBeLessThan(784);
    expect(epochTable(compact)).toEqual(epochTable(full));
    full.net.weights.forEach((w, l) => expect(bytes(compact.net.weights[l]!).equals(bytes(w)), `weights ${l}`).toBe(true));
  });

  it('resumes from a checkpoint with the images a run never stopped would have seen', async () => {
    const checkpoints: Checkpoint[] = [];
    const whole = finished(await runTraining(cpuTrainerAt(SHIFTED, train), SHIFTED, train.count, { onCheckpoint: (c) => void checkpoints.push(c) }, { train }));
    const from = checkpoints[2]!;
    const resumed = finished(await runTraining(cpuTrainerAt(SHIFTED, train, from), SHIFTED, train.count, {}, { train, resume: from }));
    expect(epochTable(resumed)).toEqual(epochTable(whole));
    whole.net.weights.forEach((w, l) => expect(bytes(resumed.net.weights[l]!).equals(bytes(w)), `weights ${l}`).toBe(true));
  });

  it('needs the training set to shift', async () => {
    await expect(runTraining(cpuTrainerAt(SHIFTED, train), SHIFTED, train.count)).rejects.toThrow(/training set/);
  });
});
