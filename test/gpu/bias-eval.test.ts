/**
 * What `eval --backend gpu` (dense, and `--sparse`) and the validation runs of `train` compute,
 * on networks with biases: the same counts and mean loss as the JS reference (`evaluateCpu`), on
 * a pruned network, on its compact form (biases folded from constant neurons) and on a network
 * whose biases alone decide (every weight pruned). Labels are the reference's own predictions
 * for half the samples, so a wrong bias shows as a lost count rather than a change at chance.
 */
import { describe, expect, it } from 'vitest';
import { inferAll } from '../../src/cpu/forward';
import { evaluateCpu, evaluateGpu } from '../../src/cli/evaluate';
import type { Dataset } from '../../src/data/dataset';
import { initNetwork, type Network } from '../../src/model/network';
import { compactNetwork } from '../../src/prune/structured';
import { pruneToSparsity } from '../../src/prune/unstructured';
import { testGpu } from '../helpers/gpu';
import { mulberry32, randomFloats } from '../helpers/random';

const gpu = await testGpu();

function biasedNetwork(sizes: number[], sparsity: number, seed: number): Network {
  const net = initNetwork(sizes, seed, true);
  const random = mulberry32(seed);
  net.biases = sizes.slice(1).map((out) => randomFloats(random, out, -0.5, 0.5));
  pruneToSparsity(net, sparsity, 'layer');
  return net;
}

function labelledData(net: Network, count: number, seed: number): Dataset {
  const random = mulberry32(seed);
  const features = net.sizes[0]!;
  const classes = net.sizes[net.sizes.length - 1]!;
  const inputs = randomFloats(random, count * features, 0, 1);
  const labels = new Uint8Array(count);
  const data: Dataset = { source: 'random', count, features, inputs, labels, classes };
  const { predictions } = inferAll(net, data);
  for (let s = 0; s < count; s++) labels[s] = s % 2 === 0 ? predictions[s]! : Math.floor(random() * classes);
  return data;
}

describe.skipIf(!gpu.context)(`eval on the GPU of networks with biases ${gpu.label}`, () => {
  const ctx = gpu.context!;

  it.each([
    ['a pruned network', 0.8],
    ['a network with every weight pruned (the biases alone)', 1],
  ])('%s: dense and sparse count and score what the JS reference does', async (_, sparsity) => {
    const net = biasedNetwork([50, 24, 16, 5], sparsity, 7);
    const data = labelledData(net, 257, 3);
    const cpu = evaluateCpu(net, data);
    const models = [net, compactNetwork(net).compact];
    for (const model of models) {
      for (const sparse of [false, true]) {
        const result = await evaluateGpu(ctx, model, data, { sparse });
        const what = `${result.kernel} on ${model === net ? 'the network' : 'its compact form'}`;
        expect(result.correct, what).toBe(cpu.correct);
        expect(Math.abs(result.loss - cpu.loss), what).toBeLessThan(1e-5);
      }
    }
  });
});
