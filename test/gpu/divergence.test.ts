/**
 * Divergence on the GPU: every inference engine and the trainer see the same overflowing samples
 * as the JS reference (test/helpers/overflow.ts), ReLU passes their NaN on to the logits instead
 * of clearing it, the trainer counts them in softmax_grad and learns nothing from them, and
 * evaluation refuses to score them.
 *
 * Tolerance: finite logits rel 1e-4, abs 1e-5 (float32 sums in another order than the float64
 * reference); non-finite logits exactly (NaN for NaN). Trainer states as in trainer.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { denseInfer } from '../../src/cpu/sparse-forward';
import { CpuTrainer } from '../../src/cpu/trainer';
import { evaluateGpu } from '../../src/cli/evaluate';
import { subgroupSize } from '../../src/gpu/kernels';
import { createDenseInference } from '../../src/gpu/dense-inference';
import { createHybridInference } from '../../src/gpu/hybrid-inference';
import type { GpuInference } from '../../src/gpu/inference';
import { createSparseInference } from '../../src/gpu/sparse-inference';
import { GpuTrainer } from '../../src/gpu/trainer';
import { initNetwork } from '../../src/model/network';
import { UserError } from '../../src/util/errors';
import { expectClose } from '../helpers/expect-close';
import { testGpu } from '../helpers/gpu';
import { overflowingCount, overflowingData, overflowingNetwork, pixelData } from '../helpers/overflow';
import { expectSameCounts } from '../helpers/epoch-counts';

const gpu = await testGpu();

const SIZES = [12, 24, 16, 5];
const CLASSES = SIZES[SIZES.length - 1]!;

describe.skipIf(!gpu.context)(`non-finite outputs on the GPU ${gpu.label}`, () => {
  const ctx = gpu.context!;
  const net = overflowingNetwork(SIZES, 2);
  const count = 40;
  const data = overflowingData(count, SIZES[0]!, CLASSES, 3, 4);
  const reference = denseInfer(net, data.inputs, count);

  const engines: [string, () => Promise<GpuInference>][] = [
    ...([1, 2, 4] as const).map((version): [string, () => Promise<GpuInference>] => [`dense v${version}`, () => createDenseInference(ctx, net, { maxBatch: count, version })]),
    ...([1, 2] as const).map((version): [string, () => Promise<GpuInference>] => [`sparse v${version}`, () => createSparseInference(ctx, net, { maxBatch: count, version })]),
    ['hybrid sparse|dense|sparse', () => createHybridInference(ctx, net, { maxBatch: count, layerKernels: ['sparse', 'dense', 'sparse'] })],
    ['hybrid dense|sparse|dense', () => createHybridInference(ctx, net, { maxBatch: count, layerKernels: ['dense', 'sparse', 'dense'] })],
  ];
  // Collected even when the suite is skipped, with no context.
  if (gpu.context && subgroupSize(gpu.context) > 0) {
    engines.push(['dense v3', () => createDenseInference(ctx, net, { maxBatch: count, version: 3 })]);
    engines.push(['sparse v3', () => createSparseInference(ctx, net, { maxBatch: count, version: 3 })]);
  }

  it('the reference overflows on the samples it should', () => {
    expect(reference.nonFinite).toBe(overflowingCount(count, 3));
  });

  for (const [name, create] of engines) {
    it(`${name}: the same non-finite logits as the reference, NaN passed through ReLU`, async () => {
      const engine = await create();
      try {
        // A run on NaN inputs first leaves NaN in every logit: what the next run does not write stays NaN.
        const poisoned = await engine.infer(new Float32Array(count * SIZES[0]!).fill(NaN), count);
        expect(poisoned.nonFinite).toBe(count);
        const result = await engine.infer(data.inputs, count);
        expectClose(result.logits, reference.logits, { rel: 1e-4, abs: 1e-5 }, `${name} logits [${count}x${CLASSES}]`);
        expect(result.nonFinite).toBe(reference.nonFinite);
        expect(result.predictions).toEqual(reference.predictions);
      } finally {
        engine.dispose();
      }
    });
  }

  for (const sparse of [false, true]) {
    it(`evaluateGpu (${sparse ? 'sparse' : 'dense'}) refuses to score overflowing outputs, in one line`, async () => {
      const test = overflowingData(10, SIZES[0]!, CLASSES, 3, 5);
      const failure = evaluateGpu(ctx, net, test, { sparse });
      await expect(failure).rejects.toThrow(UserError);
      await expect(evaluateGpu(ctx, net, test, { sparse })).rejects.toThrow(
        /^the network's outputs are not finite for 4 of 10 test samples \(its activations overflow float32\)$/,
      );
      expect((await evaluateGpu(ctx, initNetwork(SIZES, 2), test, { sparse })).total).toBe(10);
    });
  }

  it('GpuTrainer counts overflowing samples like the JS reference and learns nothing from them', async () => {
    const train = overflowingData(60, SIZES[0]!, CLASSES, 4, 6);
    const config = { batchSize: 20, confidence: 0.99 };
    const gpuTrainer = await GpuTrainer.create(ctx, overflowingNetwork(SIZES, 2), train, config);
    const cpuTrainer = new CpuTrainer(overflowingNetwork(SIZES, 2), train, config);
    try {
      for (let epoch = 0; epoch < 2; epoch++) {
        const got = await gpuTrainer.trainEpoch(null, 0.01, 0.5);
        expectSameCounts(got, await cpuTrainer.trainEpoch(null, 0.01, 0.5), `epoch ${epoch}`);
        expect(got.nonFinite).toBe(overflowingCount(60, 4));
      }
      const g = await gpuTrainer.state();
      const c = await cpuTrainer.state();
      c.net.weights.forEach((w, l) => {
        expectClose(g.net.weights[l]!, w, { rel: 1e-4, abs: 1e-6 }, `weights ${l}`);
        expectClose(g.velocities[l]!, c.velocities[l]!, { rel: 1e-4, abs: 1e-4 }, `velocities ${l}`);
      });
    } finally {
      gpuTrainer.dispose();
    }
  });

  it('GpuTrainer: a huge learning rate makes the next batches overflow, and the epoch says so', async () => {
    const train = pixelData(60, SIZES[0]!, CLASSES, 7);
    const trainer = await GpuTrainer.create(ctx, initNetwork(SIZES, 3), train, { batchSize: 10, confidence: 0.99 });
    try {
      const result = await trainer.trainEpoch(null, 1e30, 0.5);
      expect(result.nonFinite).toBeGreaterThan(0);
      expect(result.nonFinite).toBeLessThanOrEqual(50);
    } finally {
      trainer.dispose();
    }
  });
});
