/** Small inputs the data and format tests build from scratch. */
import { applyMasks, initNetwork, zeroNetwork, type Network } from '../../src/model/network';
import { pruneByThreshold } from '../../src/prune/unstructured';
import { mulberry32, randomFloats, randomMask } from './random';

/** An IDX file: big-endian magic, one u32 per dimension, then the data bytes. */
export function idxFile(magic: number, dims: number[], data: number[]): Uint8Array {
  const bytes = new Uint8Array(4 + 4 * dims.length + data.length);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, magic, false);
  dims.forEach((d, k) => view.setUint32(4 + 4 * k, d, false));
  bytes.set(data, 4 + 4 * dims.length);
  return bytes;
}

/** The seed's network pruned the seed's way: drop every weight with w² < threshold. */
export function prunedNetwork(sizes: number[], seed: number, threshold: number): Network {
  const net = initNetwork(sizes, seed);
  pruneByThreshold(net, threshold);
  return net;
}

/**
 * A learnable IDX classification set: `count` images of rows × cols pixels, labels cycling
 * through `classes`; a sample of class c is bright where the pixel index ≡ c (mod classes), over
 * pseudo-random noise from `seed`.
 */
export function idxClassificationSet(count: number, rows: number, cols: number, classes: number, seed = 1): { images: Uint8Array; labels: Uint8Array } {
  let state = seed >>> 0;
  const noise = (): number => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
  const features = rows * cols;
  const labels = Array.from({ length: count }, (_, k) => k % classes);
  const pixels = labels.flatMap((label) =>
    Array.from({ length: features }, (_, p) => Math.round(255 * Math.min(1, (p % classes === label ? 0.45 : 0.1) + 0.5 * noise()))),
  );
  return { images: idxFile(0x803, [count, rows, cols], pixels), labels: idxFile(0x801, [count], labels) };
}

/**
 * A network with biases and random values: weights and biases uniform in [−1, 1), each weight
 * kept with probability `density` (pruned ones exactly 0).
 */
export function randomBiasedNetwork(sizes: number[], seed: number, density: number): Network {
  const random = mulberry32(seed);
  const net = zeroNetwork(sizes, true);
  net.weights.forEach((w, l) => {
    w.set(randomFloats(random, w.length));
    net.masks[l]!.set(randomMask(random, w.length, density));
  });
  net.biases!.forEach((b) => b.set(randomFloats(random, b.length)));
  applyMasks(net);
  return net;
}
