/**
 * The compaction kernels (shaders/compact.wgsl) against their plain-loop references
 * (src/cpu/compact.ts) on fresh random inputs: no sample, every sample and some samples flagged,
 * batches either side of the scan's 256 invocations and of the gather's 8-row, 64-column
 * workgroups, one to three matrices (one of them empty) to a gather, tables of dispatches either side of the scan's 256 invocations, outputs poisoned
 * first. Every output is a copy or a count, so comparisons are exact.
 */
import { describe, expect, it } from 'vitest';
import { compactSamples, gatherRows, indirectArgs, type IndirectEntry } from '../../src/cpu/compact';
import { readBuffer } from '../../src/gpu/buffers';
import { compactScanKernel, gatherGroups, gatherRowsKernel, indirectTable, INDIRECT_ARGS_BYTES } from '../../src/gpu/compact-kernels';
import { bindKernel, submitDispatches } from '../../src/gpu/dispatch';
import { testGpu } from '../helpers/gpu';
import { inputBuffer, poisonedBuffer } from '../helpers/gpu-buffers';
import { mulberry32, randomFloats } from '../helpers/random';

const gpu = await testGpu();

/** A u32 no kernel writes: an output still holding it was not written. */
const POISON = 0xdeadbeef;

/** Flags with the given share of 1s (exactly none or all at 0 and 1); other nonzero values count as set too. */
function randomFlags(random: () => number, batch: number, share: number): Uint32Array {
  return Uint32Array.from({ length: batch }, () => (random() < share ? (random() < 0.5 ? 1 : 3) : 0));
}

describe.skipIf(!gpu.context)(`compaction kernels ${gpu.label}`, () => {
  const ctx = gpu.context!;

  const SCAN_CASES: [number, number][] = [
    [1, 1],
    [1, 0],
    [255, 0.5],
    [256, 1],
    [257, 0.3],
    [800, 0],
    [800, 0.28],
    [1000, 1],
    [5003, 0.7],
  ];
  for (const [batch, share] of SCAN_CASES) {
    it(`compact_scan: batch ${batch}, ${share * 100}% flagged, and the workgroup counts of 7 and 300 dispatches`, async () => {
      const random = mulberry32(batch * 7 + Math.round(share * 100));
      const flags = randomFlags(random, batch, share);
      const expected = compactSamples(flags);
      for (const entryCount of [7, 300]) {
        const entries: IndirectEntry[] = Array.from({ length: entryCount }, () => ({ x: 1 + Math.floor(random() * 9), rowsPerWorkgroup: 1 + Math.floor(random() * 130) }));
        const kernel = await compactScanKernel(ctx, batch, entries);
        const samples = inputBuffer(ctx, 'samples', new Uint32Array(batch).fill(POISON));
        const count = inputBuffer(ctx, 'count', new Uint32Array([POISON]));
        const args = inputBuffer(ctx, 'args', new Uint32Array((entryCount * INDIRECT_ARGS_BYTES) / 4).fill(POISON));
        const buffers = [inputBuffer(ctx, 'flags', flags), samples, count, inputBuffer(ctx, 'table', indirectTable(entries)), args];
        await submitDispatches(ctx, kernel.name, [bindKernel(ctx, kernel, 'test', buffers)]);
        const [gotCount] = await readBuffer(ctx, count, new Uint32Array(1));
        expect(gotCount).toBe(expected.length);
        const got = await readBuffer(ctx, samples, new Uint32Array(batch));
        expect(got.subarray(0, expected.length)).toEqual(expected);
        // The contract leaves the entries past the count alone.
        expect(got.subarray(expected.length).every((x) => x === POISON)).toBe(true);
        expect(await readBuffer(ctx, args, new Uint32Array(3 * entryCount)), `${entryCount} dispatches`).toEqual(indirectArgs(entries, expected.length));
        buffers.forEach((b) => b.destroy());
      }
    });
  }

  // [batch, widths of the matrices in one dispatch, share of the rows packed]
  const GATHER_CASES: [number, number[], number][] = [
    [1, [10], 1],
    [13, [37], 0],
    [13, [37, 5], 1],
    [100, [65, 1, 33], 0.28],
    [803, [10, 70], 0.5],
    [300, [0], 0.5],
    [300, [7, 0, 9], 0.5],
  ];
  for (const [batch, widths, share] of GATHER_CASES) {
    it(`gather_rows: [${batch}x${widths.join(', ')}], ${share * 100}% of the rows packed, zeros after`, async () => {
      const random = mulberry32(batch * 3 + widths.length * 7 + widths[0]!);
      const packed = compactSamples(randomFlags(random, batch, share));
      const samples = new Uint32Array(batch).fill(POISON);
      samples.set(packed);
      const kernel = await gatherRowsKernel(ctx, batch, widths);
      const sources = widths.map((width) => randomFloats(random, batch * width, -2, 2));
      const destinations = widths.map((width) => poisonedBuffer(ctx, 'dst', batch * width));
      const buffers = [
        inputBuffer(ctx, 'samples', samples),
        inputBuffer(ctx, 'count', new Uint32Array([packed.length])),
        ...widths.flatMap((_, m) => [inputBuffer(ctx, `src ${m}`, sources[m]!), destinations[m]!]),
      ];
      await submitDispatches(ctx, kernel.name, [bindKernel(ctx, kernel, 'test', buffers)]);
      for (const [m, width] of widths.entries()) {
        const expected = new Float32Array(batch * width);
        gatherRows(packed, sources[m]!, expected, batch, width);
        expect(await readBuffer(ctx, destinations[m]!, new Float32Array(batch * width)), `matrix ${m}`).toEqual(expected);
      }
      buffers.forEach((b) => b.destroy());
    });
  }
});

describe('gather groups', () => {
  it('puts the matrices to gather three to a dispatch, in order', () => {
    expect(gatherGroups([])).toEqual([]);
    expect(gatherGroups([1, 2])).toEqual([[1, 2]]);
    expect(gatherGroups([1, 2, 3])).toEqual([[1, 2, 3]]);
    expect(gatherGroups([1, 2, 3, 4, 5, 6, 7])).toEqual([[1, 2, 3], [4, 5, 6], [7]]);
  });
});
