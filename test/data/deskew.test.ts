/**
 * Deskewing, checked by what it must do rather than by repeating its formula: a blank image stays
 * blank, an upright image centred on (rows/2, cols/2) comes back unchanged, a slanted stroke comes
 * back upright and centred (its moments measured here with plain loops), a moved copy of a digit
 * deskews to the same image, and a dataset is deskewed sample by sample, images only.
 */
import { describe, expect, it } from 'vitest';
import type { Dataset } from '../../src/data/dataset';
import { DESKEW_METADATA, deskewDataset, deskewImage, readsDeskewed } from '../../src/data/deskew';
import { UserError } from '../../src/util/errors';
import { mulberry32 } from '../helpers/random';

/** Centre of mass and row-column covariance over row variance (the slant), from plain loops. */
function moments(image: Float32Array, rows: number, cols: number): { row: number; col: number; slant: number } {
  let mass = 0;
  let row = 0;
  let col = 0;
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) [mass, row, col] = [mass + image[r * cols + c]!, row + r * image[r * cols + c]!, col + c * image[r * cols + c]!];
  row /= mass;
  col /= mass;
  let rr = 0;
  let rc = 0;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      rr += (r - row) ** 2 * image[r * cols + c]!;
      rc += (r - row) * (c - col) * image[r * cols + c]!;
    }
  }
  return { row, col, slant: rc / rr };
}

function deskewed(image: Float32Array, rows: number, cols: number): Float32Array {
  // Poisoned: every output pixel must be written.
  const out = new Float32Array(rows * cols).fill(Number.NaN);
  deskewImage(image, rows, cols, out);
  return out;
}

/** A 28×28 image with 1 at the given (row, col) pixels. */
function imageWith(pixels: [number, number][]): Float32Array {
  const image = new Float32Array(28 * 28);
  for (const [r, c] of pixels) image[r * 28 + c] = 1;
  return image;
}

describe('deskewImage', () => {
  it('leaves a blank image blank', () => {
    expect(Array.from(deskewed(new Float32Array(28 * 28), 28, 28)).every((v) => v === 0)).toBe(true);
  });

  it('leaves an upright image centred on (14, 14) as it is', () => {
    const cross = imageWith([[14, 14], [13, 14], [15, 14], [14, 13], [14, 15], [10, 14], [18, 14]]);
    expect(Array.from(deskewed(cross, 28, 28))).toEqual(Array.from(cross));
  });

  it('stands a slanted stroke upright and centres it', () => {
    // A "/" stroke: one column to the left for every two rows down, off to the upper left.
    const stroke = imageWith(Array.from({ length: 14 }, (_, k): [number, number] => [4 + k, 16 - Math.floor(k / 2)]));
    const before = moments(stroke, 28, 28);
    expect(before.slant).toBeLessThan(-0.45);
    const after = moments(deskewed(stroke, 28, 28), 28, 28);
    expect(Math.abs(after.slant)).toBeLessThan(0.05);
    expect(after.row).toBeCloseTo(14, 1);
    expect(after.col).toBeCloseTo(14, 1);
  });

  it('gives a digit moved by whole pixels the same image', () => {
    const random = mulberry32(7);
    for (let trial = 0; trial < 5; trial++) {
      // A random slanted blob well inside the frame, and the same moved by (dr, dc).
      const slant = random() - 0.5;
      const [dr, dc] = [Math.floor(random() * 7) - 3, Math.floor(random() * 7) - 3];
      const blob = new Float32Array(28 * 28);
      const moved = new Float32Array(28 * 28);
      for (let r = 8; r < 20; r++) {
        for (let c = 10; c < 18; c++) {
          const v = random() < 0.6 ? random() : 0;
          const col = c + Math.round(slant * (r - 14));
          blob[r * 28 + col] = v;
          moved[(r + dr) * 28 + col + dc] = v;
        }
      }
      const [a, b] = [deskewed(blob, 28, 28), deskewed(moved, 28, 28)];
      const worst = a.reduce((m, v, k) => Math.max(m, Math.abs(v - b[k]!)), 0);
      expect(worst, `trial ${trial}`).toBeLessThan(1e-5);
    }
  });

  it('handles images that are not square', () => {
    const wide = new Float32Array(4 * 5);
    wide[1 * 5 + 1] = 1;
    const out = deskewed(wide, 4, 5);
    // The one lit pixel moves to the centre (2, 2.5): split between (2, 2) and (2, 3).
    expect(out[2 * 5 + 2]).toBeCloseTo(0.5, 6);
    expect(out[2 * 5 + 3]).toBeCloseTo(0.5, 6);
    expect(out.reduce((s, v) => s + v, 0)).toBeCloseTo(1, 6);
  });
});

describe('deskewDataset', () => {
  const random = mulberry32(3);
  const images: Dataset = {
    source: 'toy',
    count: 3,
    features: 20,
    inputs: Float32Array.from({ length: 60 }, () => random()),
    labels: Uint8Array.from([0, 1, 2]),
    classes: 3,
    image: { rows: 4, cols: 5 },
  };

  it('deskews every sample on its own and says so in the source', () => {
    const data = deskewDataset(images, '--deskew');
    expect(data.source).toBe('toy (deskewed)');
    expect(data.labels).toBe(images.labels);
    for (let s = 0; s < 3; s++) {
      expect(Array.from(data.inputs.subarray(s * 20, (s + 1) * 20))).toEqual(Array.from(deskewed(images.inputs.subarray(s * 20, (s + 1) * 20), 4, 5)));
    }
  });

  it('refuses samples that are not images in one line', () => {
    const { image: _, ...notImages } = images;
    expect(() => deskewDataset(notImages, '--deskew')).toThrow(new UserError('--deskew deskews images, but the samples of toy are not images of rows × cols pixels'));
  });
});

describe('readsDeskewed', () => {
  it('reads the metadata that deskewing networks carry, and refuses a preprocessing it does not know', () => {
    expect(readsDeskewed({}, 'a.safetensors')).toBe(false);
    expect(readsDeskewed({ ...DESKEW_METADATA }, 'a.safetensors')).toBe(true);
    expect(() => readsDeskewed({ preprocess: 'blur' }, 'a.safetensors')).toThrow(
      new UserError('a.safetensors asks for input preprocessing "blur", which this version of webgpu-prune does not know (it knows "deskew")'),
    );
  });
});
