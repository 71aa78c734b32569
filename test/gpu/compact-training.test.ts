/**
 * The training loop on the GPU going on with the smaller network after the pruning pass
 * (src/train/compact-training.ts), against the JS reference training the full shape: the same
 * epoch counts, and the expanded network within the GPU trainer's tolerance of the reference's
 * (see trainer.test.ts: the GPU sums the same products in another order). The compaction itself
 * is exact; only the GPU's float32 summation order differs. With biases (layer 2 pruned harder,
 * as a neuron whose bias still trains keeps it when only its inputs go), the biases and their
 * gathered optimizer state too. The smaller network's trainer is made with final masks, so its
 * sparse first layer runs its forward pass as a program of its own (sparse_unrolled's training
 * form), and refuses to change that mask.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { takeSamples, type Dataset } from '../../src/data/dataset';
import { GpuTrainer } from '../../src/gpu/trainer';
import { initNetwork, type Network } from '../../src/model/network';
import { loadMnist } from '../../src/node/mnist';
import type { TrainerFactory } from '../../src/train/compact-training';
import type { Recipe } from '../../src/train/recipe';
import { runTraining, type EpochReport } from '../../src/train/run';
import { expectClose } from '../helpers/expect-close';
import { testGpu } from '../helpers/gpu';
import { ADAM_FIELDS, cpuTrainerAt, epochTable, finished, SMALL_SEED_RECIPE, trainConfig } from '../helpers/training-runs';

const gpu = await testGpu();

let train: Dataset;

beforeAll(async () => {
  train = takeSamples((await loadMnist()).train, 500);
});

/** Hidden neurons of layer 1 lose all their inputs; 5 batches an epoch, pruned after epoch 2 of 3. */
const SEED_SMALL: Recipe = { ...SMALL_SEED_RECIPE, epochs: 3, prune: { kind: 'once-sparsity', epoch: 1, sparsity: [0.995, 0.2, 0], scope: 'layer' } };
/**
 * With biases: layer 1's neurons lose their outgoing weights instead. Seed 1: from the seed
 * recipe's 1337, Adam brings one sample's hidden pre-activation within 1e-6 of 0 in epoch 2, where
 * the float32 summation order decides its ReLU gate, and the two runs part legitimately.
 */
const BIASED_SMALL: Recipe = { ...SEED_SMALL, bias: true, seed: 1, prune: { kind: 'once-sparsity', epoch: 1, sparsity: [0.995, 0.9, 0], scope: 'layer' } };

describe.skipIf(!gpu.context)(`training the pruned network as the smaller one on the GPU ${gpu.label}`, () => {
  const ctx = gpu.context!;

  /**
   * `recipe` on the JS reference (the full shape throughout) and on the GPU going on with the
   * smaller network; `made` lists the trainers made after the first.
   */
  async function bothRuns(recipe: Recipe) {
    const reference = finished(await runTraining(cpuTrainerAt(recipe, train), recipe, train.count, {}, { train }));
    const made: { sizes: number[]; backend: string; kernels: string[]; firstForward: string }[] = [];
    const first = await GpuTrainer.create(ctx, initNetwork(recipe.sizes, recipe.seed, recipe.bias), train, trainConfig(recipe));
    try {
      const makeTrainer: TrainerFactory = async (net, data, start, options) => {
        const trainer = await GpuTrainer.create(ctx, net, data, trainConfig(recipe), start, options);
        made.push({ sizes: net.sizes, backend: trainer.backend, kernels: trainer.layerKernels, firstForward: trainer.lastBatchDispatches()[0]!.kernel.name });
        return trainer;
      };
      const result = finished(await runTraining(first, recipe, train.count, {}, { trainers: { train, makeTrainer }, train }));
      return { reference, result, made };
    } finally {
      first.dispose();
    }
  }

  /** The GPU's network within its tolerance of the reference's: weights, biases and the same masks. */
  function expectSameNetwork(result: Network, reference: Network): void {
    reference.weights.forEach((w, l) => {
      expectClose(result.weights[l]!, w, { rel: 1e-4, abs: 1e-6 }, `weights ${l}`);
      expect(result.masks[l]).toEqual(reference.masks[l]);
    });
    reference.biases?.forEach((b, l) => expectClose(result.biases![l]!, b, { rel: 1e-4, abs: 1e-6 }, `biases ${l}`));
  }

  /** The epoch tables without the loss sums (float32 logits summed in another order: close, not equal). */
  const counts = (r: { epochs: EpochReport[] }) => epochTable(r).map(({ lossSum: _lossSum, ...rest }) => rest);

  for (const recipe of [SEED_SMALL, { ...SEED_SMALL, ...ADAM_FIELDS } as Recipe, BIASED_SMALL, { ...BIASED_SMALL, ...ADAM_FIELDS } as Recipe]) {
    it(`${recipe.optimizer ?? 'seed'}${recipe.bias ? ' with biases' : ''}: the counts of the JS reference's full-shape run, the network within tolerance`, async () => {
      const { reference, result, made } = await bothRuns(recipe);
      expect(made).toHaveLength(1);
      expect(made[0]!.backend).toBe('gpu');
      expect(made[0]!.sizes[0]).toBeLessThan(784);
      expect(made[0]!.sizes[1]).toBeLessThan(24);
      expect(made[0]!.kernels[0]).toBe('sparse');
      expect(made[0]!.firstForward).toMatch(/^sparse_unrolled\[/);
      expect(counts(result)).toEqual(counts(reference));
      result.epochs.forEach((e, k) => expect(e.lossSum).toBeCloseTo(reference.epochs[k]!.lossSum, 2));
      expect(result.net.sizes).toEqual(recipe.sizes);
      expectSameNetwork(result.net, reference.net);
      expect(result.net.biases === undefined).toBe(!recipe.bias);
    });
  }

  for (const { label, recipe } of [
    {
      // Layer 0 keeps 50%, then 10.6% (below the crossover of 20%), then 5% after epochs 2, 3, 4.
      label: 'a gradual schedule whose middle pass takes a layer below the sparse crossover',
      recipe: { ...SMALL_SEED_RECIPE, epochs: 5, prune: { kind: 'gradual', start: 1, end: 3, every: 1, initialSparsity: 0.5, sparsity: [0.95, 0.3, 0], scope: 'layer' } } as Recipe,
    },
    {
      // Layer 0 keeps 10.6%, then 5% after epochs 2 and 3; the passes move weights on to epoch 4.
      label: 'a regrowing gradual schedule (the same weights moved as on the reference)',
      recipe: {
        ...SMALL_SEED_RECIPE,
        epochs: 6,
        shuffle: true,
        prune: { kind: 'gradual', start: 1, end: 2, every: 1, initialSparsity: 0.9, sparsity: [0.95, 0.3, 0], scope: 'layer', regrow: { fraction: 0.2, end: 3 } },
      } as Recipe,
    },
    {
      // Grown weights start with Adam's moments at 0 and biases go on learning (seed 1: see BIASED_SMALL).
      label: 'a regrowing gradual schedule with Adam and biases',
      recipe: {
        ...SMALL_SEED_RECIPE,
        ...ADAM_FIELDS,
        bias: true,
        seed: 1,
        epochs: 6,
        shuffle: true,
        prune: { kind: 'gradual', start: 1, end: 2, every: 1, initialSparsity: 0.9, sparsity: [0.95, 0.3, 0], scope: 'layer', regrow: { fraction: 0.2, end: 3 } },
      } as Recipe,
    },
  ]) {
    it(`${label}: the full-shape trainer is made again with that layer sparse, then the smaller one`, async () => {
      const before = ctx.tuning;
      ctx.tuning = { ...before, sparseTrainingBelow: 0.2 };
      try {
        const { reference, result, made } = await bothRuns(recipe);
        expect(made.map((m) => m.kernels)).toEqual([
          ['sparse', 'dense', 'dense'],
          ['sparse', 'dense', 'dense'],
        ]);
        expect(made[0]!.sizes).toEqual(recipe.sizes);
        // Made while passes were left, the full-shape trainer runs the CSR forward kernel; the smaller one its own program.
        expect(made.map((m) => m.firstForward.split('[')[0])).toEqual(['sparse_train_forward', 'sparse_unrolled']);
        expect(made[1]!.sizes[0]).toBeLessThan(784);
        // The epoch table includes each pass's report: with regrowth, the weights it moved per layer.
        expect(counts(result)).toEqual(counts(reference));
        if (recipe.prune.kind === 'gradual' && recipe.prune.regrow) {
          expect(result.epochs[1]!.pruned!.moved!.slice(0, 2).every((n) => n > 0)).toBe(true); // layer 2 keeps every weight: none to move
        }
        expectSameNetwork(result.net, reference.net);
      } finally {
        ctx.tuning = before;
      }
    });
  }

  it('a trainer made with final masks keeps the mask of a layer that runs its own program (a changed one is refused), unless the tuning prefers the CSR kernel', async () => {
    const net = initNetwork([784, 24, 10], 3);
    net.masks[0]!.forEach((_, p) => (net.masks[0]![p] = p % 17 === 0 ? 1 : 0));
    const trainer = await GpuTrainer.create(ctx, net, train, trainConfig(SMALL_SEED_RECIPE), undefined, { masksFinal: true });
    try {
      expect(trainer.lastBatchDispatches()[0]!.kernel.name).toMatch(/^sparse_unrolled\[/);
      await trainer.setMasks(net.masks);
      const changed = net.masks.map((m) => m.slice());
      changed[0]![0] = 0;
      await expect(trainer.setMasks(changed)).rejects.toThrow(/layer 0's forward pass runs the program of its mask, made as final/);
    } finally {
      trainer.dispose();
    }
    // A tuning that found the CSR kernel faster keeps it, and the masks free.
    const before = ctx.tuning;
    ctx.tuning = { ...before, unrolledTrainingForward: false };
    try {
      const csr = await GpuTrainer.create(ctx, net, train, trainConfig(SMALL_SEED_RECIPE), undefined, { masksFinal: true });
      expect(csr.lastBatchDispatches()[0]!.kernel.name).toMatch(/^sparse_train_forward\[/);
      csr.dispose();
    } finally {
      ctx.tuning = before;
    }
  });
});
