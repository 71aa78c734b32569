/**
 * GpuTrainer against the JS reference trainer (CpuTrainer) from the same initial network: the
 * same epochs in file order and shuffled, a pruning step in between, then the same counters and
 * the same weights and velocities.
 *
 * Tolerance: counters exactly; weights and velocities rel 1e-4 with abs 1e-4 for velocities and
 * 1e-6 for weights. The two trainers sum the same products in different orders (the CPU per
 * sample, the GPU per batch), so each step differs by float32 rounding of sums of `batch`
 * products, about 2⁻²⁴·√batch·(sum magnitude); velocities are batch sums of order 1–10 that
 * partly cancel, so their elements near 0 need the absolute term; weights move by lr·v per step,
 * 5e-4 times smaller.
 *
 * Adam and AdamW train from the batch's mean gradient: their first moments are compared like the
 * velocities, the second moments (squares of gradients of order 1e-2) with abs 1e-7. Adam's step
 * is about lr·sign(g) wherever |g| ≫ ε, so a gradient whose batch sum cancels down to float32
 * summation noise could step either way on the two backends; these inputs have none.
 *
 * Biased networks (`bias`), every update rule: the biases and their state are compared like the
 * weights and theirs (a bias velocity is a batch sum of output gradients, as a weight's is). The
 * GPU trainer is rebuilt from its own state() halfway, so the biases and their optimizer state
 * make the round trip through state() and the upload a resumed run starts from.
 */
import { describe, expect, it } from 'vitest';
import { CpuTrainer } from '../../src/cpu/trainer';
import type { Dataset } from '../../src/data/dataset';
import type { GpuContext } from '../../src/gpu/device';
import { GpuTrainer, type GpuTrainerOptions } from '../../src/gpu/trainer';
import { applyMasks, initNetwork } from '../../src/model/network';
import type { Trainer, TrainConfig } from '../../src/train/trainer';
import { expectSameCounts } from '../helpers/epoch-counts';
import { expectClose } from '../helpers/expect-close';
import { testGpu } from '../helpers/gpu';
import { mulberry32, randomMask } from '../helpers/random';

const gpu = await testGpu();

/** MNIST-like inputs: values in [0, 1), about half exactly 0, as pixels are. */
function syntheticDataset(count: number, features: number, classes: number, seed: number): Dataset {
  const random = mulberry32(seed);
  const inputs = new Float32Array(count * features);
  for (let i = 0; i < inputs.length; i++) inputs[i] = random() < 0.5 ? 0 : random();
  const labels = Uint8Array.from({ length: count }, () => Math.floor(random() * classes));
  return { source: 'synthetic', count, features, inputs, labels, classes };
}

function shuffled(n: number, seed: number): Uint32Array {
  const random = mulberry32(seed);
  const order = Uint32Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}

/** A parameter's value, first and second state on the two trainers, compared with the tolerances above. */
function compareParameters(when: string, got: Float32Array[][], want: Float32Array[][]): void {
  const [values, firsts, seconds] = want;
  values!.forEach((value, l) => {
    expectClose(got[0]![l]!, value, { rel: 1e-4, abs: 1e-6 }, `${when} ${l}`);
    expectClose(got[1]![l]!, firsts![l]!, { rel: 1e-4, abs: 1e-4 }, `${when} ${l}: velocities`);
    if (seconds!.length > 0) expectClose(got[2]![l]!, seconds![l]!, { rel: 1e-4, abs: 1e-7 }, `${when} ${l}: second moments`);
  });
}

async function compareStates(gpuTrainer: Trainer, cpuTrainer: Trainer, when: string): Promise<void> {
  const g = await gpuTrainer.state();
  const c = await cpuTrainer.state();
  expect(g.steps, `${when}: steps`).toBe(c.steps);
  expect(g.secondMoments).toHaveLength(c.secondMoments.length);
  compareParameters(`${when}: weights`, [g.net.weights, g.velocities, g.secondMoments], [c.net.weights, c.velocities, c.secondMoments]);
  c.net.masks.forEach((mask, l) => expect(g.net.masks[l]).toEqual(mask));
  if (!c.net.biases) {
    expect(g.net.biases, `${when}: biases`).toBeUndefined();
    return;
  }
  expect(g.biasSecondMoments).toHaveLength(c.biasSecondMoments!.length);
  compareParameters(`${when}: biases`, [g.net.biases!, g.biasVelocities!, g.biasSecondMoments!], [c.net.biases, c.biasVelocities!, c.biasSecondMoments!]);
}

/** The seed's first three epochs: lr and momentum ×0.99 each. */
const SEED_RATES: [number, number][] = [
  [0.0005, 0.67],
  [0.000495, 0.6633],
  [0.00049, 0.6566],
];

/** Adam's learning rates for three epochs (momentum unused). */
const ADAM_RATES: [number, number][] = [
  [0.001, 0],
  [0.002, 0],
  [0.0005, 0],
];

/**
 * Both trainers through three epochs. `options.layerKernels` picks the GPU's kernels; with
 * `prunedAtStart` the network starts with a quarter of its weights kept (and pruned further
 * after the second epoch), so a sparse layer's index is built from a pruned mask.
 */
async function trainBoth(
  ctx: GpuContext,
  sizes: number[],
  count: number,
  config: TrainConfig,
  rates = SEED_RATES,
  bias = false,
  options: GpuTrainerOptions & { prunedAtStart?: boolean } = {},
): Promise<void> {
  const train = syntheticDataset(count, sizes[0]!, sizes[sizes.length - 1]!, count);
  const start = initNetwork(sizes, 1, bias);
  if (options.prunedAtStart) {
    start.masks = start.weights.map((w, l) => randomMask(mulberry32(l + 23), w.length, 0.25));
    applyMasks(start);
  }
  const gpuOptions: GpuTrainerOptions = { layerKernels: options.layerKernels ?? 'auto' };
  let gpuTrainer = await GpuTrainer.create(ctx, start, train, config, undefined, gpuOptions);
  if (options.layerKernels) expect(gpuTrainer.layerKernels).toEqual(sizes.slice(1).map(() => options.layerKernels));
  const cpuTrainer = new CpuTrainer(start, train, config);
  try {
    const orders = [null, shuffled(count, 7), null];
    for (const [e, [lr, momentum]] of rates.entries()) {
      const order = orders[e]!;
      if (bias && e === 1) {
        const state = await gpuTrainer.state();
        gpuTrainer.dispose();
        gpuTrainer = await GpuTrainer.create(ctx, state.net, train, config, state, gpuOptions);
      }
      if (e === 2) {
        // Prune as the recipe does, then check pruned weights stay exactly 0 while training goes on.
        const masks = (await cpuTrainer.state()).net.masks.map((m, l) => randomMask(mulberry32(l + 11), m.length, 0.3).map((keep, k) => keep & m[k]!));
        await gpuTrainer.setMasks(masks);
        await cpuTrainer.setMasks(masks);
      }
      const got = await gpuTrainer.trainEpoch(order, lr, momentum);
      const want = await cpuTrainer.trainEpoch(order, lr, momentum);
      expectSameCounts(got, want, `epoch ${e} counters`);
      await compareStates(gpuTrainer, cpuTrainer, `after epoch ${e}`);
    }
    const { net, velocities, secondMoments } = await gpuTrainer.state();
    net.masks.forEach((mask, l) => {
      for (let i = 0; i < mask.length; i++) {
        const state = [net.weights[l]![i], velocities[l]![i], ...(secondMoments.length > 0 ? [secondMoments[l]![i]] : [])];
        if (!mask[i] && !state.every((x) => Object.is(x, 0))) throw new Error(`layer ${l} pruned weight ${i} has state ${state.join(', ')}`);
      }
    });
  } finally {
    gpuTrainer.dispose();
  }
}

describe.skipIf(!gpu.context)(`GpuTrainer vs CpuTrainer ${gpu.label}`, () => {
  const ctx = gpu.context!;

  it('784-100-100-10, batch 100, 3 epochs (file order, shuffled, pruned) with a partial batch left over', async () => {
    await trainBoth(ctx, [784, 100, 100, 10], 537, { batchSize: 100, confidence: 0.99 });
  });

  it('odd sizes 37-19-5, batch 13, confidence 0.3 (some samples not backpropagated)', async () => {
    await trainBoth(ctx, [37, 19, 5], 100, { batchSize: 13, confidence: 0.3 });
  });

  for (const kind of ['adam', 'adamw'] as const) {
    it(`${kind} with weight decay: 37-19-5, batch 13, 3 epochs of 7 batches (file order, shuffled, pruned)`, async () => {
      const updateRule = { kind, weightDecay: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8 };
      await trainBoth(ctx, [37, 19, 5], 100, { batchSize: 13, confidence: 0.99, updateRule }, ADAM_RATES);
    });
  }

  const BIASED_RULES: [string, TrainConfig['updateRule'], [number, number][]][] = [
    ['seed', undefined, SEED_RATES],
    ['sgd', { kind: 'sgd', weightDecay: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8 }, [[0.05, 0], [0.04, 0], [0.03, 0]]],
    ['momentum', { kind: 'momentum', weightDecay: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8 }, [[0.02, 0.9], [0.02, 0.9], [0.01, 0.8]]],
    ['adam', { kind: 'adam', weightDecay: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8 }, ADAM_RATES],
    ['adamw', { kind: 'adamw', weightDecay: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8 }, ADAM_RATES],
  ];
  for (const [name, updateRule, rates] of BIASED_RULES) {
    it(`biases, ${name}: 37-19-5, batch 13, confidence 0.7, 3 epochs (file order, shuffled after a rebuild from state(), pruned)`, async () => {
      await trainBoth(ctx, [37, 19, 5], 100, { batchSize: 13, confidence: 0.7, updateRule }, rates, true);
    });
  }

  it('sparse layers on a pruned network: 784-100-100-10, batch 100, 3 epochs (file order, shuffled, pruned further)', async () => {
    await trainBoth(ctx, [784, 100, 100, 10], 537, { batchSize: 100, confidence: 0.99 }, SEED_RATES, false, { layerKernels: 'sparse', prunedAtStart: true });
  });

  for (const [name, updateRule, rates] of BIASED_RULES) {
    it(`sparse layers on a pruned network with biases, ${name}: 37-19-5, batch 13, confidence 0.7, 3 epochs (file order, shuffled after a rebuild, pruned further)`, async () => {
      await trainBoth(ctx, [37, 19, 5], 100, { batchSize: 13, confidence: 0.7, updateRule }, rates, true, { layerKernels: 'sparse', prunedAtStart: true });
    });
  }

  it('sparse layers, no sample backpropagated (confidence 0)', async () => {
    await trainBoth(ctx, [37, 19, 5], 100, { batchSize: 13, confidence: 0 }, SEED_RATES, false, { layerKernels: 'sparse', prunedAtStart: true });
  });

  it('refuses masks that keep more weights than a sparse layer was made for', async () => {
    const train = syntheticDataset(20, 7, 3, 1);
    const net = initNetwork([7, 5, 3], 1);
    net.masks = net.weights.map((w, l) => randomMask(mulberry32(l), w.length, 0.5));
    applyMasks(net);
    const trainer = await GpuTrainer.create(ctx, net, train, { batchSize: 10, confidence: 0.99 }, undefined, { layerKernels: 'sparse' });
    try {
      await expect(trainer.setMasks(net.masks.map((m) => m.map(() => 1)))).rejects.toThrow(/keep 35 weights of sparse layer 0, which was made for at most \d+/);
    } finally {
      trainer.dispose();
    }
  });

  it('no sample backpropagated (confidence 0): the backward pass runs no workgroup, as the reference does nothing', async () => {
    await trainBoth(ctx, [37, 19, 5], 100, { batchSize: 13, confidence: 0 });
  });

  for (const bias of [false, true]) {
    it(`a pre-trained network${bias ? ' with biases' : ''} where most samples are skipped: 37-19-5, batch 300 (dense or sparse layers), file order and shuffled`, async () => {
      // Labels the network can learn: the class whose block of 7 inputs sums highest.
      const [count, sizes] = [900, [37, 19, 5]];
      const train = syntheticDataset(count, 37, 5, 3);
      train.labels = Uint8Array.from({ length: count }, (_, s) => {
        const sums = Array.from({ length: 5 }, (_, c) => train.inputs.subarray(s * 37 + 7 * c, s * 37 + 7 * c + 7).reduce((a, b) => a + b, 0));
        return sums.indexOf(Math.max(...sums));
      });
      const config: TrainConfig = { batchSize: 300, confidence: 0.9 };
      const pretraining = new CpuTrainer(initNetwork(sizes, 1, bias), train, config);
      for (let e = 0; e < 30; e++) await pretraining.trainEpoch(null, 0.002, 0.67);
      const start = await pretraining.state();
      for (const options of [{}, { layerKernels: 'sparse' as const }]) {
        const gpuTrainer = await GpuTrainer.create(ctx, start.net, train, config, start, options);
        const cpuTrainer = new CpuTrainer(start.net, train, config, start);
        try {
          for (const order of [null, shuffled(count, 5)]) {
            const when = `${order ? 'shuffled' : 'file order'}, ${JSON.stringify(options)}`;
            const got = await gpuTrainer.trainEpoch(order, 0.002, 0.67);
            const want = await cpuTrainer.trainEpoch(order, 0.002, 0.67);
            expectSameCounts(got, want, when);
            // What this test is for: some, but fewer than half, of the samples are backpropagated.
            expect(want.backpropagated).toBeGreaterThan(0);
            expect(want.backpropagated).toBeLessThan(count / 2);
            await compareStates(gpuTrainer, cpuTrainer, when);
          }
        } finally {
          gpuTrainer.dispose();
        }
      }
    });
  }

  it('splits the training set when it passes the binding limit', async () => {
    // Pretend the adapter binds only 3 batches' inputs at a time: 7 batches need 3 buffers.
    const inputBytes = 13 * 37 * 4;
    const limits = { ...ctx.adapter.limits, maxStorageBufferBindingSize: 3 * 256 * Math.ceil(inputBytes / 256) };
    await trainBoth({ ...ctx, adapter: { ...ctx.adapter, limits } }, [37, 19, 5], 100, { batchSize: 13, confidence: 0.5 });
  });
});
