/**
 * The compaction kernels of shaders/compact.wgsl as descriptors (src/gpu/dispatch.ts): the trainer
 * packs the samples it backpropagates into a prefix of the batch and sizes the backward pass's
 * dispatches from their count on the GPU, with no readback. References: src/cpu/compact.ts.
 */
import compactSource from '../../shaders/compact.wgsl';
import type { IndirectEntry } from '../cpu/compact';
import { ceilDiv } from '../util/math';
import type { GpuContext } from './device';
import { compileKernel, type Kernel, type KernelDescriptor } from './dispatch';
import { KernelError } from './program';
import { integersFrom } from './kernels';

const U32 = 4;

/** Bytes of one dispatch's workgroup counts in an indirect buffer (x, y, z as u32). */
export const INDIRECT_ARGS_BYTES = 3 * U32;

/** Usage of the buffer compact_scan writes and dispatchWorkgroupsIndirect reads (STORAGE | INDIRECT | COPY_SRC, as the spec's flag values). */
export const INDIRECT_STORAGE = 0x0080 | 0x0100 | 0x0004;

interface ScanShape {
  batch: number;
  /** Dispatches that run over the packed rows: the workgroup counts written for each. */
  entries: number;
}

/**
 * Flags → the packed sample list and its count, in one workgroup (a prefix sum over WG
 * per-invocation counts), then the workgroup counts of `entries` dispatches over the packed rows.
 */
export const COMPACT_SCAN: KernelDescriptor<ScanShape, { WG: number }> = {
  name: 'compact_scan',
  source: compactSource,
  entryPoint: 'compact_scan',
  geometry: { WG: 256 },
  describe: ({ batch, entries }) => `${batch}, ${entries} dispatches`,
  shapeConstants: ({ batch, entries }) => ({ BATCH: batch, ENTRIES: entries }),
  workgroups: () => [1, 1, 1],
  bindingBytes: ({ batch, entries }) => [batch * U32, batch * U32, U32, entries * 2 * U32, entries * INDIRECT_ARGS_BYTES],
};

interface GatherShape {
  batch: number;
  /** The widths of the matrices gathered in one dispatch: one to three (`GATHER_MATRICES`). */
  widths: readonly number[];
}

/**
 * The most matrices one gather_rows dispatch packs: two bindings per matrix besides the sample
 * list and the count, 2 + 2·3 = 8, the storage buffers a stage may bind by default.
 */
export const GATHER_MATRICES = 3;
const matrixSlots = [...Array(GATHER_MATRICES).keys()];

/** Packed rows of up to three [batch, width] matrices, zeros past the count, in one dispatch. */
export const GATHER_ROWS: KernelDescriptor<GatherShape, { WG: number; ROWS: number }> = {
  name: 'gather_rows',
  source: compactSource,
  entryPoint: 'gather_rows',
  geometry: { WG: 64, ROWS: 8 },
  describe: ({ batch, widths }) => widths.map((w) => `${batch}x${w}`).join(' + '),
  shapeConstants: ({ batch, widths }) => ({ BATCH: batch, WIDTH0: widths[0]!, WIDTH1: widths[1] ?? 0, WIDTH2: widths[2] ?? 0 }),
  workgroups: ({ batch, widths }, g) => [ceilDiv(widths.reduce((a, b) => a + b, 0), g.WG), ceilDiv(batch, g.ROWS), 1],
  bindingBytes: ({ batch, widths }) => [
    batch * U32,
    U32,
    ...matrixSlots.flatMap((m) => {
      const bytes = widths[m] ? batch * widths[m] * 4 : 4;
      return [bytes, bytes];
    }),
  ],
  // The source and destination of each matrix the dispatch does not have.
  unreadBindings: ({ widths }) => matrixSlots.filter((m) => m >= widths.length).flatMap((m) => [2 + 2 * m, 3 + 2 * m]),
};

export function gatherRowsKernel(ctx: GpuContext, batch: number, widths: readonly number[]): Promise<Kernel> {
  integersFrom(1, 'gather_rows', { batch });
  if (widths.length < 1 || widths.length > GATHER_MATRICES) throw new KernelError(`gather_rows: ${widths.length} matrices, it packs 1 to ${GATHER_MATRICES}`);
  // A layer that pruning emptied has no columns: nothing to gather (0 workgroups).
  widths.forEach((width, m) => integersFrom(0, 'gather_rows', { [`width ${m}`]: width }));
  return compileKernel(ctx, GATHER_ROWS, { batch, widths });
}

/** `items` (matrices to gather) in gather_rows dispatches, in order: as many to a dispatch as it packs. */
export function gatherGroups<T>(items: readonly T[]): T[][] {
  return Array.from({ length: ceilDiv(items.length, GATHER_MATRICES) }, (_, g) => items.slice(g * GATHER_MATRICES, (g + 1) * GATHER_MATRICES));
}

/** The scan of a batch of `batch` samples, writing the workgroup counts of `entries` (their table: `indirectTable`). */
export function compactScanKernel(ctx: GpuContext, batch: number, entries: readonly IndirectEntry[]): Promise<Kernel> {
  integersFrom(1, 'compact_scan', { batch, entries: entries.length });
  entries.forEach((e, i) => integersFrom(1, 'compact_scan', { [`entry ${i}'s rowsPerWorkgroup`]: e.rowsPerWorkgroup }));
  return compileKernel(ctx, COMPACT_SCAN, { batch, entries: entries.length });
}

/** The table compact_scan reads: (x, rows_per_wg) per entry. */
export function indirectTable(entries: readonly IndirectEntry[]): Uint32Array {
  return Uint32Array.from(entries.flatMap((e) => [e.x, e.rowsPerWorkgroup]));
}
