import { describe, expect, it } from 'vitest';
import { parseIdxImages, parseIdxLabels } from '../../src/data/idx';
import { UserError } from '../../src/util/errors';
import { idxFile } from '../helpers/fixtures';

function errorOf(run: () => unknown): UserError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(UserError);
    expect((error as Error).message).not.toContain('\n');
    return error as UserError;
  }
  throw new Error('expected a UserError');
}

describe('IDX images', () => {
  it('parses count, rows, cols and pixels', () => {
    const pixels = Array.from({ length: 2 * 3 * 4 }, (_, k) => k * 10);
    const images = parseIdxImages(idxFile(0x803, [2, 3, 4], pixels), 'imgs');
    expect(images).toMatchObject({ count: 2, rows: 3, cols: 4 });
    expect(Array.from(images.pixels)).toEqual(pixels);
  });

  it('reports a truncated file with the sizes', () => {
    const bytes = idxFile(0x803, [60000, 28, 28], new Array(1000).fill(0));
    expect(errorOf(() => parseIdxImages(bytes, 'train-images-idx3-ubyte')).message).toBe(
      'train-images-idx3-ubyte: truncated: header says 60000×28×28 = 47040000 pixel bytes, file has 1000 after the 16-byte header',
    );
  });

  it('reports trailing bytes', () => {
    const bytes = idxFile(0x803, [1, 2, 2], [1, 2, 3, 4, 5, 6]);
    expect(errorOf(() => parseIdxImages(bytes, 'x')).message).toBe(
      'x: 2 trailing bytes: header says 1×2×2 = 4 pixel bytes, file has 6 after the 16-byte header',
    );
  });

  it('reports a bad magic number', () => {
    const bytes = idxFile(0x12345678, [1, 1, 1], [0]);
    expect(errorOf(() => parseIdxImages(bytes, 'x')).message).toBe(
      'x: not an IDX file: magic number 0x12345678, expected 0x00000803 for an images file',
    );
  });

  it('reports a labels file passed as images', () => {
    const bytes = idxFile(0x801, [3], [1, 2, 3]);
    expect(errorOf(() => parseIdxImages(bytes, 'x')).message).toBe(
      'x: magic number 0x00000801 means 1 dimension(s), but an images file has 3 (magic 0x00000803)',
    );
  });

  it('reports an unsupported data type', () => {
    const bytes = idxFile(0x00000d03, [1, 1, 1], [0, 0, 0, 0]);
    expect(errorOf(() => parseIdxImages(bytes, 'x')).message).toContain('IDX data type 0x0D (float) is not supported');
  });

  it('reports a zero dimension', () => {
    const bytes = idxFile(0x803, [5, 0, 28], []);
    expect(errorOf(() => parseIdxImages(bytes, 'x')).message).toBe(
      'x: header says 5×0×28; every dimension must be at least 1',
    );
  });

  it('reports a cut-off header', () => {
    const bytes = idxFile(0x803, [5, 28, 28], []).subarray(0, 10);
    expect(errorOf(() => parseIdxImages(bytes, 'x')).message).toBe(
      'x: truncated: the 16-byte header is cut off after 10 bytes',
    );
    expect(errorOf(() => parseIdxImages(new Uint8Array(2), 'x')).message).toContain('too short for an IDX header');
  });
});

describe('IDX labels', () => {
  it('parses labels', () => {
    const labels = parseIdxLabels(idxFile(0x801, [4], [5, 0, 4, 1]), 'l');
    expect(labels.count).toBe(4);
    expect(Array.from(labels.labels)).toEqual([5, 0, 4, 1]);
  });

  it('reports truncation and trailing bytes in labels', () => {
    expect(errorOf(() => parseIdxLabels(idxFile(0x801, [4], [1, 2]), 'l')).message).toBe(
      'l: truncated: header says 4 labels, file has 2 after the 8-byte header',
    );
    expect(errorOf(() => parseIdxLabels(idxFile(0x801, [1], [1, 2]), 'l')).message).toBe(
      'l: 1 trailing bytes: header says 1 labels, file has 2 after the 8-byte header',
    );
  });

  it('reports an images file passed as labels', () => {
    expect(errorOf(() => parseIdxLabels(idxFile(0x803, [1, 1, 1], [0]), 'l')).message).toContain(
      'but a labels file has 1 (magic 0x00000801)',
    );
  });
});
