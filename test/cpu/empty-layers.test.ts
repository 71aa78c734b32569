/**
 * A network with an empty layer on the JS reference: the forward pass, the dense and sparse
 * references and their compact forms all give logits of exactly 0 (prediction class 0), the
 * evaluation scores it, and the trainer trains around it.
 */
import { describe, expect, it } from 'vitest';
import { inferAll } from '../../src/cpu/forward';
import { compactInfer, csrLayers, denseInfer, sparseInfer } from '../../src/cpu/sparse-forward';
import { CpuTrainer } from '../../src/cpu/trainer';
import { evaluateCpu } from '../../src/cli/evaluate';
import { compactNetwork } from '../../src/prune/structured';
import { emptyLayerName, networkWithEmptyLayer } from '../helpers/empty-layer';
import { pixelData } from '../helpers/overflow';

const SIZES = [12, 20, 16, 5];
const CLASSES = SIZES[SIZES.length - 1]!;

describe('networks with an empty layer on the JS reference', () => {
  const count = 30;
  const data = pixelData(count, SIZES[0]!, CLASSES, 3);
  for (let empty = 0; empty < SIZES.length - 1; empty++) {
    const name = emptyLayerName(empty, SIZES.length - 1);
    const net = networkWithEmptyLayer(SIZES, empty, 1);

    it(`${name} layer empty: every reference predicts the constant class 0 from logits of exactly 0`, () => {
      const results = {
        forward: inferAll(net, data),
        dense: denseInfer(net, data.inputs, count),
        sparse: sparseInfer(csrLayers(net), data.inputs, count),
        ...Object.fromEntries(
          [true, false].flatMap((dropInputs) => {
            const { compact } = compactNetwork(net, { dropInputs });
            return [false, true].map((sparse) => [`compact ${dropInputs ? 'without inputs' : 'with inputs'} ${sparse ? 'sparse' : 'dense'}`, compactInfer(compact, data.inputs, count, sparse)]);
          }),
        ),
      };
      for (const [what, result] of Object.entries(results)) {
        expect([...result.logits], what).toEqual(Array(count * CLASSES).fill(0));
        expect([...result.predictions], what).toEqual(Array(count).fill(0));
        expect(result.nonFinite, what).toBe(0);
      }
    });

    it(`${name} layer empty: evaluateCpu scores the constant prediction`, () => {
      const zeros = data.labels.filter((label) => label === 0).length;
      expect(evaluateCpu(net, data)).toMatchObject({ correct: zeros, total: count });
    });

    it(`${name} layer empty: CpuTrainer trains, the empty layer stays empty`, async () => {
      const trainer = new CpuTrainer(net, data, { batchSize: 10, confidence: 0.99 });
      const result = await trainer.trainEpoch(null, 0.01, 0.5);
      expect(result).toMatchObject({ samples: count, nonFinite: 0 });
      expect(result.backpropagated).toBeGreaterThan(0);
      const { net: trained } = await trainer.state();
      expect(trained.weights[empty]!.every((w) => w === 0)).toBe(true);
      for (const w of trained.weights) expect(w.every(Number.isFinite)).toBe(true);
    });
  }
});
