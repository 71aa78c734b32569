/**
 * `bench train`'s core on tiny settings: the report has every contender, the stages of ours and
 * the JS reference, each stage's dispatches timed alone, a tiny recipe's whole run, and sane
 * numbers. Speeds are never asserted
 * (DESIGN.md, "Benchmarks, not timed tests").
 */
import { describe, expect, it } from 'vitest';
import { benchTrain, formatTrainBench, stepFlops, trainBenchSettings, type TrainBenchSettings } from '../../src/bench/train';
import type { Dataset } from '../../src/data/dataset';
import { dawnGpu } from '../../src/node/dawn';
import { SEED_RECIPE } from '../../src/train/recipe';
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

describe('trainBenchSettings', () => {
  it('runs the repeats asked for, quick or not; without a count, quick runs fewer', () => {
    expect([trainBenchSettings(true, 10).repeats, trainBenchSettings(false, 2).repeats]).toEqual([10, 2]);
    expect(trainBenchSettings(true, undefined).repeats).toBeLessThan(trainBenchSettings(false, undefined).repeats);
  });
});

describe.skipIf(!gpu.context)(`bench train core ${gpu.label}`, () => {
  // Compiling TF.js's pipelines on a software adapter takes most of a minute.
  it('reports ours, TF.js and the JS reference with positive finite figures', { timeout: 300_000 }, async () => {
    // 4 epochs of 3 batches, pruned after the second: epochs before and after the pruning pass.
    const seedRecipe = { ...SEED_RECIPE, sizes: [32, 16, 4], epochs: 4, batchSize: 20, prune: { kind: 'once' as const, epoch: 2, threshold: 0.01 } };
    const settings: TrainBenchSettings = {
      sizes: [32, 16, 4],
      batch: 20,
      batches: 2,
      repeats: 1,
      trainedEpochs: 1,
      trainedSamples: 60,
      ceilingSize: 64,
      kernelTimingMs: 1,
      seedRecipe,
    };
    const random = mulberry32(5);
    const synthetic = (source: string, count: number): Dataset => ({
      source,
      count,
      features: 32,
      classes: 4,
      inputs: Float32Array.from({ length: count * 32 }, () => (random() < 0.5 ? 0 : random())),
      labels: Uint8Array.from({ length: count }, () => Math.floor(random() * 4)),
    });
    const [train, test] = [synthetic('synthetic', 60), synthetic('synthetic test', 30)];
    const progress: string[] = [];
    const report = await benchTrain({ ctx: gpu.context!, gpu: dawnGpu(), train, test, settings, progress: (line) => progress.push(line) });

    expect(new Set(report.results.map((r) => r.name))).toEqual(new Set(['webgpu-prune', 'tfjs-webgpu', 'js-reference']));
    // The default matmul version's row, ours at three stages and the JS reference at two.
    expect(report.results.filter((r) => r.isDefault && r.matmulVersion !== undefined)).toHaveLength(1);
    const staged = (name: string) => report.results.filter((r) => r.name === name && r.stage);
    expect(staged('webgpu-prune').map((r) => r.stage)).toEqual(['fresh', 'trained', 'pruned']);
    expect(staged('webgpu-prune').every((r) => r.isDefault)).toBe(true);
    expect(staged('js-reference').map((r) => r.stage)).toEqual(['fresh', 'trained']);
    const positive = (x: number) => Number.isFinite(x) && x > 0;
    for (const r of report.results) {
      expect(r.batch).toBe(20);
      expect(r.batches).toBe(2);
      expect([r.samplesPerSec, r.gflops, r.msPerBatch, ...r.msPerBatchRange].every(positive), JSON.stringify(r)).toBe(true);
    }
    for (const r of report.results.filter((x) => x.stage)) {
      expect(r.backpropagatedFraction).toBeGreaterThanOrEqual(0);
      expect(r.backpropagatedFraction).toBeLessThanOrEqual(1);
    }
    // Ours and the JS reference train the same network from the same states: the same samples skip.
    const share = (name: string, stage: string) => report.results.find((r) => r.name === name && r.stage === stage)!.backpropagatedFraction;
    expect(share('webgpu-prune', 'fresh')).toBe(share('js-reference', 'fresh'));
    expect(share('webgpu-prune', 'trained')).toBe(share('js-reference', 'trained'));
    expect(Object.values(report.ratios).every(positive)).toBe(true);
    expect(report.ceiling.shape).toEqual([64, 64, 64]);
    expect([report.ceiling.gflops, report.ceiling.ms, report.ceiling.trainerFraction].every(positive)).toBe(true);
    // Each stage's batch as the trainer records it: forward 2, softmax 1, compact_scan 1,
    // gather_rows 2 (the hidden activations and output gradients together; the inputs), backward
    // 1, weight gradients with the momentum step 2; after pruning a sparse layer's forward and
    // weight gradient run over its kept weights.
    expect(report.stepKernels.map((s) => s.stage)).toEqual(['fresh', 'trained', 'pruned']);
    for (const stage of report.stepKernels) {
      const labels = stage.kernels.map((k) => k.kernel.replace(/^.*?\] /, ''));
      const expected = [
        /^layer 0 forward, batch 1$/,
        /^layer 1 forward$/,
        /^batch 1$/,
        /^backpropagated samples, backward workgroups$/,
        /^layers 1, 2$/,
        /^inputs, batch 1$/,
        /^layer 1 backprop( over kept weights)?$/,
        /^layer 0 gradient sum( at kept weights)?$/,
        /^layer 1 gradient sum( at kept weights)?$/,
      ];
      expect(labels, stage.stage).toHaveLength(expected.length);
      labels.forEach((label, i) => expect(label, stage.stage).toMatch(expected[i]!));
      if (stage.stage !== 'pruned') expect(labels.some((label) => label.includes('kept')), stage.stage).toBe(false);
      expect([...stage.kernels.map((k) => k.ms), stage.measuredStepMs].every(positive), stage.stage).toBe(true);
      expect(stage.sumMs).toBeCloseTo(stage.kernels.reduce((sum, k) => sum + k.ms, 0));
    }
    // The pruned stage trains the smaller network, or the full one where nothing could be removed.
    const prunedSizes = report.stepKernels[2]!.sizes;
    expect(prunedSizes.every((n, i) => n > 0 && n <= settings.sizes[i]!)).toBe(true);
    expect(report.flopsPerStep).toBe(stepFlops(settings.sizes, settings.batch));
    expect(report.adapter.description).toBe(gpu.context!.adapter.description);
    expect(JSON.parse(JSON.stringify(report))).toEqual(report);
    const run = report.seedRecipe!;
    expect([run.epochSecondsBeforePrune, run.epochSecondsAfterPrune, run.seconds].every(positive), JSON.stringify(run)).toBe(true);
    expect(run.epochs).toBe(4);
    expect(run.compactSeconds).toBeGreaterThanOrEqual(0);
    expect(run.testAccuracy).toBeGreaterThanOrEqual(0);
    expect(run.testAccuracy).toBeLessThanOrEqual(100);
    expect(run.totalWeights).toBe(32 * 16 + 16 * 4);
    expect(run.keptWeights).toBeLessThan(run.totalWeights);
    const text = formatTrainBench(report);
    expect(text).toContain('tfjs-webgpu');
    expect(text).toContain('default kernels, after 1 epochs');
    expect(text).toContain("one batch's dispatches alone, pruned");
    expect(text).toContain('seed recipe on the GPU (4 epochs');
    expect(progress.some((line) => line.startsWith('round 1/1'))).toBe(true);
  });
});
