/**
 * Plain-loop references for the compaction kernels (shaders/compact.wgsl): which samples of a
 * batch are backpropagated, their rows packed into a prefix, and the workgroup counts of the
 * dispatches that run over that prefix.
 */

/** The indices s with flags[s] ≠ 0, ascending (compact_scan: `samples[0 … count)` and `count`). */
export function compactSamples(flags: ArrayLike<number>): Uint32Array {
  const samples: number[] = [];
  for (let s = 0; s < flags.length; s++) if (flags[s] !== 0) samples.push(s);
  return Uint32Array.from(samples);
}

/** dst row r = src row samples[r] for r < samples.length, zeros after (gather_rows). */
export function gatherRows(
  samples: ArrayLike<number>, // [count] row indices of src
  src: Float32Array, // [batch, width]
  dst: Float32Array, // [batch, width], overwritten
  batch: number,
  width: number,
): void {
  for (let r = 0; r < batch; r++) {
    for (let c = 0; c < width; c++) dst[r * width + c] = r < samples.length ? src[samples[r]! * width + c]! : 0;
  }
}

/** One dispatch that runs over the packed rows: x workgroups by as many as the rows fill at `rowsPerWorkgroup` each. */
export interface IndirectEntry {
  x: number;
  rowsPerWorkgroup: number;
}

/** The workgroup counts (x, y, z per entry) for `count` packed rows (compact_scan, after the samples). */
export function indirectArgs(entries: readonly IndirectEntry[], count: number): Uint32Array {
  const args = new Uint32Array(3 * entries.length);
  entries.forEach((e, i) => args.set([e.x, Math.ceil(count / e.rowsPerWorkgroup), 1], 3 * i));
  return args;
}
