/**
 * The update rules other than the seed's (src/train/optimizer.ts), one layer at a time, in plain
 * loops: the JS reference trainer's update and the reference of shaders/optimizers.wgsl.
 *
 * `gradientSum` holds the batch's Σ a·δ with δ = onehot − p, the direction that lowers the loss,
 * so the mean loss gradient of a weight is −gradientSum/batch. Each step consumes the sum (sets
 * it to 0 for the next batch). Where the mask is 0 the weight and all its state become 0.
 * Biases take the same step with no mask and no weight decay (`biasStep`).
 */
import type { OptimizerKind } from '../train/optimizer';

export interface StepConstants {
  lr: number;
  /** momentum: μ; unused by the others. */
  momentum: number;
  weightDecay: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** Samples in the batch: the divisor of the mean gradient. */
  batch: number;
  /** 1-based number of this update (Adam's bias correction). */
  step: number;
}

export interface LayerState {
  w: Float32Array;
  gradientSum: Float32Array;
  /** Absent: every entry is present (biases). */
  mask?: Uint8Array;
  /** momentum: the velocity buffer; adam, adamw: m. Unused by sgd. */
  first: Float32Array;
  /** adam, adamw: v. */
  second?: Float32Array;
}

export function optimizerStep(kind: Exclude<OptimizerKind, 'seed'>, layer: LayerState, c: StepConstants): void {
  const adam = kind === 'adam' || kind === 'adamw';
  const { w, gradientSum, mask, first } = layer;
  const second = layer.second ?? new Float32Array(0);
  if (adam && second.length !== w.length) throw new Error(`${kind} needs second moments for each of the ${w.length} weights`);
  const decoupled = kind === 'adamw';
  const correction1 = 1 - Math.pow(c.beta1, c.step);
  const correction2 = 1 - Math.pow(c.beta2, c.step);
  for (let i = 0; i < w.length; i++) {
    if (mask && !mask[i]) {
      w[i] = 0;
      gradientSum[i] = 0;
      if (kind !== 'sgd') first[i] = 0;
      if (adam) second[i] = 0;
      continue;
    }
    let g = -gradientSum[i]! / c.batch;
    gradientSum[i] = 0;
    if (!decoupled) g += c.weightDecay * w[i]!;
    if (kind === 'sgd') {
      w[i] = w[i]! - c.lr * g;
    } else if (kind === 'momentum') {
      first[i] = c.momentum * first[i]! + g;
      w[i] = w[i]! - c.lr * first[i]!;
    } else {
      first[i] = c.beta1 * first[i]! + (1 - c.beta1) * g;
      second[i] = c.beta2 * second[i]! + (1 - c.beta2) * g * g;
      const mHat = first[i]! / correction1;
      const vHat = second[i]! / correction2;
      const decayed = decoupled ? w[i]! * (1 - c.lr * c.weightDecay) : w[i]!;
      w[i] = decayed - (c.lr * mHat) / (Math.sqrt(vHat) + c.eps);
    }
  }
}

/** One update of a layer's biases `[out]`: the weights' rule with every bias present and no weight decay (biases are not decayed). */
export function biasStep(kind: Exclude<OptimizerKind, 'seed'>, bias: Omit<LayerState, 'mask'>, c: StepConstants): void {
  optimizerStep(kind, bias, { ...c, weightDecay: 0 });
}
