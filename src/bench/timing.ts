/** Timing primitives shared by the benchmarks. */
import type { GpuContext } from '../gpu/device';
import { recordDispatches, type Dispatch } from '../gpu/dispatch';
import { waitForGpu } from '../gpu/wait';

/** The median; the mean of the middle two for an even count. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Milliseconds per dispatch of `reps` copies of one dispatch in one pass and one submit, GPU synchronized. */
export async function timeDispatch(ctx: GpuContext, dispatch: Dispatch, reps: number): Promise<number> {
  const encoder = ctx.device.createCommandEncoder({ label: `bench ${dispatch.kernel.name}` });
  const pass = encoder.beginComputePass();
  for (let r = 0; r < reps; r++) recordDispatches(pass, [dispatch]);
  pass.end();
  const start = performance.now();
  ctx.device.queue.submit([encoder.finish()]);
  await waitForGpu(ctx.device.queue.onSubmittedWorkDone());
  return (performance.now() - start) / reps;
}
