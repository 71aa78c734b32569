/**
 * Biases on the JS reference, against float64 plain loops written from the math
 * (test/helpers/plain-mlp.ts): the forward pass of every inference path, the bias gradient
 * (also checked by finite differences of the loss), and two batches of each update rule, whose
 * biases take the weights' rule without mask or weight decay.
 */
import { describe, expect, it } from 'vitest';
import { allocateActivations, forwardSample, inferAll } from '../../src/cpu/forward';
import { csrLayers, denseInfer, sparseInfer } from '../../src/cpu/sparse-forward';
import { backpropSample, CpuTrainer, softmaxInPlace } from '../../src/cpu/trainer';
import type { Dataset } from '../../src/data/dataset';
import { cloneNetwork, initNetwork, type Network } from '../../src/model/network';
import { ADAM_DEFAULTS, OPTIMIZERS, type OptimizerKind } from '../../src/train/optimizer';
import { randomBiasedNetwork } from '../helpers/fixtures';
import { plainCrossEntropy, plainGradients, plainLogits } from '../helpers/plain-mlp';
import { mulberry32, randomFloats } from '../helpers/random';

const SIZES = [7, 9, 6, 4];

/** `count` samples of pixels in [0, 1) with labels cycling through the classes. */
function randomData(count: number, seed: number, features = SIZES[0]!, classes = SIZES.at(-1)!): Dataset {
  return {
    source: 'random',
    count,
    features,
    inputs: randomFloats(mulberry32(seed), count * features, 0, 1),
    labels: Uint8Array.from({ length: count }, (_, s) => s % classes),
    classes,
  };
}

const sample = (data: Dataset, s: number): Float32Array => data.inputs.subarray(s * data.features, (s + 1) * data.features);

function expectNear(actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance: number, what: string): void {
  expect(actual.length, what).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const scale = Math.max(1, Math.abs(expected[i]!));
    expect(Math.abs(actual[i]! - expected[i]!), `${what}[${i}]: ${actual[i]} vs ${expected[i]}`).toBeLessThanOrEqual(tolerance * scale);
  }
}

describe('forward pass with biases', () => {
  it('forwardSample, dense and CSR inference give the plain loop’s logits', () => {
    const net = randomBiasedNetwork(SIZES, 11, 0.6);
    const data = randomData(23, 12);
    const expected = Array.from({ length: data.count }, (_, s) => plainLogits(net, sample(data, s))).flat();
    expectNear(inferAll(net, data).logits, expected, 1e-5, 'forwardSample');
    const dense = denseInfer(net, data.inputs, data.count).logits;
    expectNear(dense, expected, 1e-5, 'denseInfer');
    // Both add the bias to the float32-rounded sum: the same bits.
    expect(Array.from(sparseInfer(csrLayers(net), data.inputs, data.count).logits)).toEqual(Array.from(dense));
  });

  it('a bias that holds a hidden neuron below 0 silences it; one above 0 makes it fire with no input at all', () => {
    const net = randomBiasedNetwork([3, 2, 2], 5, 1);
    net.weights[0]!.fill(0);
    net.biases![0]!.set([-0.25, 0.5]);
    const acts = allocateActivations(net.sizes);
    acts[0]!.set([1, 2, 3]);
    forwardSample(net, acts);
    const b = net.biases![1]!;
    const w = net.weights[1]!;
    // Only hidden neuron 1 (value 0.5) passes anything on.
    expect(Array.from(acts[2]!)).toEqual([Math.fround(Math.fround(0.5 * w[2]!) + b[0]!), Math.fround(Math.fround(0.5 * w[3]!) + b[1]!)]);
  });

  it('a network without biases computes as before: zero biases change no logit', () => {
    const plain = initNetwork(SIZES, 3);
    const zeros = initNetwork(SIZES, 3, true);
    expect(zeros.weights).toEqual(plain.weights);
    const data = randomData(9, 4);
    expect(Array.from(inferAll(zeros, data).logits)).toEqual(Array.from(inferAll(plain, data).logits));
  });
});

describe('bias gradient', () => {
  it('is the batch sum of each neuron’s output gradient, as the plain loop computes it', () => {
    const net = randomBiasedNetwork(SIZES, 21, 0.8);
    const data = randomData(12, 22);
    const velocities = net.weights.map((w) => new Float32Array(w.length));
    const biasVelocities = net.biases!.map((b) => new Float32Array(b.length));
    const acts = allocateActivations(net.sizes);
    const grads = allocateActivations(net.sizes);
    for (let s = 0; s < data.count; s++) {
      acts[0]!.set(sample(data, s));
      forwardSample(net, acts);
      softmaxInPlace(acts[acts.length - 1]!);
      backpropSample(net, acts, grads, data.labels[s]!, velocities, biasVelocities);
    }
    const inputs = Array.from({ length: data.count }, (_, s) => sample(data, s));
    const expected = plainGradients(net, inputs, Array.from(data.labels), Infinity);
    biasVelocities.forEach((vb, l) => expectNear(vb, expected.biases[l]!, 1e-5, `layer ${l} bias gradient`));
    velocities.forEach((v, l) => expectNear(v, expected.weights[l]!, 1e-5, `layer ${l} weight gradient`));
    // Every layer's biases got a gradient (not all zeros).
    for (const vb of biasVelocities) expect(vb.some((g) => g !== 0)).toBe(true);
  });

  it('matches finite differences of the summed cross-entropy (the gradient is −∂L/∂b)', () => {
    const net = randomBiasedNetwork([3, 4, 3], 31, 1);
    const data = randomData(5, 32, 3, 3);
    const inputs = Array.from({ length: data.count }, (_, s) => sample(data, s));
    const loss = (n: Network): number => inputs.reduce((sum, x, s) => sum + plainCrossEntropy(plainLogits(n, x), data.labels[s]!), 0);
    const velocities = net.weights.map((w) => new Float32Array(w.length));
    const biasVelocities = net.biases!.map((b) => new Float32Array(b.length));
    const acts = allocateActivations(net.sizes);
    const grads = allocateActivations(net.sizes);
    inputs.forEach((x, s) => {
      acts[0]!.set(x);
      forwardSample(net, acts);
      softmaxInPlace(acts[acts.length - 1]!);
      backpropSample(net, acts, grads, data.labels[s]!, velocities, biasVelocities);
    });
    const h = 1e-3;
    let checked = 0;
    net.biases!.forEach((b, l) => {
      for (let o = 0; o < b.length; o++) {
        const up = cloneNetwork(net);
        const down = cloneNetwork(net);
        up.biases![l]![o] = b[o]! + h;
        down.biases![l]![o] = b[o]! - h;
        // Float32 biases: the step actually taken is the difference of the stored values.
        const difference = -(loss(up) - loss(down)) / (up.biases![l]![o]! - down.biases![l]![o]!);
        expect(Math.abs(biasVelocities[l]![o]! - difference), `layer ${l} bias ${o}`).toBeLessThan(1e-3 * Math.max(1, Math.abs(difference)));
        checked++;
      }
    });
    expect(checked).toBe(4 + 3);
  });
});

const LR: Record<OptimizerKind, number> = { seed: 0.01, sgd: 0.3, momentum: 0.1, adam: 0.01, adamw: 0.01 };
const MOMENTUM = 0.8;
const WEIGHT_DECAY = 0.2;
const BATCH = 8;

/** Each rule's step in float64 on one parameter array, from its batch gradient sum (onehot − p summed). */
function plainStep(kind: OptimizerKind, p: number[], sum: readonly number[], first: number[], second: number[], step: number, decay: number): void {
  const { beta1, beta2, eps } = ADAM_DEFAULTS;
  for (let i = 0; i < p.length; i++) {
    if (kind === 'seed') {
      first[i] = first[i]! + sum[i]!;
      p[i] = p[i]! + LR.seed * first[i]!;
      first[i] = first[i]! * MOMENTUM;
      continue;
    }
    let g = -sum[i]! / BATCH;
    if (kind !== 'adamw') g += decay * p[i]!;
    if (kind === 'sgd') p[i] = p[i]! - LR.sgd * g;
    else if (kind === 'momentum') {
      first[i] = MOMENTUM * first[i]! + g;
      p[i] = p[i]! - LR.momentum * first[i]!;
    } else {
      first[i] = beta1 * first[i]! + (1 - beta1) * g;
      second[i] = beta2 * second[i]! + (1 - beta2) * g * g;
      const mHat = first[i]! / (1 - beta1 ** step);
      const vHat = second[i]! / (1 - beta2 ** step);
      const decayed = kind === 'adamw' ? p[i]! * (1 - LR[kind] * decay) : p[i]!;
      p[i] = decayed - (LR[kind] * mHat) / (Math.sqrt(vHat) + eps);
    }
  }
}

describe('bias updates, two batches of every rule (weight decay on: the weights decay, the biases do not)', () => {
  it.each(OPTIMIZERS)('%s', async (kind) => {
    const start = randomBiasedNetwork(SIZES, 41, 1);
    const data = randomData(2 * BATCH, 42);
    const decay = kind === 'seed' ? 0 : WEIGHT_DECAY;
    const rule = { kind, weightDecay: decay, ...ADAM_DEFAULTS };
    const trainer = new CpuTrainer(start, data, { batchSize: BATCH, confidence: 0.9, updateRule: rule });
    await trainer.trainEpoch(null, LR[kind], MOMENTUM);
    const state = await trainer.state();

    const net = start;
    const toNumbers = (arrays: Float32Array[]) => arrays.map((a) => Array.from(a));
    const params = { weights: toNumbers(net.weights), biases: toNumbers(net.biases!) };
    const zeros = (arrays: number[][]) => arrays.map((a) => a.map(() => 0));
    const first = { weights: zeros(params.weights), biases: zeros(params.biases) };
    const second = { weights: zeros(params.weights), biases: zeros(params.biases) };
    for (let b = 0; b < 2; b++) {
      const current = { sizes: net.sizes, weights: params.weights, biases: params.biases };
      const inputs = Array.from({ length: BATCH }, (_, s) => sample(data, b * BATCH + s));
      const sums = plainGradients(current, inputs, Array.from(data.labels.subarray(b * BATCH, (b + 1) * BATCH)), 0.9);
      params.weights.forEach((w, l) => plainStep(kind, w, sums.weights[l]!, first.weights[l]!, second.weights[l]!, b + 1, decay));
      params.biases.forEach((x, l) => plainStep(kind, x, sums.biases[l]!, first.biases[l]!, second.biases[l]!, b + 1, 0));
    }
    state.net.biases!.forEach((x, l) => expectNear(x, params.biases[l]!, 1e-5, `${kind} layer ${l} biases`));
    state.net.weights.forEach((w, l) => expectNear(w, params.weights[l]!, 1e-5, `${kind} layer ${l} weights`));
    if (kind !== 'sgd') state.biasVelocities!.forEach((v, l) => expectNear(v, first.biases[l]!, 1e-5, `${kind} layer ${l} bias velocities`));
    if (kind === 'adam' || kind === 'adamw') state.biasSecondMoments!.forEach((v, l) => expectNear(v, second.biases[l]!, 1e-6, `${kind} layer ${l} bias second moments`));
    expect(state.steps).toBe(2);
    // The biases moved.
    state.net.biases!.forEach((x, l) => expect(Array.from(x)).not.toEqual(Array.from(start.biases![l]!)));
  });
});
