/**
 * Waiting for the GPU without stealing a core from a software adapter.
 *
 * While one of its promises is pending, Dawn's Node bindings poll for completion from a
 * `setImmediate` loop, which keeps one CPU core busy; with a CPU-emulated GPU (lavapipe,
 * SwiftShader) that core is taken from the kernels themselves. `waitForGpu` lets that loop run
 * freely for a short while (small jobs finish sooner that way), then sleeps briefly between its
 * turns. In a browser (no `setImmediate`, and `Atomics.wait` is refused on the main thread) it is
 * a plain await.
 */

/** Spin without sleeping for this long first: short jobs end within it. */
const SPIN_MS = 0.5;
/** Then sleep this long between polling turns. */
const SLEEP_MS = 0.1;

const setImmediateFn = (globalThis as { setImmediate?: (callback: () => void) => unknown }).setImmediate;
let canSleep = typeof setImmediateFn === 'function' && typeof SharedArrayBuffer === 'function';
const sleepCell = canSleep ? new Int32Array(new SharedArrayBuffer(4)) : null;

function sleepBriefly(): void {
  try {
    Atomics.wait(sleepCell!, 0, 0, SLEEP_MS);
  } catch {
    canSleep = false;
  }
}

export async function waitForGpu<T>(pending: Promise<T>): Promise<T> {
  if (!canSleep || !setImmediateFn) return pending;
  let settled = false;
  // Both outcomes end the loop; a rejection reaches the caller through `pending` itself, which
  // this handler marks as handled while the loop still runs.
  const settle = (): void => {
    settled = true;
  };
  pending.then(settle, settle);
  const start = performance.now();
  while (!settled) {
    if (performance.now() - start > SPIN_MS) sleepBriefly();
    await new Promise<void>((resolve) => setImmediateFn(resolve));
  }
  return pending;
}
