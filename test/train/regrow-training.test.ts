/**
 * Regrowth in the training loop on the JS reference: each pass of a regrowing gradual schedule
 * moves weights (the kept counts stay the schedule's), the passes go on at the final sparsity
 * until the regrowth ends, and the run ends with other masks than the same schedule without it.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { takeSamples, type Dataset } from '../../src/data/dataset';
import { keptPerLayer } from '../../src/model/network';
import { loadMnist } from '../../src/node/mnist';
import type { Recipe } from '../../src/train/recipe';
import { runTraining } from '../../src/train/run';
import { cpuTrainerAt, finished, SMALL_SEED_RECIPE } from '../helpers/training-runs';

let train: Dataset;

beforeAll(async () => {
  train = takeSamples((await loadMnist()).train, 1_000);
});

const GRADUAL: Recipe = {
  ...SMALL_SEED_RECIPE,
  epochs: 6,
  shuffle: true,
  prune: { kind: 'gradual', start: 1, end: 2, every: 1, initialSparsity: 0.5, sparsity: [0.9, 0.6, 0.2], scope: 'layer' },
};
const REGROWING: Recipe = { ...GRADUAL, prune: { ...GRADUAL.prune, regrow: { fraction: 0.2, end: 4 } } as Recipe['prune'] };

describe('regrowth in training (JS reference)', () => {
  it('moves weights at every pass before its end, keeps the schedule\'s counts, and ends with other masks', async () => {
    const plain = finished(await runTraining(cpuTrainerAt(GRADUAL, train), GRADUAL, train.count, {}, { train }));
    const regrown = finished(await runTraining(cpuTrainerAt(REGROWING, train), REGROWING, train.count, {}, { train }));
    expect(plain.epochs.map((e) => e.pruned !== null)).toEqual([false, true, true, false, false, false]);
    expect(regrown.epochs.map((e) => e.pruned !== null)).toEqual([false, true, true, true, true, false]);
    expect(regrown.epochs.map((e) => e.keptWeights)).toEqual([...plain.epochs.map((e) => e.keptWeights)]);
    const moved = regrown.epochs.map((e) => e.pruned?.moved?.reduce((a, b) => a + b, 0) ?? 0);
    expect(moved.slice(1, 4).every((n) => n > 0), `moved per epoch ${moved}`).toBe(true);
    expect(regrown.epochs[4]!.pruned!.moved).toEqual([0, 0, 0]); // the share is 0 at the last pass
    expect(regrown.epochs[3]!.pruned!.removed).toEqual([0, 0, 0]); // past the schedule's end nothing more is pruned
    expect(keptPerLayer(regrown.net)).toEqual(keptPerLayer(plain.net));
    expect(regrown.net.masks.some((m, l) => m.some((v, k) => v !== plain.net.masks[l]![k]))).toBe(true);
    regrown.net.weights.forEach((w, l) => {
      const pruned = w.filter((_, k) => regrown.net.masks[l]![k] === 0);
      expect(pruned.every((v) => v === 0), `layer ${l}: every pruned weight is 0`).toBe(true);
    });
  });

  it('needs the training set', async () => {
    await expect(runTraining(cpuTrainerAt(REGROWING, train), REGROWING, train.count)).rejects.toThrow(/regrowth needs its training set/);
  });
});
