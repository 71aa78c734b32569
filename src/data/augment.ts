/**
 * Random-shift augmentation (`--shift N`): every epoch each training image moves by a whole
 * number of pixels, up to N in x and in y (uniform and independent), and the pixels it uncovers
 * at the border become 0. The shifts come from a generator seeded by the recipe's seed and the
 * epoch alone, so a run is reproducible, a resumed epoch sees the same images, and both backends
 * train on the same pixels.
 */
import { UserError } from '../util/errors';
import { DotNetRandom } from '../model/dotnet-random';
import { imageShape, type Dataset } from './dataset';

/** The generator of epoch `epoch`'s shifts: its own stream, apart from the init's and the shuffle's. */
function shiftGenerator(seed: number, epoch: number): DotNetRandom {
  return new DotNetRandom((seed * 7919 + epoch * 104_729 + 17) % 2_147_483_647);
}

/** The shifts a recipe may ask for, as every reader of one says it. */
export const SHIFT_RANGE = 'a whole number of pixels from 0 to 8';

export function isShift(shift: unknown): shift is number {
  return Number.isSafeInteger(shift) && (shift as number) >= 0 && (shift as number) <= 8;
}

/** Refuses a shift that `train`'s samples cannot take: they must be images (IDX rows × cols). */
export function checkShiftable(train: Dataset, maxShift: number): void {
  if (!isShift(maxShift)) throw new UserError(`--shift must be ${SHIFT_RANGE}, got ${maxShift}`);
  if (maxShift > 0) imageShape(train, '--shift moves images');
}

/**
 * `train`'s images, each shifted for epoch `epoch` ([count, features], written into `target`
 * when given). A sample's shift (dx, dy) draws two numbers in [−maxShift, maxShift] in sample order.
 */
export function shiftedInputs(train: Dataset, maxShift: number, seed: number, epoch: number, target: Float32Array = new Float32Array(train.count * train.features)): Float32Array {
  checkShiftable(train, maxShift);
  const { rows, cols } = train.image!;
  const source = train.inputs;
  const rng = shiftGenerator(seed, epoch);
  const span = 2 * maxShift + 1;
  for (let s = 0; s < train.count; s++) {
    const dx = (rng.nextInt() % span) - maxShift;
    const dy = (rng.nextInt() % span) - maxShift;
    const base = s * train.features;
    for (let y = 0; y < rows; y++) {
      const sy = y - dy;
      for (let x = 0; x < cols; x++) {
        const sx = x - dx;
        target[base + y * cols + x] = sy >= 0 && sy < rows && sx >= 0 && sx < cols ? source[base + sy * cols + sx]! : 0;
      }
    }
  }
  return target;
}
