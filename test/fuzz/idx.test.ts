/**
 * The IDX readers on mutated image and label files: magic bytes, dimension fields, label
 * values, truncations and raw bytes; and the gzip path of `loadMnist` on mutated and inflated
 * files. Every input becomes a consistent dataset or one `UserError` line.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Dataset } from '../../src/data/dataset';
import { parseIdxImages, parseIdxLabels } from '../../src/data/idx';
import { mnistDataset } from '../../src/data/mnist';
import { loadMnist } from '../../src/node/mnist';
import { UserError } from '../../src/util/errors';
import { idxFile } from '../helpers/fixtures';
import { temporaryFolder } from '../helpers/temporary-folder';
import { applyByteMutation, byteMutation, concat, edgeInteger, FUZZ_RUNS, fuzz, readOrRefuse, type ByteMutation } from './mutate';

const IMAGES = idxFile(0x803, [3, 2, 2], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 255]);
const LABELS = idxFile(0x801, [3], [1, 9, 0]);

type IdxMutation =
  | { kind: 'dim'; dim: number; value: number }
  | { kind: 'header'; index: number; value: number }
  | { kind: 'bytes'; mutation: ByteMutation };

const idxMutation = (): fc.Arbitrary<IdxMutation> =>
  fc.oneof(
    fc.record({ kind: fc.constant('dim' as const), dim: fc.nat(), value: edgeInteger() }),
    fc.record({ kind: fc.constant('header' as const), index: fc.integer({ min: 0, max: 3 }), value: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ kind: fc.constant('bytes' as const), mutation: byteMutation() }),
  );

function applyIdxMutation(bytes: Uint8Array, m: IdxMutation): Uint8Array {
  if (m.kind === 'bytes') return applyByteMutation(bytes, m.mutation);
  const copy = bytes.slice();
  if (m.kind === 'header') {
    if (m.index < copy.length) copy[m.index] = m.value;
    return copy;
  }
  const dims = Math.floor((copy.length - 4) / 4);
  if (dims > 0) new DataView(copy.buffer).setUint32(4 + 4 * (m.dim % dims), m.value >>> 0, false);
  return copy;
}

function expectConsistent(data: Dataset, images: Uint8Array): void {
  expect(data.inputs.length).toBe(data.count * data.features);
  expect(data.labels.length).toBe(data.count);
  expect(data.labels.every((label) => label < data.classes)).toBe(true);
  expect(data.inputs.every((x) => x >= 0 && x <= 1)).toBe(true);
  expect(data.count * data.features).toBeLessThanOrEqual(images.length);
}

const mutations = () => fc.array(idxMutation(), { maxLength: 4 });

describe('IDX readers, fuzzed', () => {
  it(`read ${FUZZ_RUNS} mutated image and label files into a consistent dataset or one UserError line`, () => {
    fuzz(fc.tuple(mutations(), mutations()), ([imageMutations, labelMutations]) => {
      const images = imageMutations.reduce(applyIdxMutation, IMAGES);
      const labels = labelMutations.reduce(applyIdxMutation, LABELS);
      // Views into the files, then float32 pixels: at most 4 bytes per file byte and a lookup table.
      const limit = 4 * (images.length + labels.length) + 4096;
      const data = readOrRefuse(limit, () => mnistDataset(parseIdxImages(images, 'images'), 'images', parseIdxLabels(labels, 'labels'), 'labels'));
      if (data) expectConsistent(data, images);
      return data !== undefined;
    });
  });
});

describe('gzipped IDX files, fuzzed', () => {
  const dir = temporaryFolder('idx-fuzz-');
  const runs = Math.ceil(FUZZ_RUNS / 5);

  it(`loadMnist reads ${runs} mutated, inflated or corrupted gzip files into a dataset or one UserError line`, async () => {
    writeFileSync(join(dir, 't10k-images-idx3-ubyte'), IMAGES);
    writeFileSync(join(dir, 't10k-labels-idx1-ubyte'), LABELS);
    await fc.assert(
      fc.asyncProperty(
        mutations(),
        fc.integer({ min: 0, max: 1 << 20 }),
        fc.array(byteMutation(), { maxLength: 2 }),
        async (imageMutations, paddingBytes, gzipMutations) => {
          // The file, mutated, then trailing zeros it does not declare (a small gzip bomb), compressed and corrupted.
          const images = concat(imageMutations.reduce(applyIdxMutation, IMAGES), new Uint8Array(paddingBytes));
          writeFileSync(join(dir, 'train-images-idx3-ubyte.gz'), gzipMutations.reduce(applyByteMutation, gzipSync(images)));
          writeFileSync(join(dir, 'train-labels-idx1-ubyte.gz'), gzipSync(LABELS));
          const data = await loadMnist({ dir }).catch((error: unknown) => {
            if (!(error instanceof UserError)) throw error;
            expect(error.message).not.toMatch(/[\x00-\x1f\x7f-\x9f]/);
            return undefined;
          });
          if (data) expectConsistent(data.train, images);
        },
      ),
      { numRuns: runs },
    );
  });
});
