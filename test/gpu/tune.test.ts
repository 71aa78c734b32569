/**
 * `tune` on a small network: it picks only variants the kernel tests cover, and the engines and
 * the trainer run what a tuning says, non-default choices included, and still match the JS
 * reference (same tolerances as sparse.test.ts and trainer.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { CpuTrainer } from '../../src/cpu/trainer';
import { csrLayers, denseInfer, sparseInfer } from '../../src/cpu/sparse-forward';
import { chooseLayerKernel } from '../../src/gpu/cost-model';
import { createDenseInference } from '../../src/gpu/dense-inference';
import type { GpuContext } from '../../src/gpu/device';
import { createHybridInference } from '../../src/gpu/hybrid-inference';
import { matmulDescriptorOf, matmulKernel, matmulVariants, matmulVersionFor, MATMUL_V4, subgroupSize } from '../../src/gpu/kernels';
import { createSparseInference } from '../../src/gpu/sparse-inference';
import { sparseKernelChooser, SPARSE_V1, SPARSE_VARIANTS } from '../../src/gpu/sparse-kernels';
import { SPARSE_TRAINING_VARIANTS } from '../../src/gpu/sparse-training-kernels';
import { GpuTrainer, layerKernelsFor } from '../../src/gpu/trainer';
import { tune, type TuneSettings } from '../../src/gpu/tune';
import { checkCovered, parseTuning } from '../../src/gpu/tuning-cache';
import { DEFAULT_TUNING, describeGeometry, type Tuning } from '../../src/gpu/tuning';
import { initNetwork } from '../../src/model/network';
import { pruneToSparsity } from '../../src/prune/unstructured';
import { expectClose } from '../helpers/expect-close';
import { testGpu } from '../helpers/gpu';
import { mulberry32, randomFloats } from '../helpers/random';
import { expectSameCounts } from '../helpers/epoch-counts';

const gpu = await testGpu();

/** Small enough for a software adapter in a few seconds, with batches either side of every default threshold. */
const SMALL: TuneSettings = {
  sizes: [40, 12, 5],
  trainBatch: 30,
  fewRows: [1, 8, 32],
  sparseBatches: [1, 16, 64],
  inferBatches: [1, 70],
  density: 0.3,
  trainingDensities: [0.1, 0.6],
  repeats: 1,
  kernelTimingMs: 1,
};

/** Every choice away from the defaults: v2 for full tiles, v4 up to 16 rows, v1 below 50 samples, then v2, and the other geometry of each (the sparse training kernels' too). */
const FORCED: Tuning = {
  ...DEFAULT_TUNING,
  fullTileMatmul: 2,
  fewRowsMaxM: { 2: 16, 3: 16 },
  sparseV1Below: 50,
  sparseWide: 2,
  geometry: {
    matmul_v2: matmulVariants(2, 0)[1]!.geometry,
    matmul_v4: matmulVariants(4, 0)[1]!.geometry,
    sparse_v1: SPARSE_VARIANTS[1][1]!.geometry,
    sparse_v2: SPARSE_VARIANTS[2][1]!.geometry,
    sparse_train_forward: SPARSE_TRAINING_VARIANTS.forward[1].geometry,
    sparse_train_input_grad: SPARSE_TRAINING_VARIANTS.inputGrad[1].geometry,
    sparse_train_weight_grad: SPARSE_TRAINING_VARIANTS.weightGrad[1].geometry,
  },
};

async function withTuning<T>(ctx: GpuContext, tuning: Tuning, body: () => Promise<T>): Promise<T> {
  const before = ctx.tuning;
  ctx.tuning = tuning;
  try {
    return await body();
  } finally {
    ctx.tuning = before;
  }
}

describe.skipIf(!gpu.context)(`tune ${gpu.label}`, () => {
  const ctx = gpu.context!;

  it('picks only covered variants, and its table names the choices it made', async () => {
    const lines: string[] = [];
    const result = await tune(ctx, SMALL, (line) => lines.push(line));
    const { tuning } = result;
    expect(() => checkCovered(ctx, tuning)).not.toThrow();
    expect(parseTuning(JSON.parse(JSON.stringify(tuning)))).toEqual(tuning);
    for (const decision of result.decisions) {
      if (decision.candidates.length === 0) continue;
      const labels = decision.candidates.map((c) => c.label);
      expect(labels, decision.choice).toContain(decision.tuned);
      expect(labels, decision.choice).toContain(decision.default);
      expect(decision.defaultOverTuned, decision.choice).toBeGreaterThanOrEqual(1 / 1.05);
    }
    const tuned = (choice: string): string => result.decisions.find((d) => d.choice === choice)!.tuned;
    expect(tuning.sparseV1Below).toBe(Number(tuned('sparseV1Below')));
    expect(SMALL.sparseBatches.concat([65, DEFAULT_TUNING.sparseV1Below])).toContain(tuning.sparseV1Below);
    const fullTileKey = subgroupSize(ctx) > 0 ? tuning.fullTileMatmul : 2;
    expect(tuning.fewRowsMaxM[fullTileKey]).toBe(Number(tuned(`fewRowsMaxM[${fullTileKey}]`)));
    // One input width (40) is measured: the threshold moves only to put it on the faster side.
    expect([DEFAULT_TUNING.sampleMajorMaxFeatures, 39]).toContain(tuning.sampleMajorMaxFeatures);
    expect(tuning.sparseTrainingBelow).toBe(Number(tuned('sparseTrainingBelow')));
    expect([0, ...SMALL.trainingDensities, 1, DEFAULT_TUNING.sparseTrainingBelow]).toContain(tuning.sparseTrainingBelow);
    // sparse_unrolled's training form: timed on each layer below the default crossover (both at 10% kept), against sparse_train_forward.
    expect(result.cases.filter((c) => c.kernel.startsWith('sparse_unrolled') && c.shape.startsWith(`${SMALL.trainBatch}x`))).toHaveLength(SMALL.sizes.length - 1);
    expect(tuning.unrolledTrainingForward).toBe(tuned('unrolledTrainingForward') === 'true');
    // The sparse training kernels' geometries are measured too; one other than the default goes into the tuning.
    for (const variants of Object.values(SPARSE_TRAINING_VARIANTS)) {
      const own = variants[0];
      const decision = result.decisions.find((d) => d.choice === `${own.name} geometry`)!;
      const labels = variants.map((v) => `${v.name} (${describeGeometry(v.geometry)})`);
      expect(decision.candidates.map((c) => c.label), own.name).toEqual(labels);
      const picked = variants[labels.indexOf(decision.tuned)]!;
      expect(tuning.geometry[own.name], own.name).toEqual(picked === own ? undefined : picked.geometry);
    }
    // sparse_unrolled is timed on each layer written into its program, and costed against the full-tile matmul.
    const unrolledCases = result.cases.filter((c) => c.kernel.startsWith('sparse_unrolled'));
    expect(unrolledCases.filter((c) => !c.shape.startsWith(`${SMALL.trainBatch}x`))).toHaveLength(SMALL.inferBatches.length * (SMALL.sizes.length - 1));
    expect(Number(tuned('costs.sparse_unrolled').replace(' (not used)', ''))).toBeGreaterThan(0);
    expect(tuning.costs.sparse_unrolled === undefined).toBe(tuned('costs') === 'default costs');
    expect(result.cases.every((c) => c.ms > 0)).toBe(true);
    expect(lines.some((line) => line.startsWith('round'))).toBe(true);
    expect(lines.some((line) => /^first run of \d+ cases$/.test(line))).toBe(true);
  });

  it('runs a forced non-default tuning: the kernels it names, matching the JS reference', async () => {
    await withTuning(ctx, FORCED, async () => {
      expect(matmulVersionFor(ctx, { m: 16, k: 40, n: 12 })).toBe(4);
      expect(matmulVersionFor(ctx, { m: 17, k: 40, n: 12 })).toBe(2);
      expect(matmulDescriptorOf(ctx, 4).geometry).toEqual(FORCED.geometry.matmul_v4);
      // The dispatch follows the geometry: v2 with 8×8-invocation workgroups has 64-row tiles.
      expect((await matmulKernel(ctx, { m: 130, k: 40, n: 12 })).workgroups).toEqual([1, 3, 1]);
      const chooser = sparseKernelChooser(ctx, 'auto');
      expect([chooser(49).name, chooser(49).geometry]).toEqual(['sparse_v1', FORCED.geometry.sparse_v1]);
      expect([chooser(50).name, chooser(50).geometry]).toEqual(['sparse_v2', FORCED.geometry.sparse_v2]);

      const net = initNetwork([40, 12, 5], 3);
      pruneToSparsity(net, 0.7, 'layer');
      const engines = [
        await createDenseInference(ctx, net, { maxBatch: 130 }),
        await createSparseInference(ctx, net, { maxBatch: 130 }),
        await createHybridInference(ctx, net, { maxBatch: 130 }),
      ];
      expect(engines.map((e) => e.name)).toEqual(['dense matmul_auto(v4|v2)', 'sparse_auto(v1|v2)', 'hybrid(sparse_auto(v1|v2)|matmul_auto(v4|v2)|sparse_unrolled)']);
      for (const count of [5, 49, 130]) {
        const inputs = randomFloats(mulberry32(count), count * 40, 0, 1);
        const expected = sparseInfer(csrLayers(net), inputs, count);
        expectClose(denseInfer(net, inputs, count).logits, expected.logits, { rel: 1e-4, abs: 1e-5 }, `references, batch ${count}`);
        for (const engine of engines) expectClose((await engine.infer(inputs, count)).logits, expected.logits, { rel: 1e-4, abs: 1e-5 }, `${engine.name} batch ${count}`);
      }
      for (const engine of engines) engine.dispose();
    });
  });

  it('leaves the dense engine out of the CSR choices: a CSR geometry no test covers stops only the engines that run it', async () => {
    await withTuning(ctx, { ...DEFAULT_TUNING, geometry: { sparse_v1: { WG: 3 } } }, async () => {
      const net = initNetwork([40, 12, 5], 3);
      const dense = await createDenseInference(ctx, net, { maxBatch: 8 });
      const inputs = randomFloats(mulberry32(8), 8 * 40, 0, 1);
      expectClose((await dense.infer(inputs, 8)).logits, denseInfer(net, inputs, 8).logits, { rel: 1e-4, abs: 1e-5 }, 'dense');
      dense.dispose();
      await expect(async () => createSparseInference(ctx, net, { maxBatch: 8 })).rejects.toThrow(/the geometry WG 3, which is not one the kernel tests cover/);
    });
  });

  it('trains with a forced non-default tuning as the JS reference does (each sparse training geometry)', async () => {
    const wideTraining: Tuning = {
      ...FORCED,
      geometry: {
        ...FORCED.geometry,
        sparse_train_forward: SPARSE_TRAINING_VARIANTS.forward[2].geometry,
        sparse_train_input_grad: SPARSE_TRAINING_VARIANTS.inputGrad[2].geometry,
        sparse_train_weight_grad: SPARSE_TRAINING_VARIANTS.weightGrad[2].geometry,
      },
    };
    for (const tuning of [FORCED, wideTraining]) {
      await withTuning(ctx, tuning, async () => {
        const [features, classes, count] = [37, 5, 60];
        const random = mulberry32(4);
        const train = {
          source: 'synthetic',
          count,
          features,
          classes,
          inputs: randomFloats(random, count * features, 0, 1),
          labels: Uint8Array.from({ length: count }, () => Math.floor(random() * classes)),
        };
        const config = { batchSize: 13, confidence: 0.99 };
        for (const layerKernels of ['dense', 'sparse'] as const) {
          const gpuTrainer = await GpuTrainer.create(ctx, initNetwork([features, 19, classes], 1), train, config, undefined, { layerKernels });
          const cpuTrainer = new CpuTrainer(initNetwork([features, 19, classes], 1), train, config);
          try {
            for (let epoch = 0; epoch < 2; epoch++) {
              expectSameCounts(await gpuTrainer.trainEpoch(null, 0.0005, 0.67), await cpuTrainer.trainEpoch(null, 0.0005, 0.67), `${layerKernels} epoch`);
            }
            const [g, c] = [await gpuTrainer.state(), await cpuTrainer.state()];
            c.net.weights.forEach((w, l) => expectClose(g.net.weights[l]!, w, { rel: 1e-4, abs: 1e-6 }, `${layerKernels} weights ${l}`));
          } finally {
            gpuTrainer.dispose();
          }
        }
      });
    }
  });

  it('the trainer runs a layer sparse below the tuning’s density (sparseTrainingBelow), and as told', async () => {
    const masks = [0.1, 0.5, 1].map((density) => Uint8Array.from({ length: 100 }, (_, k) => (k < density * 100 ? 1 : 0)));
    await withTuning(ctx, { ...DEFAULT_TUNING, sparseTrainingBelow: 0.5 }, async () => {
      expect(layerKernelsFor(ctx, masks)).toEqual(['sparse', 'dense', 'dense']);
      expect(layerKernelsFor(ctx, masks, 'sparse')).toEqual(['sparse', 'sparse', 'sparse']);
      expect(layerKernelsFor(ctx, masks, 'dense')).toEqual(['dense', 'dense', 'dense']);
    });
    await withTuning(ctx, { ...DEFAULT_TUNING, sparseTrainingBelow: 0 }, async () => {
      expect(layerKernelsFor(ctx, masks)).toEqual(['dense', 'dense', 'dense']);
    });
  });

  it('refuses a geometry the kernel tests do not cover', async () => {
    const uncovered: Tuning = { ...DEFAULT_TUNING, geometry: { matmul_v4: { V4_WG: 16, V4_ROWS: 2 } } };
    expect(() => checkCovered(ctx, uncovered)).toThrow(/matmul_v4 .*V4_WG 16 V4_ROWS 2.*not one the kernel tests cover/);
    expect(() => checkCovered(ctx, FORCED)).not.toThrow();
    const uncoveredTraining: Tuning = { ...DEFAULT_TUNING, geometry: { sparse_train_forward: { WG: 16, ROWS: 9 } } };
    expect(() => checkCovered(ctx, uncoveredTraining)).toThrow(/sparse_train_forward .*WG 16 ROWS 9.*not one the kernel tests cover/);
    await withTuning(ctx, uncovered, async () => {
      expect(() => matmulKernel(ctx, { m: 1, k: 4, n: 4 }, 4)).toThrow(/not one the kernel tests cover/);
    });
  });
});

describe('the cost model reads the costs it is given', () => {
  it('a layer runs sparse at default costs and dense when CSR costs 100× more', () => {
    const layer = { inSize: 100, outSize: 100, nonzeros: 1000 };
    const kernels = { dense: MATMUL_V4, sparse: SPARSE_V1 };
    expect(chooseLayerKernel(layer, 1, kernels)).toBe('sparse');
    expect(chooseLayerKernel(layer, 1, kernels, { ...DEFAULT_TUNING.costs, sparse_v1: 600 })).toBe('dense');
  });
});
