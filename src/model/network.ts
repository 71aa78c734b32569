import { grouped } from '../util/format';
import { DotNetRandom } from './dotnet-random';

/**
 * A fully connected network, without biases as in the seed recipe or with them (`--bias`).
 *
 * Layer l maps `sizes[l]` inputs to `sizes[l + 1]` outputs. Its weights are row-major
 * `[in, out]`: `weights[l][i * out + o]` connects input i to output o. That is the seed's
 * layout (one row per input neuron) and the `[in, out]` tensor of the safetensors format.
 * `masks[l]` has the same shape: 1 where the weight exists, 0 where it was pruned. A pruned
 * weight is always exactly 0 in `weights`.
 * `biases[l]` ([out]) is added to layer l's outputs before the ReLU (and to the logits); a
 * network without biases (the seed's) has no `biases` at all rather than zeros, so that the
 * seed's files and arithmetic stay as they were. Biases are never pruned.
 */
export interface Network {
  sizes: number[];
  weights: Float32Array[];
  masks: Uint8Array[];
  biases?: Float32Array[];
}

/** The seed's architecture. */
export const SEED_SIZES: readonly number[] = [784, 100, 100, 10];

export function layerCount(net: Network): number {
  return net.sizes.length - 1;
}

/**
 * The most weights a network may have: 400 MB of float32 weights, as much again for each of
 * the velocities and gradients of training, far beyond MNIST networks (the seed's has 89,400).
 * Checked before anything is allocated, so that a mistyped size fails at once.
 */
const MAX_WEIGHTS = 100_000_000;

export function validateSizes(sizes: readonly number[]): void {
  if (sizes.length < 2) throw new Error(`a network needs at least 2 layer sizes, got ${sizes.length}`);
  for (const s of sizes) {
    if (!Number.isInteger(s) || s < 1) throw new Error(`layer sizes must be positive integers, got ${sizes.join('-')}`);
  }
  const total = totalWeights(sizes);
  if (total > MAX_WEIGHTS) {
    throw new Error(`layer sizes ${sizes.join('-')} make ${grouped(total)} weights, more than the limit of ${grouped(MAX_WEIGHTS)}`);
  }
}

/** A network with every weight present and set to 0; with `bias`, zero biases too. */
export function zeroNetwork(sizes: readonly number[], bias = false): Network {
  validateSizes(sizes);
  const weights: Float32Array[] = [];
  const masks: Uint8Array[] = [];
  for (let l = 0; l + 1 < sizes.length; l++) {
    weights.push(new Float32Array(sizes[l]! * sizes[l + 1]!));
    masks.push(new Uint8Array(sizes[l]! * sizes[l + 1]!).fill(1));
  }
  const net: Network = { sizes: [...sizes], weights, masks };
  if (bias) net.biases = sizes.slice(1).map((out) => new Float32Array(out));
  return net;
}

/**
 * The seed's initialisation: per layer sd = √(6 / (in + out)) and each weight uniform in
 * [−sd/2, sd/2), drawn from .NET's `Random(seed)` in row-major [in, out] order, with the
 * seed's float32 arithmetic. Biases, with `bias`, start at 0, so the weights are the seed's either way.
 */
export function initNetwork(sizes: readonly number[], seed: number, bias = false): Network {
  const net = zeroNetwork(sizes, bias);
  const rng = new DotNetRandom(seed);
  for (let l = 0; l + 1 < sizes.length; l++) {
    const sd = Math.fround(Math.sqrt(Math.fround(6 / (sizes[l]! + sizes[l + 1]!))));
    const half = Math.fround(sd * 0.5);
    const w = net.weights[l]!;
    for (let k = 0; k < w.length; k++) {
      w[k] = Math.fround(Math.fround(rng.nextDouble()) * sd) - half;
    }
  }
  return net;
}

export function cloneNetwork(net: Network): Network {
  const copy: Network = {
    sizes: [...net.sizes],
    weights: net.weights.map((w) => w.slice()),
    masks: net.masks.map((m) => m.slice()),
  };
  if (net.biases) copy.biases = net.biases.map((b) => b.slice());
  return copy;
}

export function totalWeights(sizes: readonly number[]): number {
  let total = 0;
  for (let l = 0; l + 1 < sizes.length; l++) total += sizes[l]! * sizes[l + 1]!;
  return total;
}

export function keptWeights(mask: Uint8Array): number {
  let kept = 0;
  for (let k = 0; k < mask.length; k++) kept += mask[k]!;
  return kept;
}

export function keptPerLayer(net: Network): number[] {
  return net.masks.map(keptWeights);
}

/** Weights kept in the whole network. */
export function keptTotal(net: Network): number {
  return net.masks.reduce((n, mask) => n + keptWeights(mask), 0);
}

/** Biases in the whole network (0 without biases). */
export function biasCount(net: Network): number {
  return net.biases ? net.biases.reduce((n, b) => n + b.length, 0) : 0;
}

/** The network's parameters as compression is counted: kept weights plus biases. */
export function keptParameters(net: Network): number {
  return keptTotal(net) + biasCount(net);
}

/** Sets every pruned weight to exactly 0 (and `extra` arrays of the same shape, e.g. velocities). */
export function applyMasks(net: Network, ...extra: Float32Array[][]): void {
  net.masks.forEach((mask, l) => {
    for (const arrays of [net.weights, ...extra]) {
      const a = arrays[l]!;
      for (let k = 0; k < mask.length; k++) if (mask[k] === 0) a[k] = 0;
    }
  });
}
