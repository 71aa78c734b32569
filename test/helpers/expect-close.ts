/**
 * Compares a computed array with its reference element by element and fails with the shape,
 * the first bad index, the worst difference and how many elements are off. NaN or ±Inf in
 * `actual` where the reference is finite always fails, so outputs poisoned with NaN before a
 * kernel runs catch elements the kernel never wrote.
 */
export interface Tolerance {
  /** Allowed |a − r| / max(|r|, 1e-30), checked after `abs` (default 1e-4 for f32 work). */
  rel?: number;
  /** Allowed |a − r| regardless of magnitude (default 1e-6). */
  abs?: number;
}

export function expectClose(
  actual: ArrayLike<number>,
  reference: ArrayLike<number>,
  tolerance: Tolerance = {},
  shape = `[${reference.length}]`,
): void {
  const rel = tolerance.rel ?? 1e-4;
  const abs = tolerance.abs ?? 1e-6;
  if (actual.length !== reference.length) {
    throw new Error(`shape ${shape}: length ${actual.length}, expected ${reference.length}`);
  }
  let firstBad = -1;
  let bad = 0;
  let worst = 0;
  let worstIndex = -1;
  for (let i = 0; i < reference.length; i++) {
    const a = actual[i]!;
    const r = reference[i]!;
    const diff = Math.abs(a - r);
    const ok = Number.isFinite(r)
      ? Number.isFinite(a) && (diff <= abs || diff <= rel * Math.abs(r))
      : Object.is(a, r) || (Number.isNaN(a) && Number.isNaN(r));
    if (!ok) {
      bad++;
      if (firstBad < 0) firstBad = i;
    }
    const d = Number.isFinite(diff) ? diff : Infinity;
    if (d > worst || worstIndex < 0) {
      worst = d;
      worstIndex = i;
    }
  }
  if (bad > 0) {
    throw new Error(
      `shape ${shape}: ${bad} of ${reference.length} elements off (rel ${rel}, abs ${abs}); ` +
        `first bad index ${firstBad}: got ${actual[firstBad]}, expected ${reference[firstBad]}; ` +
        `worst |diff| ${worst} at index ${worstIndex}`,
    );
  }
}
