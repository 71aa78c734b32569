import { describe, expect, it } from 'vitest';
import { checkShiftable, shiftedInputs } from '../../src/data/augment';
import type { Dataset } from '../../src/data/dataset';

/** `count` images of rows × cols with one lit pixel each at (x0, y0), value 0.5. */
function onePixelImages(count: number, rows: number, cols: number, x0: number, y0: number): Dataset {
  const inputs = new Float32Array(count * rows * cols);
  for (let s = 0; s < count; s++) inputs[s * rows * cols + y0 * cols + x0] = 0.5;
  return { source: 'test images', count, features: rows * cols, inputs, labels: new Uint8Array(count), classes: 1, image: { rows, cols } };
}

/** Where each image's lit pixel went, as [dx, dy] from (x0, y0), or null when it left the image. */
function moves(inputs: Float32Array, data: Dataset, x0: number, y0: number): ([number, number] | null)[] {
  const { cols } = data.image!;
  const out: ([number, number] | null)[] = [];
  for (let s = 0; s < data.count; s++) {
    const k = inputs.subarray(s * data.features, (s + 1) * data.features).findIndex((v) => v !== 0);
    out.push(k < 0 ? null : [(k % cols) - x0, Math.floor(k / cols) - y0]);
  }
  return out;
}

describe('shift augmentation', () => {
  // 5 rows × 9 columns: not square, so rows and columns cannot be swapped unnoticed.
  const data = onePixelImages(300, 5, 9, 4, 2);

  it('moves every image by at most maxShift in x and y, uses every shift, and keeps the pixel value', () => {
    const target = new Float32Array(data.inputs.length).fill(Number.NaN);
    shiftedInputs(data, 2, 1337, 4, target);
    const m = moves(target, data, 4, 2);
    expect(m.every((d) => d !== null && Math.abs(d[0]) <= 2 && Math.abs(d[1]) <= 2)).toBe(true);
    expect(new Set(m.map((d) => d!.join(','))).size).toBe(25);
    expect(target.filter((v) => v !== 0)).toEqual(new Float32Array(data.count).fill(0.5));
  });

  it('is reproducible for a seed and epoch, and differs between epochs and seeds', () => {
    const first = shiftedInputs(data, 1, 1337, 4);
    expect(shiftedInputs(data, 1, 1337, 4)).toEqual(first);
    expect(shiftedInputs(data, 1, 1337, 5)).not.toEqual(first);
    expect(shiftedInputs(data, 1, 7, 4)).not.toEqual(first);
  });

  it('fills the uncovered border with zeros: a pixel shifted out of the image is gone', () => {
    const corner = onePixelImages(200, 5, 9, 0, 0);
    const target = new Float32Array(corner.inputs.length).fill(Number.NaN);
    shiftedInputs(corner, 1, 7, 0, target);
    expect(target.some(Number.isNaN)).toBe(false);
    const m = moves(target, corner, 0, 0);
    expect(m.filter((d) => d === null).length).toBeGreaterThan(0);
    expect(m.every((d) => d === null || (d[0] >= 0 && d[1] >= 0))).toBe(true);
  });

  it('leaves the images as they are with a shift of 0 and refuses samples that are not images', () => {
    expect(shiftedInputs(data, 0, 1, 0)).toEqual(data.inputs);
    expect(() => checkShiftable({ ...data, image: undefined }, 1)).toThrow(/not images of rows × cols pixels/);
    expect(() => checkShiftable(data, 1.5)).toThrow(/whole number/);
  });
});
