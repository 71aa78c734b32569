/**
 * `bench train`: training throughput of the seed's MLP (784-100-100-10, batch 800) on the first
 * batches of MNIST, for our WebGPU trainer (each matmul version, and its default kernels from a
 * fresh start and after a few epochs, when most samples are confident and skip the backward
 * pass), TF.js's `webgpu` backend on the same adapter, and the JS reference at both stages, plus
 * the ceiling (our best matmul on a large square shape), the time of each kernel of one training
 * step run alone, and (unless quick) one whole run of the seed recipe on the GPU: its epoch time
 * before and after the pruning pass, test accuracy and weights kept.
 *
 * Everything runs in one process, round-robin: every case is timed once per round and the
 * figure is the median over rounds, because the machine is shared and its speed drifts.
 */
import { evaluateGpu } from '../cli/evaluate';
import { grouped } from '../util/format';
import { CpuTrainer } from '../cpu/trainer';
import { takeSamples, type Dataset } from '../data/dataset';
import { adapterName, type AdapterDescription, type GpuContext } from '../gpu/device';
import { defaultMatmulVersion, matmulKernel, softmaxGradKernel, subgroupSize, type MatmulSpec, type MatmulVersion } from '../gpu/kernels';
import { compactScanKernel, gatherGroups, gatherRowsKernel } from '../gpu/compact-kernels';
import { GpuTrainer, weightGradientSpec, type GpuTrainerOptions } from '../gpu/trainer';
import { waitForGpu } from '../gpu/wait';
import { initNetwork, SEED_SIZES, type Network } from '../model/network';
import type { TrainerFactory } from '../train/compact-training';
import { SEED_RECIPE, type Recipe } from '../train/recipe';
import { runTraining } from '../train/run';
import type { OptimizerState, TrainConfig } from '../train/trainer';
import { UserError } from '../util/errors';
import { loadTfjsWebgpu, TfjsMlpTrainer } from './tfjs-peer';
import { benchRepeats, kernelCase, kernelTimingMethod, matmulCase, median, runRounds, type KernelTimingMethod, type TimedCase } from './timing';

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
  /** Milliseconds of GPU work one ceiling or step-kernel timing aims at. */
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
  /** The kernels GpuTrainer picks on this device: the default version's row and both stage rows. */
  isDefault?: boolean;
  /** From the recipe's initial network, or from its state after `trainedEpochs` epochs. */
  stage?: 'fresh' | 'trained';
  /** Share of samples backpropagated (the rest are skipped as confident). */
  backpropagatedFraction?: number;
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
  ratios: { oursOverTfjs: number; oursOverJsFresh: number; oursOverJsTrained: number; jsTrainedOverJsFresh: number; oursTrainedOverOursFresh: number };
  ceiling: { shape: [number, number, number]; matmulVersion: MatmulVersion; ms: number; gflops: number; perVersion: KernelTiming[]; trainerFraction: number };
  /** Each kernel of one step of the default trainer, timed alone (repeated in one pass). */
  stepKernels: { kernels: KernelTiming[]; sumMs: number; measuredStepMs: number };
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

/**
 * The matmuls of one training step that backpropagates every sample, as GpuTrainer builds them
 * (src/gpu/trainer.ts) for the seed's rule, with each layer's weight gradient over the whole
 * batch (the trainer's reads how many rows are backpropagated from the GPU: all of them here),
 * the momentum step in its epilogue.
 */
function stepKernelSpecs(sizes: readonly number[], batch: number): MatmulSpec[] {
  const layers = sizes.length - 1;
  const specs: MatmulSpec[] = [];
  for (let l = 0; l < layers; l++) specs.push({ m: batch, k: sizes[l]!, n: sizes[l + 1]!, epilogue: l + 1 < layers ? 'relu' : 'none' });
  for (let l = layers - 1; l >= 1; l--) specs.push({ m: batch, k: sizes[l + 1]!, n: sizes[l]!, transB: true, epilogue: 'reluGrad' });
  for (let l = 0; l < layers; l++) specs.push({ ...weightGradientSpec(sizes, l, batch, 'momentumStep'), kFromCount: false });
  return specs;
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
  const trained = await trainedState(ctx, initial, takeSamples(train, settings.trainedSamples), config, settings.trainedEpochs);

  progress('compiling our kernels and starting TF.js');
  const versions: MatmulVersion[] = subgroupSize(ctx) > 0 ? [1, 2, 3] : [1, 2];
  const defaultVersion = defaultMatmulVersion(ctx);
  const peer = await loadTfjsWebgpu(gpu);
  const tfjs = TfjsMlpTrainer.create(peer, initial, data, batch, lr, momentum);
  /** Share of samples backpropagated in a case's last epoch, by label. */
  const backpropagated = new Map<string, number>();
  // A new trainer from the same state each time, so every round does the same work: a trainer
  // that went on learning would skip more samples every round.
  const gpuCase = (label: string, start: { net: Network } & Partial<OptimizerState>, epochLr: number, epochMomentum: number, options: GpuTrainerOptions = {}): TimedCase => ({
    label,
    ms: [],
    run: async () => {
      const trainer = await GpuTrainer.create(ctx, start.net, data, config, start, options);
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

  const versionCases = versions.map((v) => gpuCase(`webgpu-prune v${v}`, { net: initial }, lr, momentum, { matmulVersion: v }));
  const oursFreshCase = gpuCase('webgpu-prune fresh', { net: initial }, lr, momentum);
  const oursTrainedCase = gpuCase('webgpu-prune trained', trained.state, trained.lr, trained.momentum);
  const tfjsCase: TimedCase = { label: 'tfjs-webgpu', ms: [], run: () => timed(() => tfjs.trainEpoch()) };
  const jsFreshCase = jsCase('fresh', { net: initial }, lr, momentum);
  const jsTrainedCase = jsCase('trained', trained.state, trained.lr, trained.momentum);
  // Our two stages next to each other, after GPU work as both are: a case that follows the JS
  // reference's epochs runs while their garbage is collected.
  const trainerCases = [...versionCases, oursFreshCase, oursTrainedCase, tfjsCase, jsFreshCase, jsTrainedCase];

  const ceilingVersions = versions.filter((v) => v > 1);
  const ceilingCases = await Promise.all(
    ceilingVersions.map(async (v) => {
      const n = settings.ceilingSize;
      return matmulCase(ctx, await matmulKernel(ctx, { m: n, k: n, n }, v), settings.kernelTimingMs);
    }),
  );
  const stepSpecs = stepKernelSpecs(sizes, batch);
  const stepCases = [
    ...(await Promise.all(stepSpecs.map(async (spec) => matmulCase(ctx, await matmulKernel(ctx, spec, defaultVersion), settings.kernelTimingMs)))),
    await kernelCase(ctx, await softmaxGradKernel(ctx, batch, sizes[sizes.length - 1]!, recipe.confidence), settings.kernelTimingMs),
    // The compaction, over a whole batch (every sample backpropagated: its most work).
    await kernelCase(ctx, await compactScanKernel(ctx, batch, [{ x: 1, rowsPerWorkgroup: 1 }]), settings.kernelTimingMs),
    ...(await Promise.all(
      [[sizes[0]!], ...gatherGroups(sizes.slice(1))].map(async (widths) => kernelCase(ctx, await gatherRowsKernel(ctx, batch, widths), settings.kernelTimingMs)),
    )),
  ];
  const cases = [...trainerCases, ...ceilingCases, ...stepCases];

  try {
    progress('warming up');
    await runRounds(cases, settings.repeats, (round) => {
      const summary = trainerCases.map((c) => `${c.label} ${grouped((samples / c.ms[c.ms.length - 1]!) * 1000)}/s`).join(', ');
      progress(`round ${round}/${settings.repeats}: ${summary}`);
    });
  } finally {
    tfjs.dispose();
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
  const kernels = stepCases.map((c, i) => {
    const spec = stepSpecs[i];
    return kernelTiming(c, spec ? 2 * spec.m * spec.k * spec.n : null);
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
    },
    ceiling: {
      shape: [n, n, n],
      matmulVersion: ceilingVersions[perVersion.indexOf(bestCeiling)]!,
      ms: bestCeiling.ms,
      gflops: bestCeiling.gflops!,
      perVersion,
      trainerFraction: best.gflops / bestCeiling.gflops!,
    },
    stepKernels: { kernels, sumMs: kernels.reduce((s, k) => s + k.ms, 0), measuredStepMs: best.msPerBatch },
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
  const makeTrainer: TrainerFactory = (start, data, optimizer) => GpuTrainer.create(ctx, start, data, config, optimizer);
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
  const scored = await evaluateGpu(ctx, result.net, test, false);
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

/**
 * The network and velocities after `epochs` of the seed recipe (file order, lr and momentum
 * decayed per epoch), trained by GpuTrainer, which the tests hold to the JS reference's results;
 * with the lr and momentum of the next epoch.
 */
async function trainedState(ctx: GpuContext, initial: Network, train: Dataset, config: TrainConfig, epochs: number) {
  const recipe = SEED_RECIPE;
  const trainer = await GpuTrainer.create(ctx, initial, train, config);
  let lr = recipe.learningRate;
  let momentum = recipe.momentum;
  try {
    for (let e = 0; e < epochs; e++) {
      await trainer.trainEpoch(null, lr, momentum);
      lr *= recipe.factor;
      momentum *= recipe.factor;
    }
    return { state: await trainer.state(), lr, momentum };
  } finally {
    trainer.dispose();
  }
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
    `skipping the backward pass: ours after ${r.settings.trainedEpochs} epochs / ours fresh ${fixed(r.ratios.oursTrainedOverOursFresh, 2)}× (default kernels)`,
    `ceiling: matmul ${r.ceiling.shape.join('×')} v${r.ceiling.matmulVersion} ${fixed(r.ceiling.gflops)} GFLOP/s ` +
      `(${r.ceiling.perVersion.map((k) => `${k.kernel} ${fixed(k.gflops!)}`).join(', ')}); the trainer reaches ${fixed(100 * r.ceiling.trainerFraction)}% of it`,
    '',
    `one step's kernels alone: ${fixed(r.stepKernels.sumMs, 2)} ms of ${fixed(r.stepKernels.measuredStepMs, 2)} ms per trained batch (kernels timed by ${r.kernelTiming})`,
    '| kernel | ms | GFLOP/s |',
    '| --- | ---: | ---: |',
    ...r.stepKernels.kernels.map((k) => `| ${k.kernel} | ${fixed(k.ms, 3)} | ${k.gflops === null ? '' : fixed(k.gflops)} |`),
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
