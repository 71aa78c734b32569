/** The small MNIST runs the checkpoint and compact-training tests train on the JS reference. */
import { CpuTrainer } from '../../src/cpu/trainer';
import type { Dataset } from '../../src/data/dataset';
import { initNetwork } from '../../src/model/network';
import type { Checkpoint } from '../../src/train/checkpoint';
import { optimizerOf } from '../../src/train/optimizer';
import { SEED_RECIPE, type Recipe } from '../../src/train/recipe';
import type { EpochReport, TrainingResult } from '../../src/train/run';
import type { TrainConfig } from '../../src/train/trainer';

/** The seed's recipe at a size that trains 1 000 samples in a fraction of a second per epoch: 10 batches an epoch. */
export const SMALL_SEED_RECIPE: Recipe = {
  ...SEED_RECIPE,
  sizes: [784, 24, 16, 10],
  epochs: 4,
  batchSize: 100,
  learningRate: 0.002,
  prune: { kind: 'once', epoch: 1, threshold: 0.004 },
};

/** Adam with L2 decay on a cosine schedule: the recipe fields over a small recipe. */
export const ADAM_FIELDS: Partial<Recipe> = {
  optimizer: 'adam',
  learningRate: 0.003,
  momentum: 0,
  weightDecay: 1e-4,
  beta1: 0.9,
  beta2: 0.999,
  eps: 1e-8,
  lrSchedule: 'cosine',
};

export function trainConfig(recipe: Recipe): TrainConfig {
  const distill = recipe.distill ? { distill: { weight: recipe.distill.weight, temperature: recipe.distill.temperature } } : {};
  return { batchSize: recipe.batchSize, confidence: recipe.confidence, updateRule: optimizerOf(recipe), ...distill };
}

/** A JS reference trainer at the recipe's start, or at `from`'s state. */
export function cpuTrainerAt(recipe: Recipe, train: Dataset, from?: Checkpoint): CpuTrainer {
  return new CpuTrainer(from?.net ?? initNetwork(recipe.sizes, recipe.seed, recipe.bias), train, trainConfig(recipe), from);
}

export function finished(result: TrainingResult): Extract<TrainingResult, { status: 'finished' }> {
  if (result.status !== 'finished') throw new Error(`training ${result.status}`);
  return result;
}

/** The per-epoch table without the times. */
export function epochTable(result: { epochs: EpochReport[] }): Omit<EpochReport, 'elapsed'>[] {
  return result.epochs.map(({ elapsed: _elapsed, ...rest }) => rest);
}
