/**
 * What a training backend does. The CPU reference (`src/cpu/trainer.ts`) and the WebGPU
 * trainer (`src/gpu/trainer.ts`) implement the same seed semantics, so the training loop
 * (`src/train/run.ts`) drives either one:
 *
 * Per sample: forward through the layers (each neuron's bias, when the network has them, added
 * after its sum; a hidden neuron with value ≤ 0 passes nothing on, which is ReLU), prediction =
 * argmax of the logits, softmax; if p[target] < `confidence` the output gradient is onehot − p
 * (with distillation mixed with the teacher's soft term, src/train/distill.ts) and flows back
 * through the weights and the ReLU, else the sample contributes no gradient; a
 * sample with a NaN or infinite logit is counted as non-finite and contributes nothing else. Per
 * batch, with the seed's rule: velocity
 * += Σ_batch aᵀ·g for every weight that exists (mask 1), then w += lr·velocity, velocity *=
 * momentum; with another rule (src/train/optimizer.ts) the batch sum, divided by the batch size,
 * is the mean gradient of that rule's step. Pruned weights and their optimizer state stay exactly 0.
 * A bias's batch sum is Σ_batch g of its neuron (the weight rule with a constant input 1); biases
 * follow the weights' rule with no mask and no weight decay.
 */
import type { Network } from '../model/network';
import type { Distillation } from './distill';
import type { OptimizerSettings } from './optimizer';

export interface TrainConfig {
  batchSize: number;
  /** The seed's 0.99: samples whose target probability reaches it are not backpropagated. */
  confidence: number;
  /** The update rule; absent: the seed's. */
  updateRule?: OptimizerSettings;
  /**
   * Distillation from a teacher (src/train/distill.ts): the output gradient of a backpropagated
   * sample mixes in the soft term, whose targets every epoch brings (`EpochOptions.softTargets`).
   */
  distill?: Distillation;
}

export interface EpochResult {
  /** Training samples predicted correctly by the training forward passes (before each update). */
  correct: number;
  /** Samples trained on: whole batches only, as in the seed (60 000 / 800 = 75 batches). */
  samples: number;
  /** Samples that were backpropagated (p[target] < confidence). */
  backpropagated: number;
  /**
   * Samples whose logits were not all finite (the network overflowed float32 on them): counted
   * neither as correct nor as backpropagated, they contribute no gradient. Above 0 the training
   * has diverged.
   */
  nonFinite: number;
  /**
   * Σ over the finite samples of the cross-entropy −ln p[target], in nats, from the same forward
   * passes (the mean loss is lossSum / (samples − nonFinite)).
   */
  lossSum: number;
}

/** The epoch's mean cross-entropy over its finite samples, or null when none was finite. */
export function meanLoss(r: EpochResult): number | null {
  const finite = r.samples - r.nonFinite;
  return finite > 0 ? r.lossSum / finite : null;
}

export interface EpochOptions {
  /** The batches before this one were trained already (an epoch resumed from a checkpoint). */
  firstBatch?: number;
  /**
   * The loss summed over those batches: the result's `lossSum` goes on from it, sample by sample
   * on the JS reference, so a resumed epoch adds in the same order as one never stopped.
   */
  lossSumBefore?: number;
  /**
   * Asked between batches with how many of the epoch's batches are trained (the progress a
   * caller can show): true ends the epoch there, with the counts of the batches trained.
   */
  shouldStop?: (batchesDone: number) => boolean;
  /**
   * This epoch's inputs in place of the training set's own ([count, features] like them, the
   * same samples transformed, e.g. shifted images); the labels stay. Absent: the set's inputs.
   */
  inputs?: Float32Array;
  /**
   * With distillation (`TrainConfig.distill`): the teacher's soft targets q_T of this epoch's
   * inputs, [count, classes] f32 in sample order like the labels. Required then, refused otherwise.
   */
  softTargets?: Float32Array;
}

/** `options.inputs` checked against a training set of `count` samples of `features`, or the set's own inputs. */
export function epochInputs(options: EpochOptions, own: Float32Array): Float32Array {
  const given = options.inputs;
  if (given && given.length !== own.length) throw new RangeError(`an epoch's inputs have ${given.length} values, the training set ${own.length}`);
  return given ?? own;
}

/** `options.softTargets` checked against the trainer's config and a training set of `count` samples of `classes`: null without distillation. */
export function epochSoftTargets(options: EpochOptions, config: TrainConfig, count: number, classes: number): Float32Array | null {
  const given = options.softTargets;
  if (!config.distill) {
    if (given) throw new RangeError('soft targets were given to a trainer without distillation');
    return null;
  }
  if (!given) throw new RangeError('a trainer with distillation needs each epoch\'s soft targets');
  if (given.length !== count * classes) throw new RangeError(`an epoch's soft targets have ${given.length} values, the training set needs ${count}×${classes}`);
  return given;
}

/** What the update rule carries from batch to batch, per layer in the weights' shape. */
export interface OptimizerState {
  /** The seed's velocities, momentum's buffers or Adam's first moments m; zeros for sgd. */
  velocities: Float32Array[];
  /** Adam's second moments v; empty for the other rules. */
  secondMoments: Float32Array[];
  /** Weight updates so far (Adam's t). */
  steps: number;
  /** With biases: the same two kinds of state per layer in the biases' shape ([out]). */
  biasVelocities?: Float32Array[];
  biasSecondMoments?: Float32Array[];
}

export interface TrainerState extends OptimizerState {
  net: Network;
}

export interface Trainer {
  readonly backend: 'cpu' | 'gpu';
  /**
   * One epoch over the trainer's training set in `order` (sample indices; null = file order),
   * in whole batches; the remainder that does not fill a batch is skipped. The result counts
   * the batches trained by this call (`samples` / batch size of them).
   */
  trainEpoch(order: Uint32Array | null, lr: number, momentum: number, options?: EpochOptions): Promise<EpochResult>;
  /** Copies of the current weights, masks and optimizer state. */
  state(): Promise<TrainerState>;
  /** Replaces the masks; weights and optimizer state where the mask is 0 become 0 and stay 0. */
  setMasks(masks: Uint8Array[]): Promise<void>;
  /**
   * True when a trainer made again from this one's state would run faster kernels for its
   * masks (the GPU trainer: a layer pruned below the sparse-training crossover). Absent: never.
   */
  kernelsOutdated?(): boolean;
  dispose(): void;
}

/** `firstBatch` of an epoch of `batches` batches, checked. */
export function checkFirstBatch(firstBatch: number, batches: number): number {
  if (!Number.isInteger(firstBatch) || firstBatch < 0 || firstBatch > batches) {
    throw new RangeError(`first batch ${firstBatch} is not in [0, ${batches}]`);
  }
  return firstBatch;
}

/**
 * The optimizer state a trainer of `weights` (and `biases`, when the network has them) starts
 * from: copies of `start`'s arrays, zeros for what it lacks (a fresh run, or a checkpoint of a
 * rule with less state). Null when a given array does not have its parameters' shape.
 */
export function startingOptimizerState(
  weights: readonly Float32Array[],
  secondMoments: boolean,
  start: Partial<OptimizerState> = {},
  biases?: readonly Float32Array[],
): OptimizerState | null {
  const arrays = (shapes: readonly Float32Array[], given: Float32Array[] | undefined): Float32Array[] | null => {
    if (given && given.length > 0) {
      if (given.length !== shapes.length || given.some((a, l) => a.length !== shapes[l]!.length)) return null;
      return given.map((a) => a.slice());
    }
    return shapes.map((w) => new Float32Array(w.length));
  };
  const velocities = arrays(weights, start.velocities);
  const second = secondMoments ? arrays(weights, start.secondMoments) : [];
  if (!velocities || !second) return null;
  const state: OptimizerState = { velocities, secondMoments: second, steps: start.steps ?? 0 };
  if (!biases) return state;
  const biasVelocities = arrays(biases, start.biasVelocities);
  const biasSecondMoments = secondMoments ? arrays(biases, start.biasSecondMoments) : [];
  if (!biasVelocities || !biasSecondMoments) return null;
  return { ...state, biasVelocities, biasSecondMoments };
}
