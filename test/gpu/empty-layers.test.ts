/**
 * Networks with an empty first, middle or last layer on the GPU: every inference engine on the
 * network and on its compact forms (zero-width hidden layers, no inputs at all: matmuls with
 * K = 0 and nothing to compute for M or N = 0), the evaluation that `train` and `eval` run, and
 * the trainer with a layer emptied by its masks, each against the JS reference. The kernels on
 * these shapes are tested with poisoned outputs in matmul.test.ts and sparse.test.ts.
 *
 * Each engine first runs on NaN inputs, which leaves NaN in every logit a dense layer can reach,
 * so a logit the real run does not write stays NaN. Expected logits are exactly 0 (nothing
 * crosses an empty layer), so the comparison is exact; trainer tolerances as in trainer.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { compactInfer } from '../../src/cpu/sparse-forward';
import { CpuTrainer } from '../../src/cpu/trainer';
import { evaluateCpu, evaluateGpu } from '../../src/cli/evaluate';
import { createDenseInference } from '../../src/gpu/dense-inference';
import { createHybridInference } from '../../src/gpu/hybrid-inference';
import type { GpuInference } from '../../src/gpu/inference';
import { createSparseInference } from '../../src/gpu/sparse-inference';
import { GpuTrainer } from '../../src/gpu/trainer';
import { compactNetwork, type CompactNetwork } from '../../src/prune/structured';
import { emptyLayerName, networkWithEmptyLayer } from '../helpers/empty-layer';
import { expectClose } from '../helpers/expect-close';
import { testGpu } from '../helpers/gpu';
import { pixelData } from '../helpers/overflow';
import { expectSameCounts } from '../helpers/epoch-counts';

const gpu = await testGpu();

const SIZES = [12, 20, 16, 5];
const LAYERS = SIZES.length - 1;
const CLASSES = SIZES[LAYERS]!;

describe.skipIf(!gpu.context)(`networks with an empty layer on the GPU ${gpu.label}`, () => {
  const ctx = gpu.context!;
  const count = 70;
  const data = pixelData(count, SIZES[0]!, CLASSES, 3);

  for (let empty = 0; empty < LAYERS; empty++) {
    const name = emptyLayerName(empty, LAYERS);
    const net = networkWithEmptyLayer(SIZES, empty, 1);
    const models: [string, CompactNetwork][] = [
      ['network', { net, inputIndices: null, inputSize: SIZES[0]! }],
      ['compact', compactNetwork(net).compact],
      ['compact with inputs', compactNetwork(net, { dropInputs: false }).compact],
    ];

    it(`${name} layer empty: every engine gives the reference's logits of 0 on the network and its compact forms`, async () => {
      for (const [what, model] of models) {
        const engines: GpuInference[] = [
          await createDenseInference(ctx, model, { maxBatch: count }),
          await createDenseInference(ctx, model, { maxBatch: count, version: 2 }),
          await createSparseInference(ctx, model, { maxBatch: count }),
          await createHybridInference(ctx, model, { maxBatch: count }),
          await createHybridInference(ctx, model, { maxBatch: count, layerKernels: ['dense', 'sparse', 'dense'] }),
          await createHybridInference(ctx, model, { maxBatch: count, layerKernels: ['sparse', 'dense', 'sparse'] }),
        ];
        for (const engine of engines) {
          try {
            // Batch 1 (the evaluation's warm-up, and the few-rows matmul) and a whole batch.
            for (const batch of [1, count]) {
              const inputs = data.inputs.subarray(0, batch * SIZES[0]!);
              const expected = compactInfer(model, inputs, batch);
              await engine.infer(new Float32Array(inputs.length).fill(NaN), batch);
              const result = await engine.infer(inputs, batch);
              const shape = `${what} ${model.net.sizes.join('-')}, ${engine.name}, batch ${batch}`;
              expectClose(result.logits, expected.logits, { rel: 0, abs: 0 }, shape);
              expect(result.predictions, shape).toEqual(new Uint8Array(batch));
              expect(result.nonFinite, shape).toBe(0);
            }
          } finally {
            engine.dispose();
          }
        }
      }
    });

    it(`${name} layer empty: evaluateGpu, dense and sparse, scores it as the JS reference does`, async () => {
      const expected = evaluateCpu(net, data).correct;
      for (const sparse of [false, true]) {
        expect((await evaluateGpu(ctx, net, data, { sparse })).correct, sparse ? 'sparse' : 'dense').toBe(expected);
      }
    });

    it(`${name} layer empty: GpuTrainer trains like the JS reference, the empty layer stays empty`, async () => {
      const config = { batchSize: 10, confidence: 0.99 };
      const gpuTrainer = await GpuTrainer.create(ctx, net, data, config);
      const cpuTrainer = new CpuTrainer(net, data, config);
      try {
        for (let epoch = 0; epoch < 2; epoch++) {
          expectSameCounts(await gpuTrainer.trainEpoch(null, 0.01, 0.5), await cpuTrainer.trainEpoch(null, 0.01, 0.5), `epoch ${epoch}`);
        }
        const g = await gpuTrainer.state();
        const c = await cpuTrainer.state();
        c.net.weights.forEach((w, l) => {
          expectClose(g.net.weights[l]!, w, { rel: 1e-4, abs: 1e-6 }, `weights ${l}`);
          expectClose(g.velocities[l]!, c.velocities[l]!, { rel: 1e-4, abs: 1e-4 }, `velocities ${l}`);
        });
        expect(g.net.weights[empty]!.every((w) => Object.is(w, 0))).toBe(true);
      } finally {
        gpuTrainer.dispose();
      }
    });
  }
});
