/**
 * `bench train`'s core on tiny settings: the report has every contender and sane numbers.
 * Speeds are never asserted (DESIGN.md, "Benchmarks, not timed tests").
 */
import { describe, expect, it } from 'vitest';
import { benchTrain, formatTrainBench, stepFlops, type TrainBenchSettings } from '../../src/bench/train';
import { dawnGpu } from '../../src/node/dawn';
import { testGpu } from '../helpers/gpu';
import { mulberry32 } from '../helpers/random';

const gpu = await testGpu();

describe('stepFlops', () => {
  it('counts forward, input gradients of layers after the first, and weight gradients', () => {
    // 784-100-100-10, batch 800: 2·800·(89 400 + 11 000 + 89 400)
    expect(stepFlops([784, 100, 100, 10], 800)).toBe(2 * 800 * (89_400 + 11_000 + 89_400));
    expect(stepFlops([5, 3], 2)).toBe(2 * 2 * 15 * 2);
  });
});

describe.skipIf(!gpu.context)(`bench train core ${gpu.label}`, () => {
  // Compiling TF.js's pipelines on a software adapter takes most of a minute.
  it('reports ours, TF.js and the JS reference with positive finite figures', { timeout: 300_000 }, async () => {
    const settings: TrainBenchSettings = {
      sizes: [32, 16, 4],
      batch: 20,
      batches: 2,
      repeats: 1,
      trainedEpochs: 1,
      trainedSamples: 60,
      ceilingSize: 64,
      kernelTimingMs: 1,
    };
    const random = mulberry32(5);
    const count = 60;
    const train = {
      source: 'synthetic',
      count,
      features: 32,
      classes: 4,
      inputs: Float32Array.from({ length: count * 32 }, () => (random() < 0.5 ? 0 : random())),
      labels: Uint8Array.from({ length: count }, () => Math.floor(random() * 4)),
    };
    const progress: string[] = [];
    const report = await benchTrain({ ctx: gpu.context!, gpu: dawnGpu(), train, settings, progress: (line) => progress.push(line) });

    expect(new Set(report.results.map((r) => r.name))).toEqual(new Set(['webgpu-prune', 'tfjs-webgpu', 'js-reference']));
    expect(report.results.filter((r) => r.isDefault)).toHaveLength(1);
    expect(report.results.filter((r) => r.name === 'js-reference').map((r) => r.stage)).toEqual(['fresh', 'trained']);
    const positive = (x: number) => Number.isFinite(x) && x > 0;
    for (const r of report.results) {
      expect(r.batch).toBe(20);
      expect(r.batches).toBe(2);
      expect([r.samplesPerSec, r.gflops, r.msPerBatch, ...r.msPerBatchRange].every(positive), JSON.stringify(r)).toBe(true);
    }
    for (const r of report.results.filter((x) => x.name === 'js-reference')) {
      expect(r.backpropagatedFraction).toBeGreaterThanOrEqual(0);
      expect(r.backpropagatedFraction).toBeLessThanOrEqual(1);
    }
    expect(Object.values(report.ratios).every(positive)).toBe(true);
    expect(report.ceiling.shape).toEqual([64, 64, 64]);
    expect([report.ceiling.gflops, report.ceiling.ms, report.ceiling.trainerFraction].every(positive)).toBe(true);
    // Forward 2, backward 1, weight gradients 2, softmax 1, updates 2.
    expect(report.stepKernels.kernels).toHaveLength(8);
    expect(report.stepKernels.kernels.every((k) => positive(k.ms))).toBe(true);
    expect(report.flopsPerStep).toBe(stepFlops(settings.sizes, settings.batch));
    expect(report.adapter.description).toBe(gpu.context!.adapter.description);
    expect(JSON.parse(JSON.stringify(report))).toEqual(report);
    expect(formatTrainBench(report)).toContain('tfjs-webgpu');
    expect(progress.some((line) => line.startsWith('round 1/1'))).toBe(true);
  });
});
