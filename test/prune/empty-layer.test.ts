/**
 * Structured compaction of a network with an empty layer: nothing crosses it, so no neuron but
 * the outputs can reach the output. The compact network has zero-width hidden layers (and, when
 * inputs are dropped, no inputs): the valid shape of a constant predictor the engines must run.
 */
import { describe, expect, it } from 'vitest';
import { compactInfer } from '../../src/cpu/sparse-forward';
import { compactNetwork } from '../../src/prune/structured';
import { emptyLayerName, networkWithEmptyLayer } from '../helpers/empty-layer';
import { pixelData } from '../helpers/overflow';

const SIZES = [12, 20, 16, 5];

describe('compactNetwork of a network with an empty layer', () => {
  for (let empty = 0; empty < SIZES.length - 1; empty++) {
    it(`${emptyLayerName(empty, SIZES.length - 1)} layer empty: zero-width hidden layers, outputs kept`, () => {
      const net = networkWithEmptyLayer(SIZES, empty, 2);
      const dropped = compactNetwork(net);
      expect(dropped.compact.net.sizes).toEqual([0, 0, 0, 5]);
      expect(dropped.compact.inputIndices).toEqual(new Int32Array(0));
      expect(dropped.compact.net.weights.map((w) => w.length)).toEqual([0, 0, 0]);
      expect(dropped.report.weights.map((w) => w.weightsAfter)).toEqual([0, 0, 0]);
      expect(dropped.report.neurons.map((n) => n.neuronsAfter)).toEqual([0, 0, 0, 5]);

      const kept = compactNetwork(net, { dropInputs: false, keepHidden: { fraction: 0.5 } });
      expect(kept.compact.net.sizes).toEqual([12, 0, 0, 5]);
      expect(kept.compact.inputIndices).toBeNull();
      expect(kept.report.neurons.map((n) => n.removedAsWeakest)).toEqual([0, 0, 0, 0]);

      const data = pixelData(7, 12, 5, 3);
      for (const { compact } of [dropped, kept]) {
        expect([...compactInfer(compact, data.inputs, 7, true).logits]).toEqual(Array(35).fill(0));
      }
    });
  }
});
