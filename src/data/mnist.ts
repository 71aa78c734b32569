/**
 * Classification samples from parsed IDX files (MNIST, Fashion-MNIST, KMNIST, EMNIST, …), with
 * no I/O: the Node loader (src/node/mnist.ts) and the browser app (src/web/) read the files
 * their own way and share this.
 */
import { UserError } from '../util/errors';
import type { Dataset } from './dataset';
import type { IdxImages, IdxLabels } from './idx';

export const MNIST_CLASSES = 10;

/** A known class count and where it comes from, for the message that refuses a label past it. */
export interface ClassCount {
  count: number;
  /** e.g. "MNIST's digits" or the training labels' file name. */
  from: string;
}

/**
 * Pairs an images file with its labels file, checks that they match, and scales the pixels.
 * The class count is `classes` when given (a label at or past it is refused), else the largest
 * label + 1. `limit` keeps only the first samples (after the checks, which cover the whole files).
 */
export function idxDataset(
  images: IdxImages,
  imagesName: string,
  labels: IdxLabels,
  labelsName: string,
  options: { classes?: ClassCount; limit?: number } = {},
): Dataset {
  if (images.count !== labels.count) {
    throw new UserError(`${imagesName} has ${images.count} images but ${labelsName} has ${labels.count} labels`);
  }
  const known = options.classes;
  let largest = 0;
  for (let k = 0; k < labels.count; k++) {
    const label = labels.labels[k]!;
    if (known && label >= known.count) {
      throw new UserError(`${labelsName}: label ${label} of sample ${k} is not one of the ${known.count} classes of ${known.from} (0-${known.count - 1})`);
    }
    if (label > largest) largest = label;
  }
  const count = Math.min(options.limit ?? Infinity, images.count);
  const features = images.rows * images.cols;
  return {
    source: imagesName,
    count,
    features,
    inputs: scalePixels(images.pixels.subarray(0, count * features)),
    // A plain copy: in Node the bytes are a Buffer, whose slice() would be a view of the file.
    labels: new Uint8Array(labels.labels.subarray(0, count)),
    classes: known?.count ?? largest + 1,
    image: { rows: images.rows, cols: images.cols },
  };
}

/** MNIST's images and labels: ten classes, the digits. */
export function mnistDataset(images: IdxImages, imagesName: string, labels: IdxLabels, labelsName: string, limit = Infinity): Dataset {
  return idxDataset(images, imagesName, labels, labelsName, { classes: { count: MNIST_CLASSES, from: "MNIST's digits" }, limit });
}

/** byte/255 rounded to float32, the seed's `samples[i] / 255f`. */
export function scalePixels(pixels: Uint8Array): Float32Array {
  const table = new Float32Array(256);
  for (let b = 0; b < 256; b++) table[b] = Math.fround(b / 255);
  const inputs = new Float32Array(pixels.length);
  for (let k = 0; k < pixels.length; k++) inputs[k] = table[pixels[k]!]!;
  return inputs;
}
