import { UserError } from '../util/errors';

/** Samples as the network consumes them. */
export interface Dataset {
  /** Where the samples came from, for messages. */
  source: string;
  count: number;
  /** Values per sample (784 for MNIST). */
  features: number;
  /** `[count, features]` row-major; pixel bytes scaled by 1/255 in float32, as the seed does. */
  inputs: Float32Array;
  /** `[count]` class indices. */
  labels: Uint8Array;
  classes: number;
  /** Each sample is an image of rows × cols = features pixels (from the IDX header); absent for other data. */
  image?: { rows: number; cols: number };
}

export interface TrainTestData {
  train: Dataset;
  test: Dataset;
}

/** The samples from `start` on (views, no copy): what `takeSamples(data, start)` leaves. */
export function dropSamples(data: Dataset, start: number): Dataset {
  const from = Math.min(start, data.count);
  return {
    ...data,
    source: `${data.source} (samples ${from + 1}–${data.count})`,
    count: data.count - from,
    inputs: data.inputs.subarray(from * data.features),
    labels: data.labels.subarray(from),
  };
}

/** The first `count` samples of a dataset (views, no copy). */
export function takeSamples(data: Dataset, count: number): Dataset {
  const n = Math.min(count, data.count);
  return {
    ...data,
    count: n,
    inputs: data.inputs.subarray(0, n * data.features),
    labels: data.labels.subarray(0, n),
  };
}

/**
 * The rows × cols of `data`'s images, refusing samples that are not images (IDX rows × cols) in
 * one line that starts with `needs` (e.g. "--shift moves images").
 */
export function imageShape(data: Dataset, needs: string): { rows: number; cols: number } {
  const image = data.image;
  if (!image || image.rows * image.cols !== data.features) {
    throw new UserError(`${needs}, but the samples of ${data.source} are not images of rows × cols pixels`);
  }
  return image;
}
