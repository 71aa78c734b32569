/**
 * The GPU for test suites. With no adapter the suites are skipped with the reason in their
 * name; with REQUIRE_GPU=1 (set by CI, which installs a software adapter) a missing adapter
 * fails the run instead, so a green CI always means the GPU tests ran.
 */
import { acquireDevice, adapterName, type GpuContext } from '../../src/gpu/device';
import { dawnGpu } from '../../src/node/dawn';

export interface TestGpu {
  context: GpuContext | null;
  /** Suffix for suite names: the adapter used, or why the suite is skipped. */
  label: string;
}

let shared: Promise<TestGpu> | null = null;

export function testGpu(): Promise<TestGpu> {
  shared ??= (async () => {
    try {
      const context = await acquireDevice(dawnGpu());
      return { context, label: `on ${adapterName(context.adapter)}` };
    } catch (err) {
      const reason = (err as Error).message;
      if (process.env.REQUIRE_GPU === '1') throw new Error(`REQUIRE_GPU=1 but no GPU: ${reason}`);
      return { context: null, label: `(skipped: ${reason})` };
    }
  })();
  return shared;
}
