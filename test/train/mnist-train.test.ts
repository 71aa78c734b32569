import { describe, expect, it } from 'vitest';
import { CpuTrainer } from '../../src/cpu/trainer';
import { countCorrect, predictAll } from '../../src/cpu/forward';
import { takeSamples } from '../../src/data/dataset';
import { initNetwork, keptPerLayer } from '../../src/model/network';
import { loadMnist } from '../../src/node/mnist';
import { SEED_RECIPE } from '../../src/train/recipe';
import { runTraining } from '../../src/train/run';

describe('short CPU training on MNIST', () => {
  it('3 epochs on 10 000 samples reach ≥ 80% test accuracy (84.05% as of writing), and pruning keeps weights at 0', async () => {
    const data = await loadMnist();
    const train = takeSamples(data.train, 10_000);
    const test = takeSamples(data.test, 2_000);
    const recipe = { ...SEED_RECIPE, epochs: 3, batchSize: 100, prune: { kind: 'once' as const, epoch: 1, threshold: 0.003 } };
    const net = initNetwork(recipe.sizes, recipe.seed);
    const trainer = new CpuTrainer(net, train, { batchSize: recipe.batchSize, confidence: recipe.confidence });
    const result = await runTraining(trainer, recipe, train.count);
    if (result.status !== 'finished') throw new Error(`training ${result.status}`);
    expect(result.epochs.map((e) => e.samples)).toEqual([10_000, 10_000, 10_000]);
    expect(result.epochs[1]!.pruned).not.toBeNull();
    const kept = keptPerLayer(result.net);
    expect(result.epochs[2]!.keptWeights).toBe(kept.reduce((a, b) => a + b, 0));
    expect(kept[0]).toBeLessThan(78_400);
    result.net.weights.forEach((w, l) => w.forEach((x, k) => {
      if (result.net.masks[l]![k] === 0) expect(x).toBe(0);
    }));
    const accuracy = countCorrect(predictAll(result.net, test), test.labels) / test.count;
    expect(accuracy).toBeGreaterThanOrEqual(0.8);
  });
});
