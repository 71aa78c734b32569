/** Smallest integer ≥ a / b, for positive b: workgroup counts, batch counts, tile counts. */
export function ceilDiv(a: number, b: number): number {
  return Math.floor((a + b - 1) / b);
}
