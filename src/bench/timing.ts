/** Timing primitives shared by the benchmarks. */
import { STORAGE_OR_UNIFORM, uploadBuffer } from '../gpu/buffers';
import type { GpuContext } from '../gpu/device';
import { bindKernel, recordDispatches, type Dispatch, type Kernel } from '../gpu/dispatch';
import { waitForGpu } from '../gpu/wait';

/** The median; the mean of the middle two for an even count. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/**
 * Timed repeats per case: a count the user gave, else fewer for a quick run than for a full one.
 * One rule for every bench, so that --quick means the same everywhere and never overrides --repeats.
 */
export function benchRepeats(quick: boolean, repeats: number | undefined): number {
  return repeats ?? (quick ? 3 : 7);
}

/**
 * How kernel timings are taken: the GPU's own timestamps at the start and end of the pass, where
 * the device has `timestamp-query`; else the host's clock from submit to the GPU being done.
 */
export type KernelTimingMethod = 'timestamp-query' | 'submit-to-done';

export function kernelTimingMethod(ctx: GpuContext): KernelTimingMethod {
  return ctx.device.features.has('timestamp-query') ? 'timestamp-query' : 'submit-to-done';
}

/** A query set for the two timestamps of a pass, and the buffers that bring them back. */
interface PassTimer {
  querySet: GPUQuerySet;
  resolved: GPUBuffer;
  readback: GPUBuffer;
}

const TIMESTAMP_BYTES = 2 * 8;

/** A timer for one kernel's timings (each its own: the read-back buffer maps for one timing at a time), or null without `timestamp-query`. */
function passTimer(ctx: GpuContext, label: string): PassTimer | null {
  if (kernelTimingMethod(ctx) !== 'timestamp-query') return null;
  const { device } = ctx;
  return {
    querySet: device.createQuerySet({ label: `${label} timestamps`, type: 'timestamp', count: 2 }),
    resolved: device.createBuffer({ label: `${label} timestamps`, size: TIMESTAMP_BYTES, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC }),
    readback: device.createBuffer({ label: `${label} timestamps readback`, size: TIMESTAMP_BYTES, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST }),
  };
}

/** Milliseconds per dispatch of `reps` copies of one dispatch in one pass and one submit (see `KernelTimingMethod`). */
async function timeDispatch(ctx: GpuContext, dispatch: Dispatch, reps: number, timer: PassTimer | null): Promise<number> {
  const { device } = ctx;
  const encoder = device.createCommandEncoder({ label: `bench ${dispatch.kernel.name}` });
  const pass = encoder.beginComputePass(timer ? { timestampWrites: { querySet: timer.querySet, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 } } : {});
  for (let r = 0; r < reps; r++) recordDispatches(pass, [dispatch]);
  pass.end();
  if (timer) {
    encoder.resolveQuerySet(timer.querySet, 0, 2, timer.resolved, 0);
    encoder.copyBufferToBuffer(timer.resolved, 0, timer.readback, 0, TIMESTAMP_BYTES);
  }
  const start = performance.now();
  device.queue.submit([encoder.finish()]);
  await waitForGpu(device.queue.onSubmittedWorkDone());
  const hostMs = performance.now() - start;
  if (!timer) return hostMs / reps;
  await waitForGpu(timer.readback.mapAsync(GPUMapMode.READ));
  const [begin, end] = new BigUint64Array(timer.readback.getMappedRange());
  timer.readback.unmap();
  // Timestamps may be quantized, so a pass shorter than one tick reads as 0 (or end < begin):
  // the host's clock is the honest figure then.
  return end! > begin! ? Number(end! - begin!) / 1e6 / reps : hostMs / reps;
}

/** Milliseconds of each of `repeats` runs of `run`, after two untimed warm-up runs. */
export async function timeRuns(run: () => Promise<void>, repeats: number): Promise<number[]> {
  await run();
  await run();
  const ms: number[] = [];
  for (let r = 0; r < repeats; r++) {
    const start = performance.now();
    await run();
    ms.push(performance.now() - start);
  }
  return ms;
}

/** One thing to time: `run` does one timed unit and returns its milliseconds; `ms` collects them. */
export interface TimedCase {
  label: string;
  run: () => Promise<number>;
  ms: number[];
}

/**
 * Buffers of a matmul's binding sizes, every element 1: the subgroup matmul skips a k step whose
 * op(A) is 0 on a whole subgroup, so on zeroed buffers it would be timed multiplying nothing.
 * Each may also be bound as a uniform (the momentum step's rates).
 */
export function matmulInputBuffers(ctx: GpuContext, kernel: Kernel, label: string): GPUBuffer[] {
  return kernel.bindingBytes.map((bytes, i) => uploadBuffer(ctx, `${label} ${kernel.name} ${i}`, new Float32Array(Math.max(1, Math.ceil(bytes / 4))).fill(1), STORAGE_OR_UNIFORM));
}

/** A matmul bound to buffers of ones (`matmulInputBuffers`), repeated in one pass for about `targetMs`. */
export async function matmulCase(ctx: GpuContext, kernel: Kernel, targetMs: number): Promise<TimedCase> {
  return dispatchCase(ctx, bindKernel(ctx, kernel, 'bench', matmulInputBuffers(ctx, kernel, 'bench')), targetMs);
}

/** A kernel bound to buffers whose content matters to its speed (a CSR layer's indices), repeated in one pass for about `targetMs`. */
export async function dispatchCase(ctx: GpuContext, dispatch: Dispatch, targetMs: number): Promise<TimedCase> {
  const timer = passTimer(ctx, `bench ${dispatch.kernel.name}`);
  const first = await timeDispatch(ctx, dispatch, 1, timer);
  const reps = Math.max(1, Math.min(1000, Math.round(targetMs / Math.max(first, 0.01))));
  return { label: dispatch.kernel.name, run: () => timeDispatch(ctx, dispatch, reps, timer), ms: [] };
}

/**
 * Runs every case once to warm up, then `repeats` rounds in which each case is timed once, in
 * order: the machine's speed drifts, so every case sees the same conditions within a round.
 */
export async function runRounds(cases: readonly TimedCase[], repeats: number, afterRound?: (round: number) => void): Promise<void> {
  for (const c of cases) await c.run();
  for (let round = 1; round <= repeats; round++) {
    for (const c of cases) c.ms.push(await c.run());
    afterRound?.(round);
  }
}
