/**
 * MNIST samples from parsed IDX files, with no I/O: the Node loader (src/node/mnist.ts) and the
 * browser app (src/web/) read the files their own way and share this.
 */
import { UserError } from '../util/errors';
import type { Dataset } from './dataset';
import type { IdxImages, IdxLabels } from './idx';

export const MNIST_CLASSES = 10;

/**
 * Pairs an images file with its labels file, checks that they match, and scales the pixels.
 * `limit` keeps only the first samples (after the checks, which cover the whole files).
 */
export function mnistDataset(
  images: IdxImages,
  imagesName: string,
  labels: IdxLabels,
  labelsName: string,
  limit = Infinity,
): Dataset {
  if (images.count !== labels.count) {
    throw new UserError(`${imagesName} has ${images.count} images but ${labelsName} has ${labels.count} labels`);
  }
  for (let k = 0; k < labels.count; k++) {
    const label = labels.labels[k]!;
    if (label >= MNIST_CLASSES) {
      throw new UserError(`${labelsName}: label ${label} of sample ${k} is not a digit 0-9`);
    }
  }
  const count = Math.min(limit, images.count);
  const features = images.rows * images.cols;
  return {
    source: imagesName,
    count,
    features,
    inputs: scalePixels(images.pixels.subarray(0, count * features)),
    // A plain copy: in Node the bytes are a Buffer, whose slice() would be a view of the file.
    labels: new Uint8Array(labels.labels.subarray(0, count)),
    classes: MNIST_CLASSES,
  };
}

/** byte/255 rounded to float32, the seed's `samples[i] / 255f`. */
export function scalePixels(pixels: Uint8Array): Float32Array {
  const table = new Float32Array(256);
  for (let b = 0; b < 256; b++) table[b] = Math.fround(b / 255);
  const inputs = new Float32Array(pixels.length);
  for (let k = 0; k < pixels.length; k++) inputs[k] = table[pixels[k]!]!;
  return inputs;
}
