/**
 * The training loop of a recipe, for any backend: epochs, the per-epoch decay of learning rate
 * and momentum, shuffling, and the pruning schedule (on the CPU, between epochs).
 */
import { DotNetRandom } from '../model/dotnet-random';
import { keptTotal, totalWeights, type Network } from '../model/network';
import { gradualTarget } from '../prune/schedule';
import { pruneByThreshold, pruneToSparsity, type PruneResult } from '../prune/unstructured';
import type { Recipe } from './recipe';
import type { EpochResult, Trainer } from './trainer';

export interface EpochReport extends EpochResult {
  /** 0-based. */
  epoch: number;
  learningRate: number;
  momentum: number;
  /** Weights kept after this epoch (and its pruning pass). */
  keptWeights: number;
  totalWeights: number;
  /** Seconds since training started. */
  elapsed: number;
  /** Set when this epoch ended with a pruning pass. */
  pruned: (PruneResult & { rule: string }) | null;
}

export interface TrainingEvents {
  onEpoch?(report: EpochReport): void;
}

export interface TrainingResult {
  net: Network;
  epochs: EpochReport[];
  /** Seconds of training, pruning passes included. */
  seconds: number;
}

/** A Fisher–Yates permutation of [0, n) from the recipe's generator. */
export function shuffledOrder(n: number, rng: DotNetRandom): Uint32Array {
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = rng.nextInt() % (i + 1);
    const t = order[i]!;
    order[i] = order[j]!;
    order[j] = t;
  }
  return order;
}

export async function runTraining(
  trainer: Trainer,
  recipe: Recipe,
  sampleCount: number,
  events: TrainingEvents = {},
  now: () => number = () => performance.now(),
): Promise<TrainingResult> {
  const start = now();
  const total = totalWeights(recipe.sizes);
  const rng = new DotNetRandom(recipe.seed + 1);
  let kept = keptTotal((await trainer.state()).net);
  let lr = recipe.learningRate;
  let momentum = recipe.momentum;
  const reports: EpochReport[] = [];
  for (let epoch = 0; epoch < recipe.epochs; epoch++) {
    const order = recipe.shuffle ? shuffledOrder(sampleCount, rng) : null;
    const result = await trainer.trainEpoch(order, lr, momentum);
    const pruned = await prunePass(trainer, recipe, epoch);
    if (pruned) kept = pruned.kept.reduce((a, b) => a + b, 0);
    const report: EpochReport = {
      ...result,
      epoch,
      learningRate: lr,
      momentum,
      keptWeights: kept,
      totalWeights: total,
      elapsed: (now() - start) / 1000,
      pruned,
    };
    reports.push(report);
    events.onEpoch?.(report);
    // The seed decays in float32 arithmetic.
    lr = Math.fround(lr * recipe.factor);
    momentum = Math.fround(momentum * recipe.factor);
  }
  const { net } = await trainer.state();
  return { net, epochs: reports, seconds: (now() - start) / 1000 };
}

async function prunePass(trainer: Trainer, recipe: Recipe, epoch: number): Promise<(PruneResult & { rule: string }) | null> {
  const schedule = recipe.prune;
  let apply: ((net: Network) => PruneResult) | null = null;
  let rule = '';
  if (schedule.kind === 'once' && epoch === schedule.epoch) {
    apply = (net) => pruneByThreshold(net, schedule.threshold);
    rule = `w² < ${schedule.threshold}`;
  } else if (schedule.kind === 'once-sparsity' && epoch === schedule.epoch) {
    apply = (net) => pruneToSparsity(net, schedule.sparsity, schedule.scope);
    rule = `${schedule.scope} sparsity ${schedule.sparsity}`;
  } else if (schedule.kind === 'gradual') {
    const target = gradualTarget(schedule, epoch);
    if (target !== null) {
      apply = (net) => pruneToSparsity(net, target, schedule.scope);
      rule = `gradual ${schedule.scope} sparsity ${typeof target === 'number' ? target.toFixed(4) : target.map((t) => t.toFixed(4)).join(',')}`;
    }
  }
  if (!apply) return null;
  const { net } = await trainer.state();
  const result = apply(net);
  await trainer.setMasks(net.masks);
  return { ...result, rule };
}
