/**
 * ONNX export, run in ONNX Runtime (onnxruntime-node, CPU): a trained, pruned and structurally
 * compacted MNIST network must score the same on the 10 000 test images as the JS reference,
 * with the same logits up to float32 summation order; with biases too, against a plain loop here.
 */
import onnxProto, { type onnx } from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { countCorrect, inferAll, inferenceOf } from '../../src/cpu/forward';
import { CpuTrainer, softmaxInPlace } from '../../src/cpu/trainer';
import { takeSamples, type Dataset } from '../../src/data/dataset';
import { encodeOnnx } from '../../src/format/onnx';
import { cloneNetwork, initNetwork, type Network } from '../../src/model/network';
import { loadMnist } from '../../src/node/mnist';
import { asCompact, compactNetwork, type CompactNetwork } from '../../src/prune/structured';
import { SEED_RECIPE } from '../../src/train/recipe';
import { runTraining } from '../../src/train/run';
import { randomBiasedNetwork } from '../helpers/fixtures';
import { mulberry32, randomFloats } from '../helpers/random';

/** Absolute difference allowed between ONNX Runtime's logits and ours: float32 sums in another order. */
const LOGIT_TOLERANCE = 1e-5;

let test: Dataset;
let net: Network;

beforeAll(async () => {
  const data = await loadMnist();
  test = data.test;
  const train = takeSamples(data.train, 10_000);
  // Pruned to 90% after the first epoch, then retrained with the mask.
  const prune = { kind: 'once-sparsity' as const, epoch: 0, sparsity: 0.9, scope: 'layer' as const };
  const recipe = { ...SEED_RECIPE, epochs: 2, batchSize: 100, prune };
  const trained = await runTraining(new CpuTrainer(initNetwork(recipe.sizes, recipe.seed), train, recipe), recipe, train.count);
  if (trained.status !== 'finished') throw new Error(`training ${trained.status}`);
  net = compactNetwork(trained.net, { dropInputs: false, keepHidden: { fraction: 0.8 } }).compact.net;
}, 120_000);

async function runOnnx(model: Uint8Array, inputs: Float32Array, count: number): Promise<{ name: string; values: Float32Array; dims: readonly number[] }> {
  const session = await ort.InferenceSession.create(model);
  try {
    const features = test.inputs.length / test.count;
    const input = new ort.Tensor('float32', inputs.subarray(0, count * features), [count, features]);
    const results = await session.run({ [session.inputNames[0]!]: input });
    const name = session.outputNames[0]!;
    const output = results[name]!;
    return { name, values: output.data as Float32Array, dims: output.dims };
  } finally {
    await session.release();
  }
}

/**
 * The forward pass with biases as the semantics define it, written out here as an independent
 * reference: per layer z[o] = Σ_i x[i]·w[i,o] + b[o] (in float64), ReLU on hidden layers; the
 * first layer reads the features `inputIndices` names.
 */
function referenceLogits(model: Network | CompactNetwork, inputs: Float32Array, count: number): Float64Array {
  const { net, inputIndices, inputSize } = asCompact(model);
  const classes = net.sizes[net.sizes.length - 1]!;
  const logits = new Float64Array(count * classes);
  for (let s = 0; s < count; s++) {
    let x = Float64Array.from({ length: net.sizes[0]! }, (_, i) => inputs[s * inputSize + (inputIndices ? inputIndices[i]! : i)]!);
    net.weights.forEach((w, l) => {
      const [inSize, outSize] = [net.sizes[l]!, net.sizes[l + 1]!];
      const z = Float64Array.from(net.biases![l]!);
      for (let i = 0; i < inSize; i++) for (let o = 0; o < outSize; o++) z[o]! += x[i]! * w[i * outSize + o]!;
      x = l + 2 < net.sizes.length ? z.map((v) => Math.max(0, v)) : z;
    });
    logits.set(x, s * classes);
  }
  return logits;
}

/** The largest difference between ONNX Runtime's logits and the reference's, and how many samples each classifies right. */
function compareLogits(values: Float32Array, reference: Float64Array, count: number, labels: Uint8Array): { worst: number; correct: number; referenceCorrect: number } {
  let worst = 0;
  for (let k = 0; k < values.length; k++) worst = Math.max(worst, Math.abs(values[k]! - reference[k]!));
  const classes = values.length / count;
  const argmax = (row: ArrayLike<number>) => Array.prototype.indexOf.call(row, Math.max(...Array.from(row)));
  let correct = 0;
  let referenceCorrect = 0;
  for (let s = 0; s < count; s++) {
    if (argmax(values.subarray(s * classes, (s + 1) * classes)) === labels[s]) correct++;
    if (argmax(reference.subarray(s * classes, (s + 1) * classes)) === labels[s]) referenceCorrect++;
  }
  return { worst, correct, referenceCorrect };
}

describe('ONNX export', () => {
  it('is a Gemm + Relu graph over float32 initializers of the compact shape, pruned weights as zeros', () => {
    const [inputs, hidden1, hidden2, classes] = net.sizes;
    expect([inputs, classes]).toEqual([784, 10]);
    expect(hidden1! + hidden2!).toBeLessThan(200);
    const model = onnxProto.onnx.ModelProto.decode(encodeOnnx(net, { metadata: { recipe: 'seed' } }));
    const graph = model.graph as onnx.GraphProto;
    expect(graph.node.map((n) => n.opType)).toEqual(['Gemm', 'Relu', 'Gemm', 'Relu', 'Gemm']);
    const float = onnxProto.onnx.TensorProto.DataType.FLOAT;
    expect(graph.initializer.map((t) => [t.name, t.dims!.map(Number), t.dataType])).toEqual([
      ['layers.0.weight', [784, hidden1], float],
      ['layers.1.weight', [hidden1, hidden2], float],
      ['layers.2.weight', [hidden2, 10], float],
    ]);
    const raw = graph.initializer[1]!.rawData!;
    const stored = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const pruned = net.masks[1]!.indexOf(0);
    const kept = net.masks[1]!.indexOf(1);
    expect(stored.getFloat32(4 * pruned, true)).toBe(0);
    expect(stored.getFloat32(4 * kept, true)).toBe(net.weights[1]![kept]);
    const dims = (v: onnx.IValueInfoProto) => v.type!.tensorType!.shape!.dim!.map((d) => d.dimParam || Number(d.dimValue));
    expect([graph.input[0]!.name, dims(graph.input[0]!)]).toEqual(['input', ['batch', 784]]);
    expect([graph.output[0]!.name, dims(graph.output[0]!)]).toEqual(['logits', ['batch', 10]]);
    expect(model.metadataProps.map((p) => [p.key, p.value])).toEqual([['sizes', net.sizes.join(',')], ['recipe', 'seed']]);
  });

  it('runs in ONNX Runtime on the 10 000 test images with the accuracy and logits of the JS reference', async () => {
    const ours = inferAll(net, test);
    const { name, values, dims } = await runOnnx(encodeOnnx(net), test.inputs, test.count);
    expect(name).toBe('logits');
    expect(dims).toEqual([test.count, 10]);
    let worst = 0;
    for (let k = 0; k < values.length; k++) worst = Math.max(worst, Math.abs(values[k]! - ours.logits[k]!));
    expect(worst).toBeLessThanOrEqual(LOGIT_TOLERANCE);
    const correct = countCorrect(ours.predictions, test.labels);
    expect(countCorrect(inferenceOf(values, test.count, 10).predictions, test.labels)).toBe(correct);
    // A trained network, not a constant classifier.
    expect(correct).toBeGreaterThan(8_000);
  });

  it('adds the biases as the Gemms\' C inputs: ONNX Runtime gives the reference\'s logits and accuracy on the 10 000 test images', async () => {
    const biased = cloneNetwork(net);
    const random = mulberry32(41);
    biased.biases = biased.sizes.slice(1).map((out) => randomFloats(random, out, -0.5, 0.5));
    const bytes = encodeOnnx(biased);
    const graph = onnxProto.onnx.ModelProto.decode(bytes).graph as onnx.GraphProto;
    expect(graph.node.filter((n) => n.opType === 'Gemm').map((n) => n.input)).toEqual([0, 1, 2].map((l) => [
      l === 0 ? 'input' : `layers.${l - 1}.relu`, `layers.${l}.weight`, `layers.${l}.bias`,
    ]));
    expect(graph.initializer.filter((t) => t.name!.endsWith('.bias')).map((t) => t.dims!.map(Number))).toEqual(biased.sizes.slice(1).map((n) => [n]));

    const { values, dims } = await runOnnx(bytes, test.inputs, test.count);
    expect(dims).toEqual([test.count, 10]);
    const { worst, correct, referenceCorrect } = compareLogits(values, referenceLogits(biased, test.inputs, test.count), test.count, test.labels);
    expect(worst).toBeLessThanOrEqual(LOGIT_TOLERANCE);
    expect(correct).toBe(referenceCorrect);
    // And the JS reference's forward pass, float32 like ONNX Runtime.
    const ours = inferAll(biased, test);
    expect(ours.logits.reduce((most, v, k) => Math.max(most, Math.abs(v - values[k]!)), 0)).toBeLessThanOrEqual(LOGIT_TOLERANCE);
    expect(countCorrect(ours.predictions, test.labels)).toBe(correct);
    // The biases moved the logits: the same network without them gives others.
    const unbiased = (await runOnnx(encodeOnnx(net), test.inputs, 1)).values;
    expect(Math.max(...unbiased.map((v, c) => Math.abs(v - values[c]!)))).toBeGreaterThan(0.01);
  });

  it('a compact network with biases reads its features through the Gather and adds its biases', async () => {
    const count = 200;
    const compact = { net: randomBiasedNetwork([30, 7, 10], 42, 0.5), inputIndices: Int32Array.from({ length: 30 }, (_, k) => 100 + 20 * k), inputSize: 784 };
    const { values, dims } = await runOnnx(encodeOnnx(compact), test.inputs, count);
    expect(dims).toEqual([count, 10]);
    const { worst } = compareLogits(values, referenceLogits(compact, test.inputs, count), count, test.labels);
    expect(worst).toBeLessThanOrEqual(LOGIT_TOLERANCE);
  });

  it('has a free batch dimension and, with --softmax, outputs the probabilities', async () => {
    const count = 7;
    const { name, values, dims } = await runOnnx(encodeOnnx(net, { softmax: true }), test.inputs, count);
    expect(name).toBe('probabilities');
    expect(dims).toEqual([count, 10]);
    const ours = inferAll(net, takeSamples(test, count)).logits;
    for (let s = 0; s < count; s++) {
      const row = ours.slice(s * 10, (s + 1) * 10);
      softmaxInPlace(row);
      row.forEach((p, c) => expect(Math.abs(values[s * 10 + c]! - p)).toBeLessThan(1e-6));
    }
  });
});

