/**
 * Plain-loop references for the GPU training kernels, one function per kernel, written from the
 * math. `shaders/*.wgsl` must match these on every input; `test/gpu/*.test.ts` checks that.
 * Matrices are row-major Float32Arrays; shapes are given as [rows, cols].
 */
import { allFinite } from './forward';

/** C = A·B. The forward pass X·W. */
export function matmul(
  a: Float32Array, // [m, k]
  b: Float32Array, // [k, n]
  c: Float32Array, // [m, n], overwritten
  m: number,
  k: number,
  n: number,
): void {
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let sum = 0;
      for (let p = 0; p < k; p++) sum += a[i * k + p]! * b[p * n + j]!;
      c[i * n + j] = sum;
    }
  }
}

/** C[i, j] += bias[j], in place: a layer's biases on its summed outputs (before the ReLU). */
export function addBias(
  c: Float32Array, // [m, n]
  bias: Float32Array, // [n]
  m: number,
  n: number,
): void {
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) c[i * n + j] = c[i * n + j]! + bias[j]!;
  }
}

/** C = A·Bᵀ. Back-propagation through a layer: dY·Wᵀ. */
export function matmulTransB(
  a: Float32Array, // [m, k]
  b: Float32Array, // [n, k]
  c: Float32Array, // [m, n], overwritten
  m: number,
  k: number,
  n: number,
): void {
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let sum = 0;
      for (let p = 0; p < k; p++) sum += a[i * k + p]! * b[j * k + p]!;
      c[i * n + j] = sum;
    }
  }
}

/** C = Aᵀ·B. The weight gradient Xᵀ·dY, summed over the batch. */
export function matmulTransA(
  a: Float32Array, // [k, m]
  b: Float32Array, // [k, n]
  c: Float32Array, // [m, n], overwritten
  m: number,
  k: number,
  n: number,
): void {
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let sum = 0;
      for (let p = 0; p < k; p++) sum += a[p * m + i]! * b[p * n + j]!;
      c[i * n + j] = sum;
    }
  }
}

/**
 * x = 0 where x ≤ 0, in place: a hidden neuron with value ≤ 0 passes nothing on. A NaN is not
 * ≤ 0 and passes on, as in the forward pass of src/cpu/forward.ts, so an overflow reaches the
 * logits, where it is detected.
 */
export function relu(
  x: Float32Array, // [any]
): void {
  for (let i = 0; i < x.length; i++) if (x[i]! <= 0) x[i] = 0;
}

/**
 * g = g·[h > 0], in place: an inactive hidden neuron gets no gradient. Then h = 0 where it is NaN
 * or ±Inf: such an activation belongs to a sample whose logits overflowed and whose gradient is
 * 0, and the weight gradient that reads h next would turn ∞·0 into NaN.
 */
export function reluGradMask(
  g: Float32Array, // [batch, units]: gradient at the layer's output
  h: Float32Array, // [batch, units]: the layer's activations (after ReLU), cleared where not finite
): void {
  for (let i = 0; i < g.length; i++) {
    if (!(h[i]! > 0)) g[i] = 0;
    if (!Number.isFinite(h[i]!)) h[i] = 0;
  }
}

/** v = (v + g)·mask, in place: the batch-summed gradient goes into the velocity of live weights. */
export function accumulateVelocity(
  v: Float32Array, // [in, out]
  g: Float32Array, // [in, out]: Xᵀ·dY for the batch
  mask: Uint8Array, // [in, out]: 1 = weight exists
): void {
  for (let i = 0; i < v.length; i++) v[i] = mask[i] ? v[i]! + g[i]! : 0;
}

export interface SoftmaxGradCounts {
  /** Samples whose argmax equals the target. */
  correct: number;
  /** Samples with p[target] < confidence, whose gradient is not zero. */
  backpropagated: number;
  /** Samples whose logits are not all finite: neither correct nor backpropagated, gradient 0. */
  nonFinite: number;
  /** Σ of the finite samples' cross-entropy (`crossEntropy`). */
  lossSum: number;
}

/** −ln softmax(logits)[target] for one row of finite logits, as ln Σ exp(x − max) − (x[target] − max), in f64. */
export function crossEntropy(
  logits: ArrayLike<number>, // [classes]
  offset: number, // where the row starts in `logits`
  classes: number,
  target: number,
): number {
  let max = logits[offset]!;
  for (let c = 1; c < classes; c++) max = Math.max(max, logits[offset + c]!);
  let sum = 0;
  for (let c = 0; c < classes; c++) sum += Math.exp(logits[offset + c]! - max);
  return Math.log(sum) - (logits[offset + target]! - max);
}

/**
 * Per sample: prediction = argmax of the logits (the first maximum wins), p = softmax(logits)
 * computed as exp(x − max) / Σ exp(x − max) (the same value as the seed's exp(x) / Σ exp(x),
 * without overflow), then grad = onehot(target) − p if p[target] < confidence, else 0. A sample
 * with a NaN or infinite logit (the network overflowed) only counts as non-finite: it predicts
 * nothing and its gradient is 0, so it spreads no NaN.
 */
export function softmaxGrad(
  logits: Float32Array, // [batch, classes]
  targets: ArrayLike<number>, // [batch]: class indices
  grad: Float32Array, // [batch, classes], overwritten
  batch: number,
  classes: number,
  confidence: number,
  backprop?: Uint32Array, // [batch]: 1 where the gradient is computed, else 0 (overwritten when given)
): SoftmaxGradCounts {
  const counts = { correct: 0, backpropagated: 0, nonFinite: 0, lossSum: 0 };
  backprop?.fill(0, 0, batch);
  const p = new Float64Array(classes);
  for (let s = 0; s < batch; s++) {
    const row = s * classes;
    if (!allFinite(logits.subarray(row, row + classes))) {
      counts.nonFinite++;
      grad.fill(0, row, row + classes);
      continue;
    }
    let best = 0;
    for (let c = 1; c < classes; c++) if (logits[row + c]! > logits[row + best]!) best = c;
    const target = targets[s]!;
    if (best === target) counts.correct++;
    counts.lossSum += crossEntropy(logits, row, classes, target);
    const max = logits[row + best]!;
    let sum = 0;
    for (let c = 0; c < classes; c++) sum += p[c] = Math.exp(logits[row + c]! - max);
    for (let c = 0; c < classes; c++) p[c] = p[c]! / sum;
    const learn = p[target]! < confidence;
    if (learn) counts.backpropagated++;
    if (learn && backprop) backprop[s] = 1;
    for (let c = 0; c < classes; c++) grad[row + c] = learn ? (c === target ? 1 : 0) - p[c]! : 0;
  }
  return counts;
}

/** Where mask = 1: w += lr·v, then v *= momentum. Elsewhere w and v are left as they are (0). */
export function maskedMomentumUpdate(
  w: Float32Array, // [in, out]
  v: Float32Array, // [in, out]
  mask: Uint8Array, // [in, out]
  lr: number,
  momentum: number,
): void {
  for (let i = 0; i < w.length; i++) {
    if (!mask[i]) continue;
    w[i] = w[i]! + lr * v[i]!;
    v[i] = v[i]! * momentum;
  }
}
