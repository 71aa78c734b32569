/**
 * The messages between the page and its worker (src/web/worker.ts), which owns the GPU device,
 * the data and the networks. The page calls a method with arguments and gets one reply per call
 * (`WorkerApi`); while a call runs, the worker also sends events (download and training progress,
 * epochs, errors reported by the device). Everything here is structured-cloneable.
 */
import type { PruneScore, SparsityScope } from '../prune/unstructured';
import type { Recipe } from '../train/recipe';

/** Where training and inference run. */
export interface BackendInfo {
  backend: 'gpu' | 'cpu';
  /** The adapter's name, or `JS reference (no WebGPU)`. */
  adapter: string;
  /** Why there is no GPU (one sentence, with what to do), when `backend` is `cpu`. */
  noGpuReason: string | null;
  /** The kernel choices the device runs: `tuned YYYY-MM-DD` (from this browser's tuning cache) or `defaults`; null without a GPU. */
  tuning: string | null;
}

/** What tuning this GPU measured and chose (kept in IndexedDB for later visits). */
export interface TuneSummary {
  /** The table of choices, as `webgpu-prune tune` prints it. */
  table: string;
  seconds: number;
  tunedAt: string;
}

export interface DataInfo {
  trainCount: number;
  testCount: number;
  /** Every file came from Cache Storage (no download). */
  cached: boolean;
  seconds: number;
}

export interface TrainRequest {
  recipe: Recipe;
  /** Train on the first N training images (null: all 60 000). */
  limit: number | null;
  /** Test on the first N test images (null: all 10 000). */
  testLimit: number | null;
}

export interface EpochPoint {
  /** 1-based. */
  epoch: number;
  /** Percent, from the training forward passes. */
  trainAccuracy: number;
  /** Percent, on the test images after the epoch. */
  testAccuracy: number;
  /** Mean cross-entropy of the training forward passes (nats), null when none was finite. */
  loss: number | null;
  /** Percent of the weights kept after the epoch (its pruning pass included). */
  keptWeights: number;
  /** Seconds of training since the start (test passes not counted). */
  seconds: number;
  /** The pruning rule applied after this epoch, if any. */
  pruned: string | null;
}

/** A network scored on the test images. */
export interface Score {
  /** Percent. */
  accuracy: number;
  correct: number;
  total: number;
  keptWeights: number;
  totalWeights: number;
  sizes: number[];
  /** The engine that ran it (`js-reference`, `dense matmul_…`, `hybrid(…)`). */
  engine: string;
}

export interface TrainSummary {
  status: 'finished' | 'stopped' | 'diverged';
  /** Why training ended early (diverged). */
  message: string | null;
  epochs: EpochPoint[];
  seconds: number;
  /** The trained network (after the schedule's pruning). */
  trained: Score;
}

export interface PruneRequest {
  /** At most one of threshold, sparsity and layerSparsity; none: structured only. */
  threshold?: number;
  sparsity?: number;
  layerSparsity?: number[];
  scope: SparsityScope;
  /** With a sparsity: what is ranked (absent: magnitude). */
  score?: PruneScore;
  /** Then remove every neuron that cannot affect the output. */
  structured: boolean;
  /** With `structured`: keep this fraction of each hidden layer (weakest go). */
  keepNeurons?: number;
}

export interface PruneSummary {
  rule: string;
  before: Score;
  /** The pruned network scored as its masks say… */
  after: Score;
  /** …and as the structured step's smaller network (the same predictions), when it ran. */
  compact: Score | null;
  /** Hidden neurons removed by the structured step, per layer of `sizes` (0 = input). */
  removedNeurons: number[];
}

export interface RaceRow {
  /** dense, sparse, compact, hybrid, compact-dense (GPU) or js-dense, js-sparse, js-compact. */
  engine: string;
  /** The kernels that ran. */
  kernel: string;
  batch: number;
  samplesPerSec: number;
  sizes: number[];
}

export interface RaceResult {
  rows: RaceRow[];
  /** What was not measured and why, a line each: engines that cannot run a batch size, peers that failed, where a stop ended the race. */
  skipped: string[];
}

export interface Prediction {
  /** Softmax of each network's logits; `pruned` is null until a network was pruned. */
  trained: number[];
  pruned: number[] | null;
}

export type NetworkChoice = 'trained' | 'pruned';

/** A network for drawing: weights `[in, out]` per layer, masks, and the neurons the structured step removed. */
export interface NetworkSnapshot {
  which: NetworkChoice;
  sizes: number[];
  weights: Float32Array[];
  masks: Uint8Array[];
  /** Per entry of `sizes`: 1 where the neuron was removed by the structured step. */
  removed: Uint8Array[];
}

export type SaveFormat = 'safetensors' | 'seed-text';

export interface SavedModel {
  bytes: Uint8Array;
  fileName: string;
}

export interface LoadedModel {
  name: string;
  format: string;
  score: Score;
}

/** Each method: what the page sends and what the worker answers. */
export interface WorkerApi {
  init: { args: { forceCpu: boolean }; result: BackendInfo };
  loadData: { args: { baseUrl: string }; result: DataInfo };
  train: { args: TrainRequest; result: TrainSummary };
  pause: { args: null; result: null };
  resume: { args: null; result: null };
  stop: { args: null; result: null };
  prune: { args: PruneRequest; result: PruneSummary };
  race: { args: { batches: number[]; repeats: number }; result: RaceResult };
  tune: { args: { quick: boolean }; result: TuneSummary };
  predict: { args: { pixels: Float32Array }; result: Prediction };
  network: { args: { which: NetworkChoice }; result: NetworkSnapshot };
  save: { args: { which: NetworkChoice; format: SaveFormat }; result: SavedModel };
  load: { args: { bytes: Uint8Array; name: string }; result: LoadedModel };
}

export type Method = keyof WorkerApi;

export type Request = { [M in Method]: { id: number; method: M; args: WorkerApi[M]['args'] } }[Method];

export type WorkerEvent =
  | { kind: 'download'; loaded: number; total: number; cached: boolean }
  | { kind: 'epoch'; point: EpochPoint }
  | {
      kind: 'progress';
      /** Epochs done, with the running epoch's estimated fraction. */
      epochs: number;
      totalEpochs: number;
      samplesPerSec: number;
      secondsLeft: number | null;
      paused: boolean;
    }
  | { kind: 'gpu-error'; message: string }
  /** A progress line of `tune`, or a warning about the tuning cache. */
  | { kind: 'tune-log'; line: string };

export type FromWorker =
  | { type: 'reply'; id: number; ok: true; result: unknown }
  | { type: 'reply'; id: number; ok: false; error: string }
  | { type: 'event'; event: WorkerEvent };
