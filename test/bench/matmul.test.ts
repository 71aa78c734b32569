/**
 * `bench matmul`'s core on tiny settings, and the kernel timing both benches use: with the GPU's
 * timestamps where the device has `timestamp-query`, and from submit to done where it has not.
 * Speeds are never asserted (DESIGN.md, "Benchmarks, not timed tests").
 */
import { describe, expect, it } from 'vitest';
import { benchMatmul, formatMatmulBench, matmulBenchSettings } from '../../src/bench/matmul';
import { kernelTimingMethod, matmulCase, matmulInputBuffers } from '../../src/bench/timing';
import { readBuffer } from '../../src/gpu/buffers';
import type { GpuContext } from '../../src/gpu/device';
import { matmulKernel, subgroupSize } from '../../src/gpu/kernels';
import { testGpu } from '../helpers/gpu';

const gpu = await testGpu();

/** The same device, seen as one without `timestamp-query`. */
function withoutTimestamps(ctx: GpuContext): GpuContext {
  const device = new Proxy(ctx.device, {
    get(target, key) {
      if (key === 'features') return new Set([...target.features].filter((f) => f !== 'timestamp-query'));
      const value: unknown = Reflect.get(target, key);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return { ...ctx, device };
}

describe('matmulBenchSettings', () => {
  it('runs the repeats asked for, quick or not; without a count, quick runs fewer', () => {
    expect([matmulBenchSettings(true, 10).repeats, matmulBenchSettings(false, 2).repeats]).toEqual([10, 2]);
    expect(matmulBenchSettings(true, undefined).repeats).toBeLessThan(matmulBenchSettings(false, undefined).repeats);
  });
});

describe.skipIf(!gpu.context)(`bench matmul core and kernel timing ${gpu.label}`, () => {
  const ctx = gpu.context!;
  const positive = (x: number): boolean => Number.isFinite(x) && x > 0;

  it('times every version on each shape, leaves the slow kernels out of a large one, marks what auto runs', async () => {
    const settings = {
      shapes: [
        ['tiny', { m: 5, k: 7, n: 9 }],
        ['large', { m: 600, k: 600, n: 600 }],
      ] as [string, { m: number; k: number; n: number }][],
      repeats: 2,
      kernelTimingMs: 1,
    };
    const progress: string[] = [];
    const report = await benchMatmul(ctx, settings, (line) => progress.push(line));
    const versions = subgroupSize(ctx) > 0 ? [1, 2, 3, 4] : [1, 2, 4];
    expect(report.rows.filter((r) => r.shape === 'tiny').map((r) => r.version)).toEqual(versions);
    expect(report.rows.filter((r) => r.shape === 'large').map((r) => r.version)).toEqual(versions.filter((v) => v === 2 || v === 3));
    expect(report.skipped).toHaveLength(2);
    for (const shape of ['tiny', 'large']) expect(report.rows.filter((r) => r.shape === shape && r.isAuto)).toHaveLength(1);
    for (const r of report.rows) expect([r.ms, r.gflops, ...r.gflopsRange].every(positive), JSON.stringify(r)).toBe(true);
    expect(report.kernelTiming).toBe(ctx.device.features.has('timestamp-query') ? 'timestamp-query' : 'submit-to-done');
    expect(formatMatmulBench(report)).toContain('matmul_v2[600x600x600 A·B]');
    expect(progress).toContain('round 2/2');
  });

  it('times a matmul on buffers of its binding sizes holding ones, which no zero skip can shorten', async () => {
    const kernel = await matmulKernel(ctx, { m: 33, k: 17, n: 9, bias: true }, subgroupSize(ctx) > 0 ? 3 : 2);
    const buffers = matmulInputBuffers(ctx, kernel, 'test');
    expect(buffers.map((b) => b.size)).toEqual(kernel.bindingBytes.map((bytes) => Math.max(4, Math.ceil(bytes / 4) * 4)));
    for (const b of buffers) {
      const values = await readBuffer(ctx, b, new Float32Array(b.size / 4));
      expect(values.every((v) => v === 1)).toBe(true);
      b.destroy();
    }
  });

  it('kernel timings are positive with timestamps and without', async () => {
    const kernel = await matmulKernel(ctx, { m: 64, k: 64, n: 64 }, 2);
    const contexts = [ctx, withoutTimestamps(ctx)];
    expect(contexts.map(kernelTimingMethod)).toEqual([ctx.device.features.has('timestamp-query') ? 'timestamp-query' : 'submit-to-done', 'submit-to-done']);
    for (const c of contexts) {
      const timed = await matmulCase(c, kernel, 1);
      expect(positive(await timed.run()), kernelTimingMethod(c)).toBe(true);
    }
  });
});
