/**
 * The JS reference forward pass, one sample at a time, as the seed computes it: each neuron of a
 * layer whose value is ≤ 0 passes nothing on (ReLU on hidden layers; pixels are ≥ 0 anyway), the
 * output layer is left as logits. A NaN is not ≤ 0: it passes on, so a network that overflows
 * float32 shows it in its logits. Plain loops over the dense [in, out] weights; pruned weights are
 * exact zeros, so they add nothing. A network with biases adds each neuron's bias once, after its
 * sum (before the ReLU); one without adds nothing, so the seed's arithmetic is unchanged.
 */
import type { Dataset } from '../data/dataset';
import type { Network } from '../model/network';

/** Scratch arrays for one sample: `activations[l]` holds layer l's values (layer 0 = input). */
export function allocateActivations(sizes: readonly number[]): Float32Array[] {
  return sizes.map((n) => new Float32Array(n));
}

/**
 * Fills `activations[1..]` from `activations[0]` (the input, length sizes[0]). Hidden values keep
 * their raw sums, as in the seed; consumers treat values ≤ 0 as inactive.
 */
export function forwardSample(net: Network, activations: Float32Array[]): void {
  const { sizes, weights, biases } = net;
  for (let l = 0; l + 1 < sizes.length; l++) {
    const input = activations[l]!; // [in]
    const output = activations[l + 1]!; // [out]
    const w = weights[l]!; // [in, out]
    const out = sizes[l + 1]!;
    output.fill(0);
    for (let i = 0; i < input.length; i++) {
      const a = input[i]!;
      if (a <= 0) continue;
      const row = i * out;
      for (let o = 0; o < out; o++) output[o] += w[row + o]! * a;
    }
    const b = biases?.[l]; // [out]
    if (b) for (let o = 0; o < out; o++) output[o] += b[o]!;
  }
}

/** Index of the largest value; the first one wins a tie, as in the seed. */
export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i;
  return best;
}

/** False when any value is NaN or ±Infinity. */
export function allFinite(values: ArrayLike<number>): boolean {
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i]!)) return false;
  return true;
}

export interface Inference {
  /** `[count, classes]` */
  logits: Float32Array;
  /** `[count]`: argmax of each row of `logits`, the first maximum wins. */
  predictions: Uint8Array;
  /**
   * Samples whose logits are not all finite: the network overflowed float32 on them, and their
   * prediction means nothing.
   */
  nonFinite: number;
}

/** Predictions and the non-finite count of `logits` `[count, classes]`. */
export function inferenceOf(logits: Float32Array, count: number, classes: number): Inference {
  const predictions = new Uint8Array(count);
  let nonFinite = 0;
  for (let s = 0; s < count; s++) {
    const row = logits.subarray(s * classes, (s + 1) * classes);
    predictions[s] = argmax(row);
    if (!allFinite(row)) nonFinite++;
  }
  return { logits, predictions, nonFinite };
}

/** The logits and predictions of every sample in `data`, one sample at a time. */
export function inferAll(net: Network, data: Dataset): Inference {
  const activations = allocateActivations(net.sizes);
  const output = activations[activations.length - 1]!;
  const classes = output.length;
  const logits = new Float32Array(data.count * classes);
  const f = data.features;
  for (let s = 0; s < data.count; s++) {
    activations[0]!.set(data.inputs.subarray(s * f, (s + 1) * f));
    forwardSample(net, activations);
    logits.set(output, s * classes);
  }
  return inferenceOf(logits, data.count, classes);
}

/** Predicted class of every sample in `data` (`[count]`). */
export function predictAll(net: Network, data: Dataset): Uint8Array {
  return inferAll(net, data).predictions;
}

export function countCorrect(predictions: ArrayLike<number>, labels: ArrayLike<number>): number {
  let correct = 0;
  for (let s = 0; s < labels.length; s++) if (predictions[s] === labels[s]) correct++;
  return correct;
}
