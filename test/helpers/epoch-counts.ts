/**
 * GPU epoch counts against the JS reference's: the counts exactly, the loss sum (float32 per
 * sample on the GPU, summed in another order) within 1e-5 relative.
 */
import { expect } from 'vitest';
import type { EpochResult } from '../../src/train/trainer';

export function expectSameCounts(got: EpochResult, want: EpochResult, when: string): void {
  expect({ ...got, lossSum: 0 }, when).toEqual({ ...want, lossSum: 0 });
  expect(Math.abs(got.lossSum - want.lossSum), `${when}: loss sum ${got.lossSum} vs ${want.lossSum}`).toBeLessThanOrEqual(1e-5 * Math.max(1, want.lossSum));
}
