/**
 * The training loop of a recipe, for any backend: epochs, the learning-rate schedule (the seed's
 * per-epoch decay of learning rate and momentum by default), shuffling, and the pruning schedule
 * (on the CPU, between epochs).
 */
import { shiftedInputs } from '../data/augment';
import type { Dataset } from '../data/dataset';
import { DotNetRandom, type DotNetRandomState } from '../model/dotnet-random';
import { keptTotal, totalWeights, type Network } from '../model/network';
import { denseGradients, regrow, REGROWTH_SAMPLES } from '../prune/regrow';
import { gradualTarget, regrowthFraction } from '../prune/schedule';
import { pruneByThreshold, pruneToSparsity, sparsityRule, type PruneResult, type PruneScore } from '../prune/unstructured';
import type { Checkpoint } from './checkpoint';
import { CompactTrainer, type CompactTraining } from './compact-training';
import { softTargets, type Teacher } from './distill';
import { epochRates } from './optimizer';
import type { Recipe } from './recipe';
import type { EpochResult, Trainer, TrainerState } from './trainer';

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
  pruned: PruningPass | null;
}

/** What a pruning pass did: `kept` and `removed` by magnitude, then with regrowth the weights it `moved` per layer. */
export type PruningPass = PruneResult & { rule: string; moved?: number[] };

export interface TrainingEvents {
  onEpoch?(report: EpochReport): void;
  /**
   * The state to resume from, after every epoch (its pruning pass included). Awaited, so that
   * the checkpoint is on disk before training goes on.
   */
  onCheckpoint?(checkpoint: Checkpoint): Promise<void> | void;
  /**
   * Training goes on with the smaller network of `sizes` (options.trainers), from epoch `epoch`
   * (0-based): after a pruning pass removed neurons, or when the checkpoint resumed had.
   */
  onCompact?(sizes: number[], epoch: number): void;
}

export interface TrainingOptions {
  /** Continue this checkpoint's run instead of starting at epoch 1. */
  resume?: Checkpoint;
  /** Asked between batches (see `EpochOptions`): true stops training there (a checkpoint of that point is returned). */
  shouldStop?: (batchesDone: number) => boolean;
  /** Stored with every checkpoint (what the caller needs to continue the run). */
  run?: Checkpoint['run'];
  now?: () => number;
  /**
   * How the run makes trainers after its first: when a pruning pass takes a layer of the full
   * shape below the sparse-training crossover (its kernels change), and, unless `fullShape`, for
   * the smaller network once pruning has removed neurons and no pruning pass is left (after the
   * last pass, or in the checkpoint resumed; src/train/compact-training.ts): the same results,
   * faster. Absent: the first trainer throughout.
   */
  trainers?: CompactTraining;
  /** With `trainers`: train the full shape throughout (its trainers are made again only for their kernels). */
  fullShape?: boolean;
  /**
   * The training set the trainer was made with: what a recipe's shift augmentation moves each
   * epoch, the teacher sees, and regrowth takes its gradients from.
   */
  train?: Dataset;
  /** With a recipe that distills: the teacher, asked for the soft targets of each epoch's inputs. */
  teacher?: Teacher;
}

export type TrainingResult =
  | { status: 'finished'; net: Network; epochs: EpochReport[]; /** Seconds of training, pruning passes included. */ seconds: number }
  /** `checkpoint` continues at the batch where training stopped. */
  | { status: 'interrupted'; checkpoint: Checkpoint; epochs: EpochReport[]; seconds: number }
  /**
   * Epoch `epoch` (0-based) produced non-finite outputs or weights; `lastGood` is the state
   * before it.
   */
  | { status: 'diverged'; epoch: number; reason: string; lastGood: Checkpoint; epochs: EpochReport[]; seconds: number };

/** A Fisher–Yates permutation of [0, n) from the recipe's generator. */
function shuffledOrder(n: number, rng: DotNetRandom): Uint32Array {
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

const NO_COUNTS: EpochResult = { correct: 0, samples: 0, backpropagated: 0, nonFinite: 0, lossSum: 0 };

/** The counts of an epoch resumed after `a`, `b` those of the batches since (whose loss sum went on from `a`'s). */
function addCounts(a: EpochResult, b: EpochResult): EpochResult {
  return {
    correct: a.correct + b.correct,
    samples: a.samples + b.samples,
    backpropagated: a.backpropagated + b.backpropagated,
    nonFinite: a.nonFinite + b.nonFinite,
    lossSum: b.lossSum,
  };
}

/** The first non-finite weight or bias, as `layer l weight k is …`, or null. */
function firstNonFiniteWeight(net: Network): string | null {
  for (let l = 0; l < net.weights.length; l++) {
    const k = net.weights[l]!.findIndex((w) => !Number.isFinite(w));
    if (k >= 0) return `layer ${l} weight ${k} is ${net.weights[l]![k]}`;
    const o = net.biases?.[l]!.findIndex((b) => !Number.isFinite(b)) ?? -1;
    if (o >= 0) return `layer ${l} bias ${o} is ${net.biases![l]![o]}`;
  }
  return null;
}

/**
 * Trains `recipe` on `trainer` (whose weights are the run's start, or `options.resume`'s state),
 * pruning on the CPU between epochs. Every epoch's end is checked for divergence (non-finite
 * outputs in the trainer's counts, non-finite weights in the state read for the checkpoint).
 * `trainer` stays the caller's to dispose; the trainers of the smaller network are disposed here.
 */
export async function runTraining(
  trainer: Trainer,
  recipe: Recipe,
  sampleCount: number,
  events: TrainingEvents = {},
  options: TrainingOptions = {},
): Promise<TrainingResult> {
  const compacted: { trainer: CompactTrainer | null } = { trainer: null };
  const remade: { trainer: Trainer | null } = { trainer: null };
  try {
    return await trainEpochs(trainer, compacted, remade, recipe, sampleCount, events, options);
  } finally {
    compacted.trainer?.dispose();
    remade.trainer?.dispose();
  }
}

async function trainEpochs(
  first: Trainer,
  compacted: { trainer: CompactTrainer | null },
  /** The first trainer made again from its state after a pruning pass that wants other kernels. */
  remade: { trainer: Trainer | null },
  recipe: Recipe,
  sampleCount: number,
  events: TrainingEvents = {},
  options: TrainingOptions = {},
): Promise<TrainingResult> {
  const now = options.now ?? (() => performance.now());
  const resume = options.resume;
  const start = now() - 1000 * (resume?.elapsedSeconds ?? 0);
  const elapsed = (): number => (now() - start) / 1000;
  const total = totalWeights(recipe.sizes);
  const batchCount = Math.floor(sampleCount / recipe.batchSize);
  const stopRequested = options.shouldStop ?? (() => false);
  const reports: EpochReport[] = resume ? resume.reports.map((r) => ({ ...r })) : [];

  let rng = resume ? DotNetRandom.fromState(resume.rng) : new DotNetRandom(recipe.seed + 1);
  let { learningRate: lr, momentum } = epochRates(recipe, resume?.epoch ?? 0);
  let firstBatch = resume?.batch ?? 0;
  let partial = resume?.partial ?? NO_COUNTS;
  const initial = resume ?? null;
  const checkpointAt = (epoch: number, batch: number, rngBefore: DotNetRandomState, counts: EpochResult, state: TrainerState): Checkpoint => ({
    recipe,
    net: state.net,
    velocities: state.velocities,
    secondMoments: state.secondMoments,
    ...(state.biasVelocities ? { biasVelocities: state.biasVelocities, biasSecondMoments: state.biasSecondMoments } : {}),
    steps: state.steps,
    epoch,
    batch,
    learningRate: lr,
    momentum,
    rng: rngBefore,
    partial: counts,
    reports: reports.map((r) => ({ ...r })),
    elapsedSeconds: elapsed(),
    run: options.run ?? {},
  });
  let lastGood = initial ?? checkpointAt(0, 0, rng.getState(), NO_COUNTS, await first.state());
  let kept = keptTotal(lastGood.net);
  let trainer = first;
  // The first trainer switches to the smaller network once, when no pruning pass is left, and
  // only if an epoch is left to train with it.
  const compactFrom = async (state: TrainerState, epoch: number): Promise<void> => {
    if (!options.trainers || options.fullShape || epoch >= recipe.epochs) return;
    compacted.trainer ??= await CompactTrainer.start(state, recipe, options.trainers);
    if (!compacted.trainer) return;
    trainer = compacted.trainer;
    events.onCompact?.(compacted.trainer.sizes, epoch);
  };
  if (resume && !prunesFrom(recipe, resume.epoch)) await compactFrom(resume, resume.epoch);
  const shift = recipe.shift ?? 0;
  if (shift > 0 && !options.train) throw new Error('a recipe with shift augmentation needs its training set (TrainingOptions.train)');
  if (recipe.prune.kind === 'gradual' && recipe.prune.regrow && !options.train) {
    throw new Error('a recipe with regrowth needs its training set (TrainingOptions.train)');
  }
  let shifted: Float32Array | undefined;
  const distill = recipe.distill;
  if (distill && (!options.teacher || !options.train)) throw new Error('a recipe with distillation needs its teacher and training set (TrainingOptions.teacher and .train)');
  // The teacher's soft targets: once, or every epoch when the images move (it must see what the student sees).
  let soft: Float32Array | undefined;
  const teach = async (inputs: Float32Array): Promise<Float32Array> => {
    const { count } = options.train!;
    return softTargets(await options.teacher!.logits(inputs, count), count, recipe.sizes[recipe.sizes.length - 1]!, distill!.temperature);
  };

  for (let epoch = resume?.epoch ?? 0; epoch < recipe.epochs; epoch++) {
    const rngBefore = rng.getState();
    const order = recipe.shuffle ? shuffledOrder(sampleCount, rng) : null;
    if (shift > 0) shifted = shiftedInputs(options.train!, shift, recipe.seed, epoch, shifted);
    if (distill && (!soft || shift > 0)) soft = await teach(shifted ?? options.train!.inputs);
    const epochOptions = { firstBatch, shouldStop: stopRequested, lossSumBefore: partial.lossSum, inputs: shifted, softTargets: soft };
    const trained = await trainer.trainEpoch(order, lr, momentum, epochOptions);
    const counts = addCounts(partial, trained);
    if (counts.nonFinite > 0) {
      const reason = `${counts.nonFinite} of ${counts.samples} training samples gave non-finite outputs`;
      return { status: 'diverged', epoch, reason, lastGood, epochs: reports, seconds: elapsed() };
    }
    const batchesDone = firstBatch + trained.samples / recipe.batchSize;
    if (batchesDone < batchCount) {
      const checkpoint = checkpointAt(epoch, batchesDone, rngBefore, counts, await trainer.state());
      return { status: 'interrupted', checkpoint, epochs: reports, seconds: elapsed() };
    }
    firstBatch = 0;
    partial = NO_COUNTS;

    const pruned = await prunePass(trainer, recipe, epoch, () => {
      const train = options.train!;
      const samples = order ? order.subarray(0, REGROWTH_SAMPLES) : Uint32Array.from({ length: Math.min(REGROWTH_SAMPLES, sampleCount) }, (_, i) => i);
      return { inputs: shifted ?? train.inputs, labels: train.labels, samples };
    });
    if (pruned) kept = pruned.kept.reduce((a, b) => a + b, 0);
    const state = await trainer.state();
    const badWeight = firstNonFiniteWeight(state.net);
    if (badWeight) return { status: 'diverged', epoch, reason: `the weights overflowed (${badWeight})`, lastGood, epochs: reports, seconds: elapsed() };
    const report: EpochReport = {
      ...counts,
      epoch,
      learningRate: lr,
      momentum,
      keptWeights: kept,
      totalWeights: total,
      elapsed: elapsed(),
      pruned,
    };
    reports.push(report);
    events.onEpoch?.(report);
    // Once the last pruning pass is done: every new shape costs the GPU its pipelines again.
    if (pruned && !prunesFrom(recipe, epoch + 1)) await compactFrom(state, epoch + 1);
    // A pass that takes a layer below the sparse-training crossover while the full shape trains
    // on (a gradual schedule's middle, or nothing to compact): the trainer is made again.
    if (pruned && options.trainers && trainer !== compacted.trainer && trainer.kernelsOutdated?.()) {
      const next = await options.trainers.makeTrainer(state.net, options.trainers.train, state);
      remade.trainer?.dispose();
      remade.trainer = trainer = next;
    }
    ({ learningRate: lr, momentum } = epochRates(recipe, epoch + 1));
    lastGood = checkpointAt(epoch + 1, 0, rng.getState(), NO_COUNTS, state);
    await events.onCheckpoint?.(lastGood);
    if (epoch + 1 < recipe.epochs && stopRequested(0)) {
      return { status: 'interrupted', checkpoint: lastGood, epochs: reports, seconds: elapsed() };
    }
  }
  return { status: 'finished', net: lastGood.net, epochs: reports, seconds: elapsed() };
}

/**
 * The recipe's pruning pass after epoch `epoch` (0-based), or null when it has none; `regrowth` is
 * the share of kept weights the pass moves, null when the schedule does not regrow.
 */
function pruningAt(
  recipe: Recipe,
  epoch: number,
): { apply: (net: Network) => PruneResult; rule: string; regrowth: number | null; score?: PruneScore } | null {
  const schedule = recipe.prune;
  if (schedule.kind === 'once' && epoch === schedule.epoch) {
    return { apply: (net) => pruneByThreshold(net, schedule.threshold), rule: `w² < ${schedule.threshold}`, regrowth: null };
  }
  if (schedule.kind === 'once-sparsity' && epoch === schedule.epoch) {
    return {
      apply: (net) => pruneToSparsity(net, schedule.sparsity, schedule.scope, schedule.score),
      rule: sparsityRule(String(schedule.sparsity), schedule.scope, schedule.score),
      regrowth: null,
    };
  }
  if (schedule.kind === 'gradual') {
    const target = gradualTarget(schedule, epoch);
    if (target === null) return null;
    const regrowth = schedule.regrow ? regrowthFraction(schedule, epoch) : null;
    const sparsity = typeof target === 'number' ? target.toFixed(4) : target.map((t) => t.toFixed(4)).join(',');
    const rule = `gradual ${sparsityRule(sparsity, schedule.scope, schedule.score)}${regrowth === null ? '' : `, regrowth ${regrowth.toFixed(4)}`}`;
    return { apply: (net) => pruneToSparsity(net, target, schedule.scope, schedule.score), rule, regrowth, score: schedule.score };
  }
  return null;
}

/** Whether a pruning pass is still to come after epoch `epoch` or later. */
function prunesFrom(recipe: Recipe, epoch: number): boolean {
  for (let e = epoch; e < recipe.epochs; e++) if (pruningAt(recipe, e)) return true;
  return false;
}

/** The samples a regrowing pass takes its gradients from: the epoch's inputs, and which of them. */
interface GradientSamples {
  inputs: Float32Array;
  labels: Uint8Array;
  samples: ArrayLike<number>;
}

async function prunePass(trainer: Trainer, recipe: Recipe, epoch: number, gradientSamples: () => GradientSamples): Promise<PruningPass | null> {
  const pruning = pruningAt(recipe, epoch);
  if (!pruning) return null;
  const { net } = await trainer.state();
  const result: PruningPass = { ...pruning.apply(net), rule: pruning.rule };
  if (pruning.regrowth !== null) {
    const { inputs, labels, samples } = gradientSamples();
    result.moved = pruning.regrowth > 0 ? regrow(net, denseGradients(net, inputs, labels, samples), pruning.regrowth, pruning.score) : net.weights.map(() => 0);
  }
  await trainer.setMasks(net.masks);
  return result;
}
