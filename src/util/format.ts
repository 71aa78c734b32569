/** Number formatting shared by the CLI, the benchmarks and the browser page. */

/** `part` as a percentage of `whole`, e.g. `97.70`. */
export function percent(part: number, whole: number, digits = 2): string {
  return whole === 0 ? (0).toFixed(digits) : ((100 * part) / whole).toFixed(digits);
}

/** `1234567` → `1,234,567`, as the seed prints samples per second. */
export function grouped(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}
