/**
 * What the worker does, with no message plumbing: it owns the GPU device (or runs the JS
 * reference when there is none), the MNIST data and the networks, and runs the library's
 * trainer, pruning passes, inference engines and formats for the page. Events (download and
 * training progress, epochs, device errors) go to `emit`. src/web/worker.ts connects it to
 * messages; the tests drive it directly on the JS reference.
 */
import { benchInferNetwork } from '../bench/infer';
import { OrtWebInference } from '../bench/ort-web-peer';
import { loadTfjsWebgpu, TfjsMlpInference } from '../bench/tfjs-peer';
import { median } from '../bench/timing';
import { checkDataFits, evaluateCpu, evaluateGpu, type TestResult } from '../cli/evaluate';
import { CpuTrainer, softmaxInPlace } from '../cpu/trainer';
import { compactInfer, csrLayers, denseInfer, sparseInfer } from '../cpu/sparse-forward';
import { checkShiftable } from '../data/augment';
import { takeSamples, type Dataset, type TrainTestData } from '../data/dataset';
import { DESKEW_METADATA, deskewDataset, deskewImage, readsDeskewed } from '../data/deskew';
import { encodeModel, detectAndParseModel } from '../format/model-file';
import { acquireDevice, adapterName, type GpuContext } from '../gpu/device';
import { GpuTrainer } from '../gpu/trainer';
import { formatTuneTable, tune, tuneSettings } from '../gpu/tune';
import { tuningKey, useCachedTuning, type TuningStore } from '../gpu/tuning-cache';
import { cloneNetwork, initNetwork, keptTotal, totalWeights, type Network } from '../model/network';
import { checkHiddenLayersKept, compactNetwork, expandInputs } from '../prune/structured';
import { pruneByThreshold, pruneToSparsity, sparsityRule } from '../prune/unstructured';
import type { Checkpoint } from '../train/checkpoint';
import { optimizerOf } from '../train/optimizer';
import { SEED_RECIPE, type Recipe } from '../train/recipe';
import { runTraining, type TrainingResult } from '../train/run';
import type { TrainerFactory } from '../train/compact-training';
import { meanLoss, type Trainer } from '../train/trainer';
import { UserError } from '../util/errors';
import { grouped } from '../util/format';
import { version as PACKAGE_VERSION } from '../../package.json';
import { loadMnist, type DataPlatform } from './data';
import type {
  BackendInfo,
  DataInfo,
  EpochPoint,
  LoadedModel,
  Method,
  NetworkChoice,
  NetworkSnapshot,
  Prediction,
  PruneRequest,
  PruneSummary,
  RaceResult,
  RaceRow,
  Request,
  SavedModel,
  SaveFormat,
  Score,
  TrainRequest,
  TrainSummary,
  TuneSummary,
  WorkerApi,
  WorkerEvent,
} from './protocol';

export interface SessionPlatform extends DataPlatform {
  /** `navigator.gpu` where the browser has WebGPU. */
  gpu?: GPU;
  /** Where `tune` keeps its choices (IndexedDB in the worker); none: the defaults, and tuning is not kept. */
  tuningStore?: TuningStore;
}

/** Below this fraction of weights kept, a network is scored through the sparse engine, as the CLI does. */
const SPARSE_BELOW = 0.5;
/** Progress events while training, at most this often. */
const PROGRESS_EVERY_MS = 250;

const NO_WEBGPU = 'This browser has no WebGPU (use a recent Chrome or Edge; on Linux start Chrome with --enable-unsafe-webgpu); everything runs on the plain-JS reference instead, much slower.';

interface PrunedNetwork {
  /** As pruned, before the structured step: the original shape with its masks. */
  net: Network;
  /** What is saved: the structured step's network (input features kept), or `net`. */
  saved: Network;
  rule: string;
  /** Per entry of `sizes`: 1 where the structured step removed the neuron. */
  removed: Uint8Array[];
}

/** The run going on (training or a race), which `stop` ends and, for training, `pause` holds. */
interface RunControl {
  /** What runs, for refusing other requests meanwhile: `a training run`, `a race`. */
  what: string;
  paused: boolean;
  stopped: boolean;
  wake: (() => void) | null;
}

/**
 * Gives the thread back to the worker's message loop for a moment, then says whether the run was
 * asked to stop: the stop arrives as a message, which waits while JS code runs.
 */
async function stopAsked(control: RunControl): Promise<boolean> {
  await new Promise((next) => setTimeout(next, 0));
  return control.stopped;
}

/** The `skipped` line of a race stopped before `what`. */
const stoppedBefore = (what: string): string => `${what} and what follows: the race was stopped`;

function percentOf(part: number, whole: number): number {
  return whole === 0 ? 0 : (100 * part) / whole;
}

export class WebSession {
  private ctx: GpuContext | null = null;
  private data: TrainTestData | null = null;
  /** The test images of the last run, as loaded (not deskewed). */
  private test: Dataset | null = null;
  /** Whether the trained network reads deskewed images (trained with deskew, or its file says so). */
  private deskewed = false;
  /** Each test set deskewed once, for the networks that read deskewed images. */
  private readonly deskewedSets = new WeakMap<Dataset, Dataset>();
  private trained: Network | null = null;
  private recipe: Recipe | null = null;
  private pruned: PrunedNetwork | null = null;
  private control: RunControl | null = null;

  constructor(
    private readonly platform: SessionPlatform,
    private readonly emit: (event: WorkerEvent) => void,
  ) {}

  /** Runs one request; the reply is its result (or the error it throws). */
  handle(request: Request): Promise<unknown> | unknown {
    const methods: { [M in Method]: (args: WorkerApi[M]['args']) => Promise<WorkerApi[M]['result']> | WorkerApi[M]['result'] } = {
      init: (a) => this.init(a.forceCpu),
      loadData: (a) => this.loadData(a.baseUrl),
      train: (a) => this.train(a),
      pause: () => this.setPaused(true),
      resume: () => this.setPaused(false),
      stop: () => this.stop(),
      prune: (a) => this.prune(a),
      race: (a) => this.race(a.batches, a.repeats),
      tune: (a) => this.tune(a.quick),
      predict: (a) => this.predict(a.pixels),
      network: (a) => this.network(a.which),
      save: (a) => this.save(a.which, a.format),
      load: (a) => this.load(a.bytes, a.name),
    };
    return (methods[request.method] as (args: unknown) => unknown)(request.args);
  }

  async init(forceCpu: boolean): Promise<BackendInfo> {
    if (!forceCpu && this.platform.gpu) {
      try {
        this.ctx = await acquireDevice(this.platform.gpu, { onError: (message) => this.emit({ kind: 'gpu-error', message }) });
        const store = this.platform.tuningStore;
        const entry = store ? await useCachedTuning(this.ctx, store, PACKAGE_VERSION, (line) => this.emit({ kind: 'tune-log', line })) : null;
        return { backend: 'gpu', adapter: adapterName(this.ctx.adapter), noGpuReason: null, tuning: entry ? `tuned ${entry.tunedAt.slice(0, 10)}` : 'defaults' };
      } catch (err) {
        return {
          backend: 'cpu',
          adapter: 'JS reference',
          noGpuReason: `WebGPU is here but gave no device (${(err as Error).message}); everything runs on the plain-JS reference instead, much slower.`,
          tuning: null,
        };
      }
    }
    return { backend: 'cpu', adapter: 'JS reference', noGpuReason: forceCpu ? 'WebGPU is switched off for this page (gpu=0); everything runs on the plain-JS reference.' : NO_WEBGPU, tuning: null };
  }

  async loadData(baseUrl: string): Promise<DataInfo> {
    const start = performance.now();
    const data = await loadMnist(baseUrl, this.platform, (p) => this.emit({ kind: 'download', ...p }));
    this.data = data;
    this.test = data.test;
    return { trainCount: data.train.count, testCount: data.test.count, cached: data.cached, seconds: (performance.now() - start) / 1000 };
  }

  private requireData(): TrainTestData {
    if (!this.data) throw new UserError('the MNIST data is not loaded yet');
    return this.data;
  }

  private requireNetwork(which: NetworkChoice): Network {
    const net = which === 'pruned' ? this.pruned?.net : this.trained;
    if (!net) throw new UserError(which === 'pruned' ? 'no pruned network yet: prune one first' : 'no network yet: train one or load a file');
    return net;
  }

  /** The test images of the last run (all of them before one), as the trained network reads them. */
  private testSet(): Dataset {
    const images = this.test ?? this.requireData().test;
    return this.deskewed ? this.deskewedOnce(images) : images;
  }

  private deskewedOnce(images: Dataset): Dataset {
    let deskewed = this.deskewedSets.get(images);
    if (!deskewed) this.deskewedSets.set(images, (deskewed = deskewDataset(images, 'deskew')));
    return deskewed;
  }

  /** Test accuracy: dense on the GPU (sparse when most weights are gone), or the JS reference. */
  private async evaluate(net: Network, test = this.testSet()): Promise<TestResult> {
    const sparse = keptTotal(net) < SPARSE_BELOW * totalWeights(net.sizes);
    return this.ctx ? evaluateGpu(this.ctx, net, test, { sparse }) : evaluateCpu(net, test);
  }

  private async score(net: Network, sizes = net.sizes, test = this.testSet()): Promise<Score> {
    const result = await this.evaluate(net, test);
    return {
      accuracy: percentOf(result.correct, result.total),
      correct: result.correct,
      total: result.total,
      keptWeights: keptTotal(net),
      totalWeights: totalWeights(net.sizes),
      sizes: [...sizes],
      engine: result.kernel,
    };
  }

  /** Makes `what` the run that `stop` and `pause` act on; refused while another one runs. */
  private startRun(what: string): RunControl {
    if (this.control) throw new UserError(`${this.control.what} is going on: stop it first`);
    this.control = { what, paused: false, stopped: false, wake: null };
    return this.control;
  }

  async train(request: TrainRequest): Promise<TrainSummary> {
    const data = this.requireData();
    const { recipe } = request;
    // As the CLI's --limit: asking for more images than there are is a mistake, not "all of them".
    if (request.limit && request.limit > data.train.count) throw new UserError(`limit ${request.limit} is more than the ${grouped(data.train.count)} training images`);
    if (request.testLimit && request.testLimit > data.test.count) throw new UserError(`test ${request.testLimit} is more than the ${grouped(data.test.count)} test images`);
    const trainImages = request.limit ? takeSamples(data.train, request.limit) : data.train;
    const testImages = request.testLimit ? takeSamples(data.test, request.testLimit) : data.test;
    const train = recipe.deskew ? deskewDataset(trainImages, 'deskew') : trainImages;
    const test = recipe.deskew ? this.deskewedOnce(testImages) : testImages;
    if (recipe.batchSize > train.count) throw new UserError(`batch-size ${recipe.batchSize} is larger than the ${train.count} training images`);
    checkDataFits(recipe.sizes, train, `sizes ${recipe.sizes.join(',')}`);
    checkShiftable(train, recipe.shift ?? 0);
    // Before the first await: a pause or stop sent while the trainer is made (the GPU compiles its pipelines) must find the run.
    const control = this.startRun('a training run');
    const net = initNetwork(recipe.sizes, recipe.seed, recipe.bias);
    const config = { batchSize: recipe.batchSize, confidence: recipe.confidence, updateRule: optimizerOf(recipe) };
    const ctx = this.ctx;
    const makeTrainer: TrainerFactory = async (start, data, optimizer, options) =>
      ctx ? await GpuTrainer.create(ctx, start, data, config, optimizer, options) : new CpuTrainer(start, data, config, optimizer);

    const points: EpochPoint[] = [];
    const batchesPerEpoch = Math.floor(train.count / recipe.batchSize);
    // Training time, for the progress line and the epochs' seconds: making trainers, test passes and pauses left out.
    let trainedMs = 0;
    let runningSince: number | null = null;
    const clockMs = (): number => trainedMs + (runningSince === null ? 0 : performance.now() - runningSince);
    const halt = (): void => {
      trainedMs = clockMs();
      runningSince = null;
    };
    const go = (): void => void (runningSince ??= performance.now());
    let lastProgress = 0;
    const progress = (batchesDone: number, force = false): void => {
      const now = performance.now();
      if (!force && now - lastProgress < PROGRESS_EVERY_MS) return;
      lastProgress = now;
      const epochs = points.length + batchesDone / batchesPerEpoch;
      const seconds = clockMs() / 1000;
      const samplesPerSec = seconds > 0 ? (epochs * batchesPerEpoch * recipe.batchSize) / seconds : 0;
      const secondsLeft = epochs > 0 ? ((recipe.epochs - epochs) * seconds) / epochs : null;
      this.emit({ kind: 'progress', epochs, totalEpochs: recipe.epochs, samplesPerSec, secondsLeft, paused: control.paused });
    };

    let trainer: Trainer | null = null;
    let resume: Checkpoint | undefined;
    let result: TrainingResult | undefined;
    try {
      trainer = await makeTrainer(net, train);
      for (;;) {
        if (control.paused && !control.stopped) {
          progress(resume?.batch ?? 0, true);
          await new Promise<void>((wake) => (control.wake = wake));
        }
        if (control.stopped) break;
        if (resume) {
          // The run may have gone on with trainers of its own (made again after a pruning pass, or
          // the smaller network's), disposed when it stopped: `trainer` can be behind the checkpoint.
          const behind = trainer;
          trainer = await makeTrainer(resume.net, train, resume);
          behind.dispose();
        }
        go();
        result = await runTraining(
          trainer,
          recipe,
          train.count,
          {
            onCheckpoint: async (checkpoint) => {
              const report = checkpoint.reports.at(-1)!;
              halt();
              const seconds = trainedMs / 1000;
              const tested = await this.evaluate(checkpoint.net, test);
              go();
              const point: EpochPoint = {
                epoch: report.epoch + 1,
                trainAccuracy: percentOf(report.correct, report.samples),
                loss: meanLoss(report),
                testAccuracy: percentOf(tested.correct, tested.total),
                keptWeights: percentOf(report.keptWeights, report.totalWeights),
                seconds,
                pruned: report.pruned?.rule ?? null,
              };
              points.push(point);
              this.emit({ kind: 'epoch', point });
              progress(0, true);
            },
          },
          {
            resume,
            // After a pruning pass, train the smaller network the structured step leaves (the same results, faster).
            trainers: { train, makeTrainer },
            train,
            shouldStop: (batchesDone) => {
              progress(batchesDone);
              return control.paused || control.stopped;
            },
          },
        );
        halt();
        if (result.status !== 'interrupted') break;
        resume = result.checkpoint;
      }
    } finally {
      trainer?.dispose();
      this.control = null;
    }
    // Stopped before it trained a batch: the network as it started.
    const final = result === undefined ? net : result.status === 'finished' ? result.net : result.status === 'interrupted' ? result.checkpoint.net : result.lastGood.net;
    const trained = await this.score(final, final.sizes, test);
    // Only now: a run that fails leaves the worker with the networks it had, as the page assumes.
    this.trained = final;
    this.pruned = null;
    this.recipe = recipe;
    this.test = testImages;
    this.deskewed = recipe.deskew ?? false;
    return {
      status: result === undefined || result.status === 'interrupted' ? 'stopped' : result.status,
      message: result?.status === 'diverged' ? `training diverged in epoch ${result.epoch + 1}: ${result.reason}; lower lr or factor` : null,
      epochs: points,
      seconds: trainedMs / 1000,
      trained,
    };
  }

  setPaused(paused: boolean): null {
    const control = this.control;
    if (!control) return null;
    control.paused = paused;
    if (!paused) control.wake?.();
    return null;
  }

  stop(): null {
    const control = this.control;
    if (!control) return null;
    control.stopped = true;
    control.wake?.();
    return null;
  }

  async prune(request: PruneRequest): Promise<PruneSummary> {
    const source = this.requireNetwork('trained');
    const net = cloneNetwork(source);
    const rules: string[] = [];
    if (request.threshold !== undefined) {
      pruneByThreshold(net, request.threshold);
      rules.push(`w² < ${request.threshold}`);
    } else if (request.layerSparsity) {
      if (request.layerSparsity.length !== net.weights.length) throw new UserError(`layer sparsity needs ${net.weights.length} values, got ${request.layerSparsity.length}`);
      pruneToSparsity(net, request.layerSparsity, 'layer', request.score);
      rules.push(sparsityRule(request.layerSparsity.join(','), 'layer', request.score));
    } else if (request.sparsity !== undefined) {
      pruneToSparsity(net, request.sparsity, request.scope, request.score);
      rules.push(sparsityRule(String(request.sparsity), request.scope, request.score));
    }
    let saved = net;
    const removed = net.sizes.map((n) => new Uint8Array(n));
    if (request.structured) {
      // As `webgpu-prune prune --structured`: input features stay (a saved network reads whole images).
      const { compact, report } = compactNetwork(net, { dropInputs: false, keepHidden: request.keepNeurons === undefined ? undefined : { fraction: request.keepNeurons } });
      checkHiddenLayersKept(compact.net.sizes, 'the trained network');
      for (const layer of report.neurons) for (const j of layer.removed) removed[layer.layer]![j] = 1;
      // The weakest neurons it removed leave weights behind in `net`: drop them there too, so both forms are the same network.
      report.neurons.forEach((layer) => {
        for (const j of layer.removed) dropNeuron(net, layer.layer, j);
      });
      // A removed neuron with no incoming weight passed relu(b) on through the weights just dropped:
      // the compact network has that folded into the next layer's biases, so `net` takes them too.
      if (net.biases) keepBiasesOf(compact.net, net, removed);
      saved = compact.net;
      rules.push(`structured${request.keepNeurons === undefined ? '' : ` keep ${request.keepNeurons} of hidden neurons`}`);
    }
    if (rules.length === 0) throw new UserError('nothing to do: give a threshold, a sparsity or layer sparsities, and/or structured');
    const rule = rules.join(' + ');
    const summary: PruneSummary = {
      rule,
      before: await this.score(source),
      after: await this.score(net, saved.sizes),
      compact: request.structured ? await this.score(saved) : null,
      removedNeurons: removed.map((r) => r.reduce((a, b) => a + b, 0)),
    };
    // Only once it is scored: a pruning that fails leaves the worker with what the page thinks it has.
    this.pruned = { net, saved, rule, removed };
    return summary;
  }

  /**
   * Dense vs sparse vs compact vs hybrid inference of the pruned network (else the trained one)
   * over batch sizes. A stop is seen between timed runs (between batch sizes on the GPU): the
   * race then returns the rows it measured, and says in `skipped` where it stopped.
   */
  async race(batches: number[], repeats: number): Promise<RaceResult> {
    const net = this.pruned?.net ?? this.requireNetwork('trained');
    const control = this.startRun('a race');
    try {
      const skipped: string[] = [];
      const ctx = this.ctx;
      if (!ctx) return { rows: await this.raceCpu(net, batches, repeats, control, skipped), skipped };
      const rows: RaceRow[] = [];
      for (const batch of batches) {
        if (await stopAsked(control)) {
          skipped.push(stoppedBefore(`batch ${batch}`));
          return { rows, skipped };
        }
        const cell = await benchInferNetwork(ctx, net, { batches: [batch], repeats });
        rows.push(...cell.rows.map((r): RaceRow => ({ engine: r.variant, kernel: r.kernel, batch: r.batch, samplesPerSec: r.samplesPerSec, sizes: r.sizes })));
        skipped.push(...cell.skipped);
      }
      return { rows: [...rows, ...(await this.racePeers(net, batches, repeats, control, skipped))], skipped };
    } finally {
      this.control = null;
    }
  }

  /**
   * The peers on the same adapter, each running the network densely from an input batch that
   * stays on the GPU: TF.js's `webgpu` backend, and ONNX Runtime Web's WebGPU provider on our
   * ONNX export. A peer that fails (it would not load, or ran out of memory) is noted in
   * `skipped` and costs no other engine its rows.
   */
  private async racePeers(net: Network, batches: number[], repeats: number, control: RunControl, skipped: string[]): Promise<RaceRow[]> {
    const inputs = repeatedSamples(this.requireData().test, Math.max(...batches));
    const peers: { engine: string; start: () => Promise<{ kernel: string; inference: { time: TfjsMlpInference['time']; dispose: () => unknown } }> }[] = [
      {
        engine: 'tfjs-webgpu',
        start: async () => {
          const tfjs = await loadTfjsWebgpu(this.platform.gpu!);
          return { kernel: `TF.js ${tfjs.version} matMul + relu`, inference: TfjsMlpInference.create(tfjs, net) };
        },
      },
      { engine: 'onnxruntime-webgpu', start: async () => ({ kernel: 'ONNX Runtime Web (WebGPU provider), our ONNX export', inference: await OrtWebInference.create(net) }) },
    ];
    const rows: RaceRow[] = [];
    for (const peer of peers) {
      try {
        const { kernel, inference } = await peer.start();
        try {
          for (const batch of batches) {
            if (await stopAsked(control)) {
              skipped.push(stoppedBefore(`${peer.engine} at batch ${batch}`));
              return rows;
            }
            const ms = await inference.time(inputs, batch, repeats);
            rows.push({ engine: peer.engine, kernel, batch, samplesPerSec: (1000 * batch) / median(ms), sizes: [...net.sizes] });
          }
        } finally {
          await inference.dispose();
        }
      } catch (err) {
        skipped.push(`${peer.engine}: ${(err as Error).message}`);
      }
    }
    return rows;
  }

  /**
   * Measures the kernel variants on this GPU for the recipe's shapes (the seed's until a run
   * set one), as `webgpu-prune tune` does, runs the winners from now on and keeps them.
   */
  async tune(quick: boolean): Promise<TuneSummary> {
    const ctx = this.ctx;
    if (!ctx) throw new UserError('tuning measures the GPU, and this page runs on the JS reference');
    if (this.control) throw new UserError(`${this.control.what} is going on: stop it before tuning`);
    const result = await tune(ctx, tuneSettings(quick, this.recipe ?? SEED_RECIPE), (line) => this.emit({ kind: 'tune-log', line }));
    ctx.tuning = result.tuning;
    const tunedAt = new Date().toISOString();
    await this.platform.tuningStore?.save({ key: tuningKey(ctx.adapter, PACKAGE_VERSION), tunedAt, tuning: result.tuning, decisions: result.decisions });
    return { table: formatTuneTable(result), seconds: result.seconds, tunedAt };
  }

  /** The JS reference's engines, one run at a time: each is synchronous, and holds the worker's messages until it ends. */
  private async raceCpu(net: Network, batches: number[], repeats: number, control: RunControl, skipped: string[]): Promise<RaceRow[]> {
    const test = this.requireData().test;
    const { compact } = compactNetwork(net);
    const layers = csrLayers(net);
    const engines: { engine: string; kernel: string; sizes: number[]; run: (x: Float32Array, n: number) => unknown }[] = [
      { engine: 'js-dense', kernel: 'denseInfer', sizes: net.sizes, run: (x, n) => denseInfer(net, x, n) },
      { engine: 'js-sparse', kernel: 'sparseInfer', sizes: net.sizes, run: (x, n) => sparseInfer(layers, x, n) },
      { engine: 'js-compact', kernel: 'compactInfer (CSR)', sizes: compact.net.sizes, run: (x, n) => compactInfer(compact, x, n, true) },
    ];
    const rows: RaceRow[] = [];
    for (const batch of batches) {
      const inputs = repeatedSamples(test, batch);
      for (const e of engines) {
        const ms: number[] = [];
        // Run 0 warms up, untimed.
        for (let r = 0; r <= repeats; r++) {
          if (await stopAsked(control)) {
            skipped.push(stoppedBefore(`${e.engine} at batch ${batch}`));
            return rows;
          }
          const start = performance.now();
          e.run(inputs, batch);
          if (r > 0) ms.push(Math.max(performance.now() - start, 0.001));
        }
        rows.push({ engine: e.engine, kernel: e.kernel, batch, samplesPerSec: (1000 * batch) / median(ms), sizes: [...e.sizes] });
      }
    }
    return rows;
  }

  predict(pixels: Float32Array): Prediction {
    let inputs = pixels;
    if (this.deskewed) {
      const { rows, cols } = this.requireData().test.image!;
      inputs = new Float32Array(pixels.length);
      deskewImage(pixels, rows, cols, inputs);
    }
    const probabilities = (net: Network): number[] => {
      const logits = denseInfer(net, inputs, 1).logits;
      softmaxInPlace(logits);
      return Array.from(logits);
    };
    return { trained: probabilities(this.requireNetwork('trained')), pruned: this.pruned ? probabilities(this.pruned.net) : null };
  }

  network(which: NetworkChoice): NetworkSnapshot {
    const net = this.requireNetwork(which);
    const removed = which === 'pruned' ? this.pruned!.removed : net.sizes.map((n) => new Uint8Array(n));
    return { which, sizes: [...net.sizes], weights: net.weights.map((w) => w.slice()), masks: net.masks.map((m) => m.slice()), removed: removed.map((r) => r.slice()) };
  }

  save(which: NetworkChoice, format: SaveFormat): SavedModel {
    const net = which === 'pruned' ? (this.pruned?.saved ?? this.requireNetwork('pruned')) : this.requireNetwork('trained');
    const metadata: Record<string, string> = { ...(this.deskewed ? DESKEW_METADATA : {}), keptWeights: String(keptTotal(net)), totalWeights: String(totalWeights(net.sizes)) };
    if (this.recipe) metadata['recipe'] = JSON.stringify(this.recipe);
    if (which === 'pruned') metadata['pruned'] = this.pruned!.rule;
    const base = `mnist-${which}-${net.sizes.join('-')}`;
    return { bytes: encodeModel(net, format, { metadata }), fileName: format === 'seed-text' ? `${base}.txt` : `${base}.safetensors` };
  }

  /** Reads a network file (seed text or safetensors) as the trained network, and scores it. */
  async load(bytes: Uint8Array, name: string): Promise<LoadedModel> {
    const parsed = detectAndParseModel(bytes, name);
    // The page trains, prunes and races networks of whole samples: a compact file is expanded back.
    const net = expandInputs(parsed);
    const deskewed = readsDeskewed(parsed.metadata, name);
    const images = this.test ?? this.requireData().test;
    checkDataFits(net.sizes, images, name);
    if (this.control) throw new UserError(`${this.control.what} is going on: stop it before loading a network`);
    const test = deskewed ? this.deskewedOnce(images) : images;
    const score = await this.score(net, net.sizes, test);
    this.trained = net;
    this.pruned = null;
    this.recipe = null;
    this.deskewed = deskewed;
    return { name, format: parsed.format, score };
  }
}

/** Removes every weight into and out of neuron `j` of `sizes[layer]`. */
function dropNeuron(net: Network, layer: number, j: number): void {
  const { sizes } = net;
  if (layer > 0) {
    const out = sizes[layer]!;
    for (let i = 0; i < sizes[layer - 1]!; i++) {
      net.weights[layer - 1]![i * out + j] = 0;
      net.masks[layer - 1]![i * out + j] = 0;
    }
  }
  if (layer < sizes.length - 1) {
    const out = sizes[layer + 1]!;
    net.weights[layer]!.fill(0, j * out, (j + 1) * out);
    net.masks[layer]!.fill(0, j * out, (j + 1) * out);
  }
}

/** Sets the biases of `net`'s neurons that `removed` keeps to those of `compact`, its structured form. */
function keepBiasesOf(compact: Network, net: Network, removed: Uint8Array[]): void {
  net.biases!.forEach((biases, l) => {
    const gone = removed[l + 1]!;
    for (let o = 0, r = 0; o < biases.length; o++) if (!gone[o]) biases[o] = compact.biases![l]![r++]!;
  });
}

/** `count` test images, the test set repeated as often as needed. */
function repeatedSamples(test: Dataset, count: number): Float32Array {
  const f = test.features;
  const x = new Float32Array(count * f);
  for (let at = 0; at < count; at += test.count) x.set(test.inputs.subarray(0, Math.min(test.count, count - at) * f), at * f);
  return x;
}
