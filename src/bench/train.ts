/**
 * `bench train`: training throughput of the seed's MLP (784-100-100-10, batch 800) on the first
 * batches of MNIST, for our WebGPU trainer (each matmul version, and its default kernels from a
 * fresh start and after a few epochs, when most samples are confident and skip the backward
 * pass), TF.js's `webgpu` backend on the same adapter, and the JS reference at both stages, plus
 * the ceiling (our best matmul on a large square shape), our trainer after a pruning pass (the
 * trained state pruned to the seed's sparsity, trained as the smaller network it is), the time of
 * each dispatch of one batch at each of our three stages run alone, and (unless quick) one whole
 * run of the seed recipe on the GPU: its epoch time before and after the pruning pass, test
 * accuracy and weights kept.
 *
 * Everything runs in one process, round-robin: every case is timed once per round and the
 * figure is the median over rounds, because the machine is shared and its speed drifts.
 */
import { evaluateGpu } from '../cli/evaluate';
import { grouped } from '../util/format';
import { CpuTrainer } from '../cpu/trainer';
import { takeSamples, type Dataset } from '../data/dataset';
import { adapterName, type AdapterDescription, type GpuContext } from '../gpu/device';
import { defaultMatmulVersion, matmulKernel, subgroupSize, type MatmulVersion } from '../gpu/kernels';
import { GpuTrainer, type GpuTrainerOptions } from '../gpu/trainer';
import { waitForGpu } from '../gpu/wait';
import { applyMasks, cloneNetwork, initNetwork, SEED_SIZES, type Network } from '../model/network';
import { pruneToSparsity } from '../prune/unstructured';
import { smallerTraining, type TrainerFactory } from '../train/compact-training';
import { SEED_RECIPE, type Recipe } from '../train/recipe';
import { runTraining } from '../train/run';
import type { OptimizerState, TrainConfig, TrainerState } from '../train/trainer';
import { UserError } from '../util/errors';
import { loadTfjsWebgpu, TfjsMlpTrainer } from './tfjs-peer';
import { benchRepeats, dispatchCase, kernelTimingMethod, matmulCase, median, runRounds, type KernelTimingMethod, type TimedCase } from './timing';

export interface TrainBenchSettings {
  sizes: number[];
  batch: number;
  /** Batches in one timed epoch: the first `batches · batch` training samples. */
  batches: number;
  /** Timed rounds; each figure is the median over them. */
  repeats: number;
  /** The JS reference's second stage starts from the state after this many epochs of the seed recipe... */
  trainedEpochs: number;
  /** ...over this many training samples. */
  trainedSamples: number;
  /** The ceiling is an n×n×n matmul. */
  ceilingSize: number;
  /** Milliseconds of GPU work one ceiling or dispatch timing aims at. */
  kernelTimingMs: number;
  /** Run this recipe once on the GPU, on the whole training set (null: skip, as --quick does). */
  seedRecipe: Recipe | null;
}

export function trainBenchSettings(quick: boolean, repeats?: number): TrainBenchSettings {
  const common = { sizes: [...SEED_SIZES], batch: SEED_RECIPE.batchSize, trainedEpochs: 5, repeats: benchRepeats(quick, repeats) };
  return quick
    ? { ...common, batches: 3, trainedSamples: 12_000, ceilingSize: 512, kernelTimingMs: 30, seedRecipe: null }
    : { ...common, batches: 10, trainedSamples: 60_000, ceilingSize: 1024, kernelTimingMs: 150, seedRecipe: { ...SEED_RECIPE, sizes: [...SEED_RECIPE.sizes] } };
}

export type ContenderName = 'webgpu-prune' | 'tfjs-webgpu' | 'js-reference';

export interface TrainBenchResult {
  name: ContenderName;
  /** What distinguishes rows with the same name: the matmul version, or the stage. */
  variant: string;
  batch: number;
  batches: number;
  samplesPerSec: number;
  /** FLOPs of the dense training step per second; the JS reference skips work, so its figure is effective. */
  gflops: number;
  msPerBatch: number;
  /** Fastest and slowest round. */
  msPerBatchRange: [number, number];
  matmulVersion?: MatmulVersion;
  /** The kernels GpuTrainer picks on this device: the default version's row and the stage rows. */
  isDefault?: boolean;
  stage?: TrainStage;
  /** Share of samples backpropagated (the rest are skipped as confident). */
  backpropagatedFraction?: number;
}

/**
 * Where a stage's epochs start: the recipe's initial network; its state after `trainedEpochs`
 * epochs; that state pruned to the seed recipe's sparsity and trained `trainedEpochs` more epochs
 * as the smaller network the structured step leaves, as `train` does after a pruning pass (ours
 * only).
 */
export type TrainStage = 'fresh' | 'trained' | 'pruned';

/** Each dispatch of one batch of our trainer at a stage, timed alone (repeated in one pass). */
export interface StageKernels {
  stage: TrainStage;
  /** The sizes the stage's trainer runs: the smaller network after pruning. */
  sizes: number[];
  /** Labelled as the trainer labels its dispatches. */
  kernels: { kernel: string; ms: number }[];
  sumMs: number;
  /** The stage's whole epoch per batch, from its row. */
  measuredStepMs: number;
}

/** One whole run of the seed recipe on the GPU, as `train` runs it. */
export interface SeedRecipeRun {
  /** Mean seconds of the epochs before the one that ends with the pruning pass... */
  epochSecondsBeforePrune: number;
  /** ...and of the epochs after it, `compactSeconds` left out. */
  epochSecondsAfterPrune: number;
  /** Once, between the pruning pass and the next epoch: the switch to the smaller network (0 when the run kept the full shape). */
  compactSeconds: number;
  /** Percent of the test set. */
  testAccuracy: number;
  keptWeights: number;
  totalWeights: number;
  epochs: number;
  /** The whole run, pruning pass included, test set left out. */
  seconds: number;
  /** The sizes the run trained after pruning (the smaller network), or null when it kept the full shape. */
  trainedSizes: number[] | null;
}

export interface KernelTiming {
  kernel: string;
  ms: number;
  gflops: number | null;
}

export interface TrainBenchReport {
  adapter: AdapterDescription;
  tfjs: { version: string; adapter: { vendor: string; architecture: string } };
  settings: TrainBenchSettings & { lr: number; momentum: number; confidence: number; initSeed: number };
  /** FLOPs of one dense training step (see `stepFlops`). */
  flopsPerStep: number;
  results: TrainBenchResult[];
  /** Samples/s of the first over the second, the median over rounds of the ratio within a round. */
  ratios: {
    oursOverTfjs: number;
    oursOverJsFresh: number;
    oursOverJsTrained: number;
    jsTrainedOverJsFresh: number;
    oursTrainedOverOursFresh: number;
    /** Our pruned stage over our trained one: what training the pruned network as a smaller one gains. */
    oursPrunedOverOursTrained: number;
  };
  ceiling: { shape: [number, number, number]; matmulVersion: MatmulVersion; ms: number; gflops: number; perVersion: KernelTiming[]; trainerFraction: number };
  /** Our default trainer's dispatches of one batch, timed alone, at each stage. */
  stepKernels: StageKernels[];
  /** How the ceiling and the step's kernels were timed. */
  kernelTiming: KernelTimingMethod;
  /** Absent when settings.seedRecipe is null. */
  seedRecipe?: SeedRecipeRun;
}

/**
 * FLOPs of one dense training step on a batch: forward 2·B·Σ in·out, input gradients of every
 * layer but the first 2·B·Σ_{l≥1} in·out, weight gradients 2·B·Σ in·out. Softmax and the update
 * are O(B·classes) and O(weights), left out.
 */
export function stepFlops(sizes: readonly number[], batch: number): number {
  let all = 0;
  let first = 0;
  for (let l = 0; l + 1 < sizes.length; l++) {
    all += sizes[l]! * sizes[l + 1]!;
    if (l === 0) first = all;
  }
  return 2 * batch * (2 * all + (all - first));
}

/** Milliseconds `work` takes, from the host's clock. */
async function timed(work: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await work();
  return performance.now() - start;
}

export interface TrainBenchInput {
  ctx: GpuContext;
  /** The `GPU` that `ctx` came from: TF.js opens its own device on it. */
  gpu: GPU;
  train: Dataset;
  /** Scores the seed recipe's run. */
  test: Dataset;
  settings: TrainBenchSettings;
  progress: (line: string) => void;
}

export async function benchTrain({ ctx, gpu, train, test, settings, progress }: TrainBenchInput): Promise<TrainBenchReport> {
  const { sizes, batch, batches } = settings;
  const recipe = SEED_RECIPE;
  const config: TrainConfig = { batchSize: batch, confidence: recipe.confidence };
  const samples = batches * batch;
  if (train.count < samples) throw new UserError(`bench train needs ${samples} training samples, ${train.source} has ${train.count}`);
  if (train.features !== sizes[0] || train.classes !== sizes[sizes.length - 1]) {
    throw new UserError(`bench train: the network ${sizes.join('-')} does not fit ${train.source}`);
  }
  const data = takeSamples(train, samples);
  const initial = initNetwork(sizes, recipe.seed);
  const flops = stepFlops(sizes, batch);
  const { learningRate: lr, momentum } = recipe;

  progress(`JS reference: training ${settings.trainedEpochs} epochs on ${settings.trainedSamples} samples for its trained stage`);
  const trainedData = takeSamples(train, settings.trainedSamples);
  const trained = await trainedState(ctx, { net: initial, train: trainedData, start: {} }, config, settings.trainedEpochs, lr, momentum);
  progress(`pruning that state to ${fixed(100 * (1 - PRUNED_STAGE_SPARSITY))}% of its weights, then ${settings.trainedEpochs} more epochs as the smaller network`);
  const pruned = await prunedState(ctx, trained, trainedData, data, config, settings.trainedEpochs);
  const stageStarts: Record<TrainStage, StageStart> = {
    fresh: { net: initial, train: data, start: {} },
    trained: { net: trained.state.net, train: data, start: trained.state },
    pruned: pruned.from,
  };

  progress('compiling our kernels and starting TF.js');
  const versions: MatmulVersion[] = subgroupSize(ctx) > 0 ? [1, 2, 3] : [1, 2];
  const defaultVersion = defaultMatmulVersion(ctx);
  const peer = await loadTfjsWebgpu(gpu);
  const tfjs = TfjsMlpTrainer.create(peer, initial, data, batch, lr, momentum);
  /** Share of samples backpropagated in a case's last epoch, by label. */
  const backpropagated = new Map<string, number>();
  // A new trainer from the same state each time, so every round does the same work: a trainer
  // that went on learning would skip more samples every round.
  const gpuCase = (label: string, from: StageStart, epochLr: number, epochMomentum: number, options: GpuTrainerOptions = {}): TimedCase => ({
    label,
    ms: [],
    run: async () => {
      const trainer = await GpuTrainer.create(ctx, from.net, from.train, config, from.start, options);
      try {
        // The upload of the samples is not part of the epoch.
        await waitForGpu(ctx.device.queue.onSubmittedWorkDone());
        let share = 0;
        const ms = await timed(async () => {
          const result = await trainer.trainEpoch(null, epochLr, epochMomentum);
          share = result.backpropagated / result.samples;
        });
        backpropagated.set(label, share);
        return ms;
      } finally {
        trainer.dispose();
      }
    },
  });
  const jsBackpropagated = { fresh: 0, trained: 0 };
  const jsCase = (stage: 'fresh' | 'trained', start: { net: Network; velocities?: Float32Array[] }, epochLr: number, epochMomentum: number): TimedCase => ({
    label: `js-reference ${stage}`,
    ms: [],
    // A new trainer from the same state each time, so every round does the same work.
    run: async () => {
      const trainer = new CpuTrainer(start.net, data, config, start);
      let backpropagated = 0;
      const ms = await timed(async () => ({ backpropagated } = await trainer.trainEpoch(null, epochLr, epochMomentum)));
      jsBackpropagated[stage] = backpropagated / samples;
      return ms;
    },
  });

  const versionCases = versions.map((v) => gpuCase(`webgpu-prune v${v}`, stageStarts.fresh, lr, momentum, { matmulVersion: v }));
  const oursFreshCase = gpuCase('webgpu-prune fresh', stageStarts.fresh, lr, momentum);
  const oursTrainedCase = gpuCase('webgpu-prune trained', stageStarts.trained, trained.lr, trained.momentum);
  const oursPrunedCase = gpuCase('webgpu-prune pruned', stageStarts.pruned, pruned.lr, pruned.momentum, STAGE_OPTIONS.pruned);
  const oursStageCases: Record<TrainStage, TimedCase> = { fresh: oursFreshCase, trained: oursTrainedCase, pruned: oursPrunedCase };
  const tfjsCase: TimedCase = { label: 'tfjs-webgpu', ms: [], run: () => timed(() => tfjs.trainEpoch()) };
  const jsFreshCase = jsCase('fresh', { net: initial }, lr, momentum);
  const jsTrainedCase = jsCase('trained', trained.state, trained.lr, trained.momentum);
  // Our stages next to each other, after GPU work as they all are: a case that follows the JS
  // reference's epochs runs while their garbage is collected.
  const trainerCases = [...versionCases, oursFreshCase, oursTrainedCase, oursPrunedCase, tfjsCase, jsFreshCase, jsTrainedCase];

  const ceilingVersions = versions.filter((v) => v > 1);
  const ceilingCases = await Promise.all(
    ceilingVersions.map(async (v) => {
      const n = settings.ceilingSize;
      return matmulCase(ctx, await matmulKernel(ctx, { m: n, k: n, n }, v), settings.kernelTimingMs);
    }),
  );
  // Each stage's trainer after an epoch at lr 0, whose buffers hold its last batch, and a case per
  // dispatch of that batch; the trainers live until the rounds are done.
  const profiled: { stage: TrainStage; trainer: GpuTrainer; cases: TimedCase[] }[] = [];
  try {
    for (const stage of Object.keys(stageStarts) as TrainStage[]) {
      const from = stageStarts[stage];
      const trainer = await GpuTrainer.create(ctx, from.net, from.train, config, from.start, STAGE_OPTIONS[stage]);
      const cases: TimedCase[] = [];
      profiled.push({ stage, trainer, cases });
      await trainer.trainEpoch(null, 0, 0);
      for (const dispatch of trainer.lastBatchDispatches()) cases.push({ ...(await dispatchCase(ctx, dispatch, settings.kernelTimingMs)), label: dispatch.label });
    }
    progress('warming up');
    await runRounds([...trainerCases, ...ceilingCases, ...profiled.flatMap((p) => p.cases)], settings.repeats, (round) => {
      const summary = trainerCases.map((c) => `${c.label} ${grouped((samples / c.ms[c.ms.length - 1]!) * 1000)}/s`).join(', ');
      progress(`round ${round}/${settings.repeats}: ${summary}`);
    });
  } finally {
    tfjs.dispose();
    for (const p of profiled) p.trainer.dispose();
  }

  const row = (c: TimedCase, name: ContenderName, variant: string, extra: Partial<TrainBenchResult> = {}): TrainBenchResult => {
    const ms = median(c.ms) / batches;
    return {
      name,
      variant,
      batch,
      batches,
      samplesPerSec: (batch / ms) * 1000,
      gflops: flops / ms / 1e6,
      msPerBatch: ms,
      msPerBatchRange: [Math.min(...c.ms) / batches, Math.max(...c.ms) / batches],
      ...extra,
    };
  };
  const results: TrainBenchResult[] = [
    ...versions.map((v, i) =>
      row(versionCases[i]!, 'webgpu-prune', `matmul v${v}${v === defaultVersion ? ' (default)' : ''}`, {
        matmulVersion: v,
        isDefault: v === defaultVersion,
        backpropagatedFraction: backpropagated.get(versionCases[i]!.label),
      }),
    ),
    row(tfjsCase, 'tfjs-webgpu', `TF.js ${peer.version}`),
    row(jsFreshCase, 'js-reference', 'fresh init', { stage: 'fresh', backpropagatedFraction: jsBackpropagated.fresh }),
    row(jsTrainedCase, 'js-reference', `after ${settings.trainedEpochs} epochs`, { stage: 'trained', backpropagatedFraction: jsBackpropagated.trained }),
    row(oursFreshCase, 'webgpu-prune', 'default kernels, fresh init', { stage: 'fresh', isDefault: true, backpropagatedFraction: backpropagated.get(oursFreshCase.label) }),
    row(oursTrainedCase, 'webgpu-prune', `default kernels, after ${settings.trainedEpochs} epochs`, {
      stage: 'trained',
      isDefault: true,
      backpropagatedFraction: backpropagated.get(oursTrainedCase.label),
    }),
    row(oursPrunedCase, 'webgpu-prune', `default kernels, pruned to ${fixed(100 * (1 - PRUNED_STAGE_SPARSITY))}% after ${settings.trainedEpochs} epochs, then ${settings.trainedEpochs} more as ${stageStarts.pruned.net.sizes.join('-')}`, {
      stage: 'pruned',
      isDefault: true,
      backpropagatedFraction: backpropagated.get(oursPrunedCase.label),
    }),
  ];
  const best = results.find((r) => r.isDefault && r.matmulVersion !== undefined)!;
  const oursCase = versionCases[versions.indexOf(defaultVersion)]!;
  // Ratios pair the timings of one round (taken seconds apart), then take the median: steadier
  // than a ratio of medians when the machine's speed drifts between rounds.
  const speedup = (fast: TimedCase, slow: TimedCase) => median(fast.ms.map((ms, round) => slow.ms[round]! / ms));

  const kernelTiming = (c: TimedCase, kernelFlops: number | null): KernelTiming => {
    const ms = median(c.ms);
    return { kernel: c.label, ms, gflops: kernelFlops === null ? null : kernelFlops / ms / 1e6 };
  };
  const n = settings.ceilingSize;
  const perVersion = ceilingCases.map((c) => kernelTiming(c, 2 * n * n * n));
  const bestCeiling = perVersion.reduce((a, b) => (b.gflops! > a.gflops! ? b : a));
  const stepKernels = profiled.map(({ stage, cases: stageCases }): StageKernels => {
    const kernels = stageCases.map((c) => ({ kernel: c.label, ms: median(c.ms) }));
    return {
      stage,
      sizes: [...stageStarts[stage].net.sizes],
      kernels,
      sumMs: kernels.reduce((sum, k) => sum + k.ms, 0),
      measuredStepMs: median(oursStageCases[stage].ms) / batches,
    };
  });

  return {
    adapter: ctx.adapter,
    tfjs: { version: peer.version, adapter: peer.adapter },
    settings: { ...settings, lr, momentum, confidence: recipe.confidence, initSeed: recipe.seed },
    flopsPerStep: flops,
    results,
    ratios: {
      oursOverTfjs: speedup(oursCase, tfjsCase),
      oursOverJsFresh: speedup(oursCase, jsFreshCase),
      oursOverJsTrained: speedup(oursCase, jsTrainedCase),
      jsTrainedOverJsFresh: speedup(jsTrainedCase, jsFreshCase),
      oursTrainedOverOursFresh: speedup(oursTrainedCase, oursFreshCase),
      oursPrunedOverOursTrained: speedup(oursPrunedCase, oursTrainedCase),
    },
    ceiling: {
      shape: [n, n, n],
      matmulVersion: ceilingVersions[perVersion.indexOf(bestCeiling)]!,
      ms: bestCeiling.ms,
      gflops: bestCeiling.gflops!,
      perVersion,
      trainerFraction: best.gflops / bestCeiling.gflops!,
    },
    stepKernels,
    kernelTiming: kernelTimingMethod(ctx),
    ...(settings.seedRecipe ? { seedRecipe: await seedRecipeRun(ctx, settings.seedRecipe, train, test, progress) } : {}),
  };
}

/**
 * One run of `recipe` on the GPU over the whole training set, as `train` runs it by default (on
 * with the smaller network after the pruning pass), then the test set on the GPU.
 */
async function seedRecipeRun(ctx: GpuContext, recipe: Recipe, train: Dataset, test: Dataset, progress: (line: string) => void): Promise<SeedRecipeRun> {
  const config: TrainConfig = { batchSize: recipe.batchSize, confidence: recipe.confidence };
  const makeTrainer: TrainerFactory = (start, data, optimizer, options) => GpuTrainer.create(ctx, start, data, config, optimizer, options);
  const trainer = await makeTrainer(initNetwork(recipe.sizes, recipe.seed), train);
  let trainedSizes: number[] | null = null;
  let prunedAt = 0;
  let compactSeconds = 0;
  let result;
  try {
    result = await runTraining(
      trainer,
      recipe,
      train.count,
      {
        onEpoch: (r) => {
          progress(`seed recipe on the GPU: epoch ${r.epoch + 1}/${recipe.epochs}, ${r.elapsed.toFixed(1)} s${r.pruned ? ', pruned' : ''}`);
          if (r.pruned) prunedAt = performance.now();
        },
        onCompact: (sizes) => {
          trainedSizes = sizes;
          compactSeconds = (performance.now() - prunedAt) / 1000;
        },
      },
      { trainers: { train, makeTrainer } },
    );
  } finally {
    trainer.dispose();
  }
  if (result.status !== 'finished') throw new Error(`bench train: the seed recipe's run ${result.status === 'diverged' ? `diverged: ${result.reason}` : 'was interrupted'}`);
  const { epochs } = result;
  const seconds = epochs.map((r, e) => r.elapsed - (e === 0 ? 0 : epochs[e - 1]!.elapsed));
  const pruneEpoch = epochs.findIndex((r) => r.pruned);
  if (pruneEpoch < 0) throw new Error('bench train: the seed recipe ran no pruning pass');
  // The switch happened after the pruning epoch's report, so its time is in the next epoch's.
  if (pruneEpoch + 1 < seconds.length) seconds[pruneEpoch + 1]! -= compactSeconds;
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const last = epochs[epochs.length - 1]!;
  const scored = await evaluateGpu(ctx, result.net, test, { sparse: false });
  return {
    epochSecondsBeforePrune: mean(seconds.slice(0, pruneEpoch)),
    epochSecondsAfterPrune: mean(seconds.slice(pruneEpoch + 1)),
    compactSeconds,
    testAccuracy: (100 * scored.correct) / scored.total,
    keptWeights: last.keptWeights,
    totalWeights: last.totalWeights,
    epochs: epochs.length,
    seconds: result.seconds,
    trainedSizes,
  };
}

/** Where a stage's trainer starts: its network, the training set it reads (the kept features only, after pruning) and its optimizer state. */
interface StageStart {
  net: Network;
  train: Dataset;
  start: Partial<OptimizerState>;
}

/** How each stage's trainer is made: the pruned stage's as `train` makes the smaller network's, its masks final. */
const STAGE_OPTIONS: Record<TrainStage, GpuTrainerOptions> = { fresh: {}, trained: {}, pruned: { masksFinal: true } };

/** The seed recipe's sparsity after its pruning pass (9.26% of the weights kept, README): the pruned stage's. */
const PRUNED_STAGE_SPARSITY = 0.9074;

/** A stage's state after some epochs, with the lr and momentum of its next epoch. */
interface StageState {
  state: TrainerState;
  lr: number;
  momentum: number;
}

/**
 * The state after `epochs` epochs of the seed's rule from `from` (file order, lr and momentum
 * decayed per epoch, starting at `lr` and `momentum`), trained by GpuTrainer, which the tests
 * hold to the JS reference's results.
 */
async function trainedState(ctx: GpuContext, from: StageStart, config: TrainConfig, epochs: number, lr: number, momentum: number, options: GpuTrainerOptions = {}): Promise<StageState> {
  const trainer = await GpuTrainer.create(ctx, from.net, from.train, config, from.start, options);
  try {
    for (let e = 0; e < epochs; e++) {
      await trainer.trainEpoch(null, lr, momentum);
      lr *= SEED_RECIPE.factor;
      momentum *= SEED_RECIPE.factor;
    }
    return { state: await trainer.state(), lr, momentum };
  } finally {
    trainer.dispose();
  }
}

/**
 * `trained` pruned to the seed recipe's sparsity (by magnitude over the whole network), as the
 * smaller network that `train` goes on with after a pruning pass (the full shape, masked, when
 * the structured step removes nothing), trained `epochs` more epochs on `trainedData`: the
 * pruned stage, timed on the kept features of `data`.
 */
async function prunedState(ctx: GpuContext, trained: StageState, trainedData: Dataset, data: Dataset, config: TrainConfig, epochs: number) {
  const net = cloneNetwork(trained.state.net);
  pruneToSparsity(net, PRUNED_STAGE_SPARSITY, 'global');
  const velocities = trained.state.velocities.map((v) => v.slice());
  applyMasks(net, velocities);
  const masked: TrainerState = { ...trained.state, net, velocities };
  const smaller = smallerTraining(masked, trainedData) ?? { net, train: trainedData, start: masked };
  const after = await trainedState(ctx, smaller, config, epochs, trained.lr, trained.momentum, STAGE_OPTIONS.pruned);
  const timed = smallerTraining(masked, data)?.train ?? data;
  return { from: { net: after.state.net, train: timed, start: after.state } satisfies StageStart, lr: after.lr, momentum: after.momentum };
}

const fixed = (x: number, digits = 1) => x.toFixed(digits);

export function formatTrainBench(r: TrainBenchReport): string {
  const lines = [
    `adapter: ${adapterName(r.adapter)}; TF.js ${r.tfjs.version} on ${r.tfjs.adapter.vendor}/${r.tfjs.adapter.architecture}`,
    `MLP ${r.settings.sizes.join('-')}, batch ${r.settings.batch}, ${r.settings.batches} batches per timing, median of ${r.settings.repeats} rounds; ` +
      `${fixed(r.flopsPerStep / 1e6)} MFLOP per dense step`,
    '',
    '| trainer | variant | samples/s | ms/batch (min–max) | GFLOP/s | backprop share |',
    '| --- | --- | ---: | ---: | ---: | ---: |',
    ...r.results.map(
      (x) =>
        `| ${x.name} | ${x.variant} | ${grouped(x.samplesPerSec)} | ${fixed(x.msPerBatch)} (${fixed(x.msPerBatchRange[0])}–${fixed(x.msPerBatchRange[1])}) | ` +
        `${fixed(x.gflops, 2)}${x.name === 'js-reference' ? ' (effective)' : ''} | ${x.backpropagatedFraction === undefined ? '' : `${fixed(100 * x.backpropagatedFraction)}%`} |`,
    ),
    '',
    `speed-ups (median of per-round ratios): ours / TF.js ${fixed(r.ratios.oursOverTfjs, 2)}×, ours / JS fresh ${fixed(r.ratios.oursOverJsFresh)}×, ` +
      `ours / JS after ${r.settings.trainedEpochs} epochs ${fixed(r.ratios.oursOverJsTrained)}× (JS trained / JS fresh ${fixed(r.ratios.jsTrainedOverJsFresh, 2)}×)`,
    `skipping the backward pass: ours after ${r.settings.trainedEpochs} epochs / ours fresh ${fixed(r.ratios.oursTrainedOverOursFresh, 2)}×; ` +
      `the smaller network after pruning: ours pruned / ours after ${r.settings.trainedEpochs} epochs ${fixed(r.ratios.oursPrunedOverOursTrained, 2)}× (default kernels)`,
    `ceiling: matmul ${r.ceiling.shape.join('×')} v${r.ceiling.matmulVersion} ${fixed(r.ceiling.gflops)} GFLOP/s ` +
      `(${r.ceiling.perVersion.map((k) => `${k.kernel} ${fixed(k.gflops!)}`).join(', ')}); the trainer reaches ${fixed(100 * r.ceiling.trainerFraction)}% of it`,
    ...r.stepKernels.flatMap((s) => [
      '',
      `one batch's dispatches alone, ${s.stage} (${s.sizes.join('-')}): ${fixed(s.sumMs, 2)} ms of ${fixed(s.measuredStepMs, 2)} ms per batch in an epoch (timed by ${r.kernelTiming})`,
      '| dispatch | ms | share |',
      '| --- | ---: | ---: |',
      ...s.kernels.map((k) => `| ${k.kernel} | ${fixed(k.ms, 3)} | ${fixed((100 * k.ms) / s.sumMs)}% |`),
    ]),
  ];
  const run = r.seedRecipe;
  if (run) {
    lines.push(
      '',
      `seed recipe on the GPU (${run.epochs} epochs, ${fixed(run.seconds)} s${run.trainedSizes ? `, ${run.trainedSizes.join('-')} after pruning` : ''}): ` +
        `${fixed(run.epochSecondsBeforePrune, 2)} s per epoch before the pruning pass, ${fixed(run.epochSecondsAfterPrune, 2)} s after ` +
        `(${fixed(run.epochSecondsAfterPrune / run.epochSecondsBeforePrune, 2)}×; switching to the smaller network took ${fixed(run.compactSeconds, 1)} s once); test ${fixed(run.testAccuracy, 2)}%, ${grouped(run.keptWeights)} of ${grouped(run.totalWeights)} weights kept`,
    );
  }
  return lines.join('\n');
}
