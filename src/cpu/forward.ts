/**
 * The JS reference forward pass, one sample at a time, as the seed computes it: each neuron of a
 * layer whose value is ≤ 0 passes nothing on (ReLU on hidden layers; pixels are ≥ 0 anyway), the
 * output layer is left as logits. Plain loops over the dense [in, out] weights; pruned weights are
 * exact zeros, so they add nothing.
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
  const { sizes, weights } = net;
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
  }
}

/** Index of the largest value; the first one wins a tie, as in the seed. */
export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i;
  return best;
}

/** Predicted class of every sample in `data` (`[count]`). */
export function predictAll(net: Network, data: Dataset): Uint8Array {
  const activations = allocateActivations(net.sizes);
  const predictions = new Uint8Array(data.count);
  const f = data.features;
  for (let s = 0; s < data.count; s++) {
    activations[0]!.set(data.inputs.subarray(s * f, (s + 1) * f));
    forwardSample(net, activations);
    predictions[s] = argmax(activations[activations.length - 1]!);
  }
  return predictions;
}

export function countCorrect(predictions: ArrayLike<number>, labels: ArrayLike<number>): number {
  let correct = 0;
  for (let s = 0; s < labels.length; s++) if (predictions[s] === labels[s]) correct++;
  return correct;
}
