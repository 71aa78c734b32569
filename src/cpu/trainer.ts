/**
 * The JS reference trainer: the seed's per-sample training loop in plain TypeScript, single
 * threaded. Every GPU result is checked against this code, so it stays obvious: no batching
 * tricks, the seed's skips (inputs ≤ 0, confident samples) and float32 storage throughout.
 */
import type { Dataset } from '../data/dataset';
import { applyMasks, cloneNetwork, type Network } from '../model/network';
import { isAdam, SEED_OPTIMIZER, type OptimizerSettings } from '../train/optimizer';
import {
  checkFirstBatch,
  epochInputs,
  epochSoftTargets,
  startingOptimizerState,
  type EpochOptions,
  type EpochResult,
  type OptimizerState,
  type Trainer,
  type TrainConfig,
  type TrainerState,
} from '../train/trainer';
import { allFinite, allocateActivations, argmax, forwardSample } from './forward';
import { crossEntropy } from './ops';
import { addDistillation } from '../train/distill';
import { biasStep, optimizerStep } from './optimizers';

/**
 * Turns logits into probabilities in place. Subtracting the maximum first changes nothing
 * mathematically (the seed exponentiates the raw logits) but cannot overflow.
 */
export function softmaxInPlace(values: Float32Array): void {
  let max = values[0]!;
  for (let i = 1; i < values.length; i++) if (values[i]! > max) max = values[i]!;
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i] = Math.exp(values[i]! - max);
  for (let i = 0; i < values.length; i++) values[i] = values[i]! / sum;
}

/**
 * Adds one sample's weight gradient to `velocities` (the seed's `delta`) and, given
 * `biasVelocities`, its bias gradient (each neuron's g, as if its input were a constant 1).
 * `gradients[l]` receives ∂/∂(layer l values) of log p[target] for the active neurons, 0
 * elsewhere; the output gradient is onehot(target) − p, the direction the update climbs.
 */
export function backpropSample(
  net: Network,
  activations: Float32Array[], // per layer [sizes[l]]: values after forwardSample, output = probabilities
  gradients: Float32Array[], // per layer [sizes[l]]: scratch
  target: number,
  velocities: Float32Array[], // per layer [in, out]: accumulated
  biasVelocities?: Float32Array[], // per layer [out]: accumulated
): void {
  const last = net.sizes.length - 1;
  hardLabelGradient(activations[last]!, target, gradients[last]!);
  backpropOutputGradient(net, activations, gradients, velocities, biasVelocities);
}

/** onehot(target) − p into `out` ([classes] each). */
function hardLabelGradient(probabilities: Float32Array, target: number, out: Float32Array): void {
  for (let o = 0; o < probabilities.length; o++) out[o] = (o === target ? 1 : 0) - probabilities[o]!;
}

/**
 * `backpropSample` from an output gradient already in `gradients[last]` (there onehot − p, or
 * with distillation the mix of src/train/distill.ts): the sums and the gradients of the layers below.
 */
function backpropOutputGradient(
  net: Network,
  activations: Float32Array[], // per layer [sizes[l]]: values after forwardSample
  gradients: Float32Array[], // per layer [sizes[l]]: the output layer's set, the others scratch
  velocities: Float32Array[], // per layer [in, out]: accumulated
  biasVelocities?: Float32Array[], // per layer [out]: accumulated
): void {
  const { sizes, weights } = net;
  const last = sizes.length - 1;
  for (let l = last - 1; l >= 0; l--) {
    const input = activations[l]!; // [in]
    const below = gradients[l]!; // [in]
    const above = gradients[l + 1]!; // [out]
    const w = weights[l]!; // [in, out]
    const v = velocities[l]!; // [in, out]
    const out = sizes[l + 1]!;
    const vb = biasVelocities?.[l]; // [out]
    if (vb) for (let o = 0; o < out; o++) vb[o] += above[o]!;
    below.fill(0);
    // Nothing uses the gradient of the input pixels (the seed computes it anyway).
    const needBelow = l > 0;
    for (let i = 0; i < input.length; i++) {
      const a = input[i]!;
      // An infinite activation of a sample with finite logits only feeds neurons that ReLU
      // clears (their gradient is 0): skipped, as on the GPU, rather than adding ∞·0 = NaN.
      if (a <= 0 || a === Infinity) continue;
      const row = i * out;
      let sum = 0;
      for (let o = 0; o < out; o++) {
        const g = above[o]!;
        if (needBelow) sum += w[row + o]! * g;
        v[row + o] += a * g;
      }
      below[i] = sum;
    }
  }
}

/** The seed's batch update of one layer's biases (never pruned): b += lr·v, then v *= momentum. */
export function biasMomentumUpdate(b: Float32Array, v: Float32Array, lr: number, momentum: number): void {
  for (let o = 0; o < b.length; o++) {
    b[o] += lr * v[o]!;
    v[o] = v[o]! * momentum;
  }
}

/** The seed's batch update: w += lr·v, then v *= momentum; pruned entries stay 0. */
export function momentumUpdate(net: Network, velocities: Float32Array[], lr: number, momentum: number): void {
  net.weights.forEach((w, l) => {
    const v = velocities[l]!;
    const mask = net.masks[l]!;
    for (let k = 0; k < w.length; k++) {
      if (mask[k] === 0) {
        w[k] = 0;
        v[k] = 0;
        continue;
      }
      w[k] += lr * v[k]!;
      v[k] = v[k]! * momentum;
    }
  });
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

export class CpuTrainer implements Trainer {
  readonly backend = 'cpu' as const;
  private readonly net: Network;
  private readonly optimizer: OptimizerSettings;
  private readonly optimizerState: OptimizerState;
  /** The batch's Σ a·δ per weight for the rules other than the seed's (the seed sums into its velocities). */
  private readonly gradientSums: Float32Array[];
  /** The same per bias (Σ δ); absent without biases. */
  private readonly biasGradientSums?: Float32Array[];
  private readonly activations: Float32Array[];
  private readonly gradients: Float32Array[];
  /** With distillation: the sample's logits, kept before the softmax overwrites them, and softmax(z / T). */
  private readonly logits: Float32Array;
  private readonly tempered: Float64Array;

  constructor(
    net: Network,
    private readonly train: Dataset,
    private readonly config: TrainConfig,
    /** Where a resumed run's optimizer was; absent: zeros. */
    start?: Partial<OptimizerState>,
  ) {
    if (train.features !== net.sizes[0]) {
      throw new Error(`the network takes ${net.sizes[0]} inputs but ${train.source} has ${train.features} per sample`);
    }
    this.net = cloneNetwork(net);
    this.optimizer = config.updateRule ?? SEED_OPTIMIZER;
    const state = startingOptimizerState(net.weights, isAdam(this.optimizer.kind), start, net.biases);
    if (!state) throw new Error('the optimizer state does not match the network’s weight and bias shapes');
    this.optimizerState = state;
    this.applyMasks();
    const seed = this.optimizer.kind === 'seed';
    this.gradientSums = seed ? state.velocities : net.weights.map((w) => new Float32Array(w.length));
    if (net.biases) this.biasGradientSums = seed ? state.biasVelocities : net.biases.map((b) => new Float32Array(b.length));
    this.activations = allocateActivations(net.sizes);
    this.gradients = allocateActivations(net.sizes);
    const classes = net.sizes[net.sizes.length - 1]!;
    this.logits = new Float32Array(classes);
    this.tempered = new Float64Array(classes);
  }

  private applyMasks(): void {
    const { velocities, secondMoments } = this.optimizerState;
    applyMasks(this.net, velocities, ...(secondMoments.length > 0 ? [secondMoments] : []));
  }

  /** One batch's update of every layer, from the sums backpropagation left. */
  private update(lr: number, momentum: number): void {
    const { kind, weightDecay, beta1, beta2, eps } = this.optimizer;
    const state = this.optimizerState;
    state.steps++;
    const biases = this.net.biases ?? [];
    if (kind === 'seed') {
      momentumUpdate(this.net, state.velocities, lr, momentum);
      biases.forEach((b, l) => biasMomentumUpdate(b, state.biasVelocities![l]!, lr, momentum));
      return;
    }
    const constants = { lr, momentum, weightDecay, beta1, beta2, eps, batch: this.config.batchSize, step: state.steps };
    this.net.weights.forEach((w, l) => {
      const layer = { w, gradientSum: this.gradientSums[l]!, mask: this.net.masks[l]!, first: state.velocities[l]!, second: state.secondMoments[l] };
      optimizerStep(kind, layer, constants);
    });
    biases.forEach((b, l) => {
      biasStep(kind, { w: b, gradientSum: this.biasGradientSums![l]!, first: state.biasVelocities![l]!, second: state.biasSecondMoments![l] }, constants);
    });
  }

  async trainEpoch(order: Uint32Array | null, lr: number, momentum: number, options: EpochOptions = {}): Promise<EpochResult> {
    const { batchSize, confidence } = this.config;
    const { labels, features } = this.train;
    const inputs = epochInputs(options, this.train.inputs);
    const classes = this.logits.length;
    const soft = epochSoftTargets(options, this.config, this.train.count, classes);
    const batches = Math.floor(this.train.count / batchSize);
    const firstBatch = checkFirstBatch(options.firstBatch ?? 0, batches);
    const input = this.activations[0]!;
    const output = this.activations[this.activations.length - 1]!;
    let correct = 0;
    let backpropagated = 0;
    let nonFinite = 0;
    let lossSum = options.lossSumBefore ?? 0;
    let b = firstBatch;
    for (; b < batches; b++) {
      // A stop request (a signal) can only arrive while the event loop runs: yield between batches.
      if (options.shouldStop) {
        await yieldToEventLoop();
        if (options.shouldStop(b)) break;
      }
      for (let n = b * batchSize; n < (b + 1) * batchSize; n++) {
        const s = order ? order[n]! : n;
        const target = labels[s]!;
        input.set(inputs.subarray(s * features, (s + 1) * features));
        forwardSample(this.net, this.activations);
        // Overflowed logits predict nothing and teach nothing (see softmaxGrad in ops.ts).
        if (!allFinite(output)) {
          nonFinite++;
          continue;
        }
        if (argmax(output) === target) correct++;
        lossSum += crossEntropy(output, 0, output.length, target);
        if (soft) this.logits.set(output);
        softmaxInPlace(output);
        if (output[target]! < confidence) {
          if (soft) this.backpropDistilled(target, soft, s * classes);
          else backpropSample(this.net, this.activations, this.gradients, target, this.gradientSums, this.biasGradientSums);
          backpropagated++;
        }
      }
      this.update(lr, momentum);
    }
    return { correct, samples: (b - firstBatch) * batchSize, backpropagated, nonFinite, lossSum };
  }

  /** One sample's backpropagation from the distilled output gradient (its q_T at `softOffset` of `soft`). */
  private backpropDistilled(target: number, soft: Float32Array, softOffset: number): void {
    const outGradient = this.gradients[this.gradients.length - 1]!;
    hardLabelGradient(this.activations[this.activations.length - 1]!, target, outGradient);
    addDistillation(outGradient, 0, this.logits, 0, soft, softOffset, this.logits.length, this.config.distill!, this.tempered);
    backpropOutputGradient(this.net, this.activations, this.gradients, this.gradientSums, this.biasGradientSums);
  }

  async state(): Promise<TrainerState> {
    const { velocities, secondMoments, steps, biasVelocities, biasSecondMoments } = this.optimizerState;
    const copy = (arrays: Float32Array[]) => arrays.map((a) => a.slice());
    const state: TrainerState = { net: cloneNetwork(this.net), velocities: copy(velocities), secondMoments: copy(secondMoments), steps };
    if (biasVelocities) Object.assign(state, { biasVelocities: copy(biasVelocities), biasSecondMoments: copy(biasSecondMoments!) });
    return state;
  }

  async setMasks(masks: Uint8Array[]): Promise<void> {
    this.net.masks = masks.map((m) => m.slice());
    this.applyMasks();
  }

  dispose(): void {}
}
