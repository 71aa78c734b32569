/**
 * A network with finite weights that overflows float32 on some samples, the same way on every
 * engine: feature 0 of one sample in `every` is TRIGGER, whose products with the network's
 * (positive, finite) feature-0 weights are +∞ in float32 whatever the summation order or
 * precision, so every first hidden neuron is +∞, the next layer sums +∞ and −∞ into NaN, ReLU
 * passes the NaN on and the logits are NaN. Every other sample has feature 0 = 0 and stays finite.
 */
import type { Dataset } from '../../src/data/dataset';
import { initNetwork, type Network } from '../../src/model/network';
import { mulberry32 } from './random';

/** The input that overflows: TRIGGER × (1e30 × a weight ~0.1) ≈ 1e59, far past float32's 3.4e38. */
export const TRIGGER = 1e30;
const TRIGGER_WEIGHT_SCALE = 1e30;

/** `initNetwork(sizes, seed)` with feature 0's weights made positive and huge (but finite). */
export function overflowingNetwork(sizes: number[], seed: number): Network {
  const net = initNetwork(sizes, seed);
  const first = net.weights[0]!;
  for (let o = 0; o < sizes[1]!; o++) first[o] = Math.abs(first[o]!) * TRIGGER_WEIGHT_SCALE;
  return net;
}

/** Pixel-like samples: values in [0, 1), about half exactly 0. */
export function pixelData(count: number, features: number, classes: number, seed: number): Dataset {
  const random = mulberry32(seed);
  const inputs = new Float32Array(count * features);
  for (let i = 0; i < inputs.length; i++) inputs[i] = random() < 0.5 ? 0 : random();
  const labels = Uint8Array.from({ length: count }, () => Math.floor(random() * classes));
  return { source: 'synthetic samples', count, features, inputs, labels, classes };
}

/** `pixelData` with feature 0 = TRIGGER in samples 0, every, 2·every, … and 0 elsewhere. */
export function overflowingData(count: number, features: number, classes: number, every: number, seed: number): Dataset {
  const data = pixelData(count, features, classes, seed);
  for (let s = 0; s < count; s++) data.inputs[s * features] = s % every === 0 ? TRIGGER : 0;
  return data;
}

/** Samples of `overflowingData(count, …, every, …)` that overflow. */
export function overflowingCount(count: number, every: number): number {
  return Math.ceil(count / every);
}
