/**
 * `bench matmul`: every matmul version on the shapes of a training step of the seed's network,
 * a few-rows shape (a small inference batch) and a large square, each kernel alone. Cases run
 * round-robin in one process (the machine's speed drifts) and each figure is the median over the
 * rounds. The whole training step per version is `bench train`'s.
 */
import { adapterName, type AdapterDescription, type GpuContext } from '../gpu/device';
import { matmulKernel, matmulVersionFor, subgroupSize, type MatmulSpec, type MatmulVersion } from '../gpu/kernels';
import { benchRepeats, kernelTimingMethod, matmulCase, median, runRounds, type KernelTimingMethod } from './timing';

export interface MatmulBenchSettings {
  /** [label, shape] */
  shapes: [string, MatmulSpec][];
  repeats: number;
  /** Milliseconds of GPU work one timing aims at. */
  kernelTimingMs: number;
}

export function matmulBenchSettings(quick: boolean, repeats?: number): MatmulBenchSettings {
  const square = quick ? 512 : 1024;
  return {
    shapes: [
      ['X·W', { m: 800, k: 784, n: 100 }],
      ['Xᵀ·dY', { m: 784, k: 800, n: 100, transA: true }],
      ['dY·Wᵀ', { m: 800, k: 100, n: 100, transB: true }],
      ['X·W, few rows', { m: 16, k: 784, n: 100 }],
      ['A·B', { m: square, k: square, n: square }],
    ],
    repeats: benchRepeats(quick, repeats),
    kernelTimingMs: quick ? 30 : 150,
  };
}

/**
 * Most multiply-adds one dispatch of the kernels that are slow on large shapes (v1 naive, v4 few
 * rows) may take: a software adapter runs them at 1–3 G multiply-adds/s.
 */
const MAX_SLOW_KERNEL_WORK = 2e8;

export interface MatmulBenchRow {
  shape: string;
  spec: MatmulSpec;
  version: MatmulVersion;
  /** The kernel's name with the shape, e.g. `matmul_v3[800x784x100 A·B]`. */
  kernel: string;
  /** The version `matmulVersionFor` picks for this shape on this device. */
  isAuto: boolean;
  ms: number;
  gflops: number;
  /** Slowest and fastest round. */
  gflopsRange: [number, number];
}

export interface MatmulBenchReport {
  adapter: AdapterDescription;
  /** The subgroup size matmul_v3 is built for, 0 where it cannot run. */
  subgroupSize: number;
  kernelTiming: KernelTimingMethod;
  repeats: number;
  rows: MatmulBenchRow[];
  /** Cases left out, with the reason. */
  skipped: string[];
}

export async function benchMatmul(ctx: GpuContext, settings: MatmulBenchSettings, progress: (line: string) => void): Promise<MatmulBenchReport> {
  const versions: MatmulVersion[] = subgroupSize(ctx) > 0 ? [1, 2, 3, 4] : [1, 2, 4];
  const skipped: string[] = [];
  const cases = [];
  progress('compiling the kernels');
  for (const [shape, spec] of settings.shapes) {
    const work = spec.m * spec.k * spec.n;
    for (const version of versions) {
      if ((version === 1 || version === 4) && work > MAX_SLOW_KERNEL_WORK) {
        skipped.push(`${shape} matmul_v${version}: ${work.toExponential(1)} multiply-adds, past the ${MAX_SLOW_KERNEL_WORK.toExponential(0)} cap for v1 and v4`);
        continue;
      }
      const timed = await matmulCase(ctx, await matmulKernel(ctx, spec, version), settings.kernelTimingMs);
      cases.push({ shape, spec, version, timed });
    }
  }
  progress('warming up');
  await runRounds(
    cases.map((c) => c.timed),
    settings.repeats,
    (round) => progress(`round ${round}/${settings.repeats}`),
  );
  const rows = cases.map(({ shape, spec, version, timed }): MatmulBenchRow => {
    const flops = 2 * spec.m * spec.k * spec.n;
    const gflops = timed.ms.map((ms) => flops / ms / 1e6);
    return {
      shape,
      spec,
      version,
      kernel: timed.label,
      isAuto: matmulVersionFor(ctx, spec) === version,
      ms: median(timed.ms),
      gflops: median(gflops),
      gflopsRange: [Math.min(...gflops), Math.max(...gflops)],
    };
  });
  return { adapter: ctx.adapter, subgroupSize: subgroupSize(ctx), kernelTiming: kernelTimingMethod(ctx), repeats: settings.repeats, rows, skipped };
}

export function formatMatmulBench(r: MatmulBenchReport): string {
  const fixed = (x: number, digits = 1): string => x.toFixed(digits);
  return [
    `adapter: ${adapterName(r.adapter)}, subgroup size ${r.subgroupSize || 'n/a'}; kernels timed by ${r.kernelTiming}, median of ${r.repeats} rounds; (auto) = what matmulVersionFor runs for the shape`,
    '',
    '| shape | kernel | ms (median) | GFLOP/s (median) | GFLOP/s (min–max) |',
    '| --- | --- | ---: | ---: | ---: |',
    ...r.rows.map(
      (x) =>
        `| ${x.shape} | ${x.kernel}${x.isAuto ? ' (auto)' : ''} | ${fixed(x.ms, 2)} | ${fixed(x.gflops)} | ` +
        `${fixed(x.gflopsRange[0])}–${fixed(x.gflopsRange[1])} |`,
    ),
    ...r.skipped.map((reason) => `skipped: ${reason}`),
  ].join('\n');
}
