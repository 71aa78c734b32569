/**
 * sparse_v1/v2/v3 and sparse_transpose against the JS reference (src/cpu/sparse-forward.ts) on
 * fresh random inputs (with and without biases), outputs poisoned with NaN; then whole networks
 * (one with biases, against the JS forward pass) through the sparse, dense and hybrid inference
 * engines (every mix of CSR and dense layers) against sparseInfer / denseInfer, and the hybrid
 * engine's cost model on the shapes it was measured on.
 *
 * Tolerance: rel 1e-4, plus abs 1e-6·(nonzeros in the longest row). The reference sums in
 * float64, the kernels in float32 in the same order; with weights and inputs in [−1, 1] each of
 * the n roundings adds at most 2⁻²⁴ × the running sum (≤ n), far below 1e-6·n, while a missing
 * or doubled product (|w·x| ≈ 0.25 on average) fails.
 */
import { describe, expect, it } from 'vitest';
import { csrForward, csrLayer, denseInfer, sparseInfer, csrLayers, transpose, type CsrLayer } from '../../src/cpu/sparse-forward';
import { readBuffer, uniformBuffer } from '../../src/gpu/buffers';
import { chooseLayerKernel } from '../../src/gpu/cost-model';
import { createDenseInference } from '../../src/gpu/dense-inference';
import { bindKernel, compileKernel, submitDispatches } from '../../src/gpu/dispatch';
import { createHybridInference } from '../../src/gpu/hybrid-inference';
import { MATMUL_V4, matmulV3 } from '../../src/gpu/kernels';
import { createSparseInference } from '../../src/gpu/sparse-inference';
import { SPARSE_TRANSPOSE, SPARSE_VARIANTS, SPARSE_V1, SPARSE_V3, sparseParams, transposeParams, type SparseDescriptor, type SparseVersion } from '../../src/gpu/sparse-kernels';
import { inferAll } from '../../src/cpu/forward';
import { DEFAULT_TUNING } from '../../src/gpu/tuning';
import { initNetwork, type Network } from '../../src/model/network';
import { compactNetwork } from '../../src/prune/structured';
import { pruneToSparsity } from '../../src/prune/unstructured';
import { expectClose } from '../helpers/expect-close';
import { testGpu } from '../helpers/gpu';
import { inputBuffer, poisonedBuffer } from '../helpers/gpu-buffers';
import { mulberry32, randomFloats, randomMask } from '../helpers/random';

const gpu = await testGpu();

/** A random layer of the given density, with row 0 empty, row 1 full and row 2 a single entry when it has the rows; with `bias`, random biases. */
function randomLayer(random: () => number, inSize: number, outSize: number, density: number, bias = false): CsrLayer {
  const weights = randomFloats(random, inSize * outSize);
  const mask = randomMask(random, inSize * outSize, density);
  const setRow = (o: number, keep: (i: number) => boolean): void => {
    for (let i = 0; i < inSize; i++) mask[i * outSize + o] = keep(i) ? 1 : 0;
  };
  if (outSize >= 3) {
    setRow(0, () => false);
    setRow(1, () => true);
    const only = Math.floor(random() * inSize);
    setRow(2, (i) => i === only);
  }
  return csrLayer(weights, mask, inSize, outSize, bias ? randomFloats(random, outSize) : undefined);
}

function longestRow(layer: CsrLayer): number {
  let longest = 1;
  for (let o = 0; o < layer.outSize; o++) longest = Math.max(longest, layer.indptr[o + 1]! - layer.indptr[o]!);
  return longest;
}

const asU32 = (a: Int32Array): Uint32Array => new Uint32Array(a.buffer, a.byteOffset, a.length);

/** [in, out, batch]: single elements; either side of v1's 64 outputs and v2/v3's 4·64 samples; the MLP's layers. */
const SHAPES: [number, number, number][] = [
  [1, 1, 1],
  [17, 63, 255],
  [65, 65, 257],
  [3, 5, 2],
  [784, 100, 300],
  [100, 10, 129],
  // Layers that pruning emptied: no inputs (every output 0), no outputs.
  [0, 5, 70],
  [6, 0, 3],
];
const DENSITIES = [1, 0.5, 0.1, 0.01, 0.001];

describe.skipIf(!gpu.context)(`sparse inference kernels ${gpu.label}`, () => {
  const ctx = gpu.context!;
  // Collected even when the suite is skipped, with no context.
  const versions: SparseVersion[] = gpu.context?.device.features.has('subgroups') ? [1, 2, 3] : [1, 2];
  // Each version in every geometry a tuning may pick (`SPARSE_VARIANTS`): its own, and one whose workgroup (and rows) leave partial blocks.
  const kernels = versions.flatMap((version) => SPARSE_VARIANTS[version]);

  async function runLayer(
    descriptor: SparseDescriptor,
    layer: CsrLayer,
    x: Float32Array, // [batch, in]
    batch: number,
    relu: boolean,
    xLayout: 'sample-major' | 'feature-major',
    yLayout: 'sample-major' | 'feature-major',
  ): Promise<Float32Array> {
    const kernel = await compileKernel(ctx, descriptor, { batch, inSize: layer.inSize, outSize: layer.outSize, nonzeros: layer.indices.length, bias: layer.bias !== undefined });
    const buffers = [
      inputBuffer(ctx, 'indptr', asU32(layer.indptr)),
      inputBuffer(ctx, 'indices', asU32(layer.indices.length ? layer.indices : new Int32Array(1))),
      inputBuffer(ctx, 'values', layer.values.length ? layer.values : new Float32Array(1)),
      inputBuffer(ctx, 'x', xLayout === 'feature-major' ? transpose(x, batch, layer.inSize) : x),
      poisonedBuffer(ctx, 'y', batch * layer.outSize),
      uniformBuffer(ctx, 'params', sparseParams(batch, layer, relu, xLayout, yLayout)),
      // Without a bias the binding is left off: bindKernel binds its placeholder.
      ...(layer.bias ? [inputBuffer(ctx, 'bias', layer.bias.length ? layer.bias : new Float32Array(1))] : []),
    ];
    await submitDispatches(ctx, kernel.name, [bindKernel(ctx, kernel, 'test', buffers)]);
    const y = await readBuffer(ctx, buffers[4]!, new Float32Array(batch * layer.outSize));
    for (const b of buffers) b.destroy();
    return yLayout === 'feature-major' ? transpose(y, layer.outSize, batch) : y;
  }

  for (const descriptor of kernels) {
    const name = `${descriptor.name} ${Object.entries(descriptor.geometry).map(([key, value]) => `${key} ${value}`).join(' ')}`;
    it.each(SHAPES)(`${name}: [%i → %i] × batch %i at every density matches csrForward`, async (inSize, outSize, batch) => {
      const random = mulberry32(inSize * 7919 + outSize * 31 + batch + Number(descriptor.name.at(-1)));
      for (const density of DENSITIES) {
        const layer = randomLayer(random, inSize, outSize, density);
        const x = randomFloats(random, batch * inSize);
        const tolerance = { rel: 1e-4, abs: 1e-6 * longestRow(layer) };
        for (const relu of [false, true]) {
          const reference = csrForward(layer, x, batch, relu);
          const shape = `[${batch}, ${outSize}] density ${density} relu ${relu}`;
          expectClose(await runLayer(descriptor, layer, x, batch, relu, 'feature-major', 'feature-major'), reference, tolerance, `${shape} fm→fm`);
          if (!relu) expectClose(await runLayer(descriptor, layer, x, batch, relu, 'sample-major', 'sample-major'), reference, tolerance, `${shape} sm→sm`);
        }
      }
    });
    // With a bias: once per output after the row's sum (an empty row outputs its bias), before the ReLU.
    it.each(SHAPES.filter(([inSize]) => inSize < 784))(
      `${name}: [%i → %i] × batch %i with biases matches csrForward`,
      async (inSize, outSize, batch) => {
        const random = mulberry32(inSize * 31 + outSize * 7 + batch);
        for (const density of [1, 0.1]) {
          const layer = randomLayer(random, inSize, outSize, density, true);
          const x = randomFloats(random, batch * inSize);
          const tolerance = { rel: 1e-4, abs: 1e-6 * longestRow(layer) };
          for (const relu of [false, true]) {
            const reference = csrForward(layer, x, batch, relu);
            const shape = `[${batch}, ${outSize}] density ${density} relu ${relu} + bias`;
            expectClose(await runLayer(descriptor, layer, x, batch, relu, 'feature-major', 'feature-major'), reference, tolerance, `${shape} fm→fm`);
            expectClose(await runLayer(descriptor, layer, x, batch, relu, 'sample-major', 'sample-major'), reference, tolerance, `${shape} sm→sm`);
          }
        }
      },
    );
  }

  it.each([
    [1, 1],
    [63, 5],
    [65, 784],
    [300, 100],
  ])('sparse_transpose [%i, %i] moves every element', async (batch, features) => {
    const kernel = await compileKernel(ctx, SPARSE_TRANSPOSE, { batch, features });
    const x = randomFloats(mulberry32(batch + features), batch * features);
    const buffers = [inputBuffer(ctx, 'x', x), poisonedBuffer(ctx, 'xT', batch * features), uniformBuffer(ctx, 'params', transposeParams({ batch, features }))];
    await submitDispatches(ctx, kernel.name, [bindKernel(ctx, kernel, 'test', buffers)]);
    expect([...(await readBuffer(ctx, buffers[1]!, new Float32Array(batch * features)))]).toEqual([...transpose(x, batch, features)]);
  });
});

describe.skipIf(!gpu.context)(`sparse and dense inference engines ${gpu.label}`, () => {
  const ctx = gpu.context!;

  function prunedNetwork(sizes: number[], sparsity: number, seed: number): Network {
    const net = initNetwork(sizes, seed);
    pruneToSparsity(net, sparsity, 'layer');
    return net;
  }

  it.each([0, 0.5, 0.907, 0.99])('784-100-100-10 at sparsity %s: sparse, compact and dense match the JS reference', async (sparsity) => {
    const net = prunedNetwork([784, 100, 100, 10], sparsity, 3);
    const count = 300;
    const inputs = randomFloats(mulberry32(5), count * 784, 0, 1);
    const reference = sparseInfer(csrLayers(net), inputs, count);
    expect([...denseInfer(net, inputs, count).predictions]).toEqual([...reference.predictions]);
    const tolerance = { rel: 1e-4, abs: 1e-5 };
    const { compact } = compactNetwork(net);
    const engines = [
      await createSparseInference(ctx, net, { maxBatch: 128 }),
      await createSparseInference(ctx, compact, { maxBatch: count }),
      await createSparseInference(ctx, compact, { maxBatch: count, version: 1 }),
      await createDenseInference(ctx, net, { maxBatch: count }),
      await createDenseInference(ctx, compact, { maxBatch: 100 }),
      await createHybridInference(ctx, compact, { maxBatch: count }),
      await createHybridInference(ctx, net, { maxBatch: 128 }),
    ];
    for (const engine of engines) {
      const result = await engine.infer(inputs, count);
      expectClose(result.logits, reference.logits, tolerance, `${engine.name} [${count}, 10]`);
      // Predictions agree except where two logits tie within float32 rounding.
      let differ = 0;
      result.predictions.forEach((p, s) => (differ += p === reference.predictions[s] ? 0 : 1));
      expect(differ, engine.name).toBeLessThanOrEqual(1);
      engine.dispose();
    }
  });

  // Every mix of CSR and dense layers, so every layout hand-over is exercised: sparse → dense
  // (feature-major read as Aᵀ), dense → sparse (sample-major gathers), either one first and last.
  it.each([
    ['sparse', 'sparse', 'sparse'],
    ['sparse', 'sparse', 'dense'],
    ['sparse', 'dense', 'sparse'],
    ['sparse', 'dense', 'dense'],
    ['dense', 'sparse', 'sparse'],
    ['dense', 'sparse', 'dense'],
    ['dense', 'dense', 'sparse'],
    ['dense', 'dense', 'dense'],
  ] as const)('hybrid with layers %s, %s, %s on a compact 784-100-100-10 matches the JS reference', async (...layerKernels) => {
    const net = prunedNetwork([784, 100, 100, 10], 0.9, 11);
    const { compact } = compactNetwork(net);
    const engine = await createHybridInference(ctx, compact, { maxBatch: 300, layerKernels });
    // Batch 1 and either side of the v1 threshold (64) and of the matmul's 128-sample tiles.
    for (const count of [1, 63, 65, 129, 300]) {
      const inputs = randomFloats(mulberry32(count + 17), count * 784, 0, 1);
      const expected = sparseInfer(csrLayers(net), inputs, count);
      expectClose((await engine.infer(inputs, count)).logits, expected.logits, { rel: 1e-4, abs: 1e-5 }, `${engine.name} ${layerKernels.join('/')} batch ${count}`);
    }
    engine.dispose();
  });

  it('transposes an input wider than sampleMajorMaxFeatures before a sparse first layer, in the sparse and hybrid engines', async () => {
    const net = prunedNetwork([DEFAULT_TUNING.sampleMajorMaxFeatures + 1, 40, 10], 0.8, 13);
    const count = 130;
    const inputs = randomFloats(mulberry32(21), count * net.sizes[0]!, 0, 1);
    const expected = sparseInfer(csrLayers(net), inputs, count);
    const engines = [
      await createSparseInference(ctx, net, { maxBatch: count }),
      await createHybridInference(ctx, net, { maxBatch: count, layerKernels: ['sparse', 'dense'] }),
    ];
    for (const engine of engines) {
      for (const batch of [1, count]) {
        const result = await engine.infer(inputs.subarray(0, batch * net.sizes[0]!), batch);
        expectClose(result.logits, expected.logits.subarray(0, batch * 10), { rel: 1e-4, abs: 1e-5 }, `${engine.name} batch ${batch}`);
      }
      engine.dispose();
    }
  });

  /**
   * A pruned network with random biases in which hidden neuron 0 of the first hidden layer has no
   * incoming weight (compaction folds its constant relu(b) into the next layer's biases) and
   * neuron 1 no outgoing one (compaction removes it, bias and all).
   */
  function biasedNetwork(sizes: number[], sparsity: number, seed: number): Network {
    const net = initNetwork(sizes, seed, true);
    const random = mulberry32(seed);
    net.biases = sizes.slice(1).map((out) => randomFloats(random, out, -0.5, 0.5));
    net.biases[0]![0] = 0.75;
    pruneToSparsity(net, sparsity, 'layer');
    const [w0, m0, w1, m1] = [net.weights[0]!, net.masks[0]!, net.weights[1]!, net.masks[1]!];
    for (let i = 0; i < sizes[0]!; i++) w0[i * sizes[1]!] = m0[i * sizes[1]!] = 0;
    for (let o = 0; o < sizes[2]!; o++) w1[sizes[2]! + o] = m1[sizes[2]! + o] = 0;
    return net;
  }

  it('a network with biases: every engine, on the network and on its compact form, gives the JS forward pass\'s logits and predictions', async () => {
    const features = DEFAULT_TUNING.sampleMajorMaxFeatures + 1;
    const net = biasedNetwork([features, 40, 30, 10], 0.9, 23);
    const { compact } = compactNetwork(net);
    expect(compact.net.biases, 'the compact network keeps biases').toBeDefined();
    const count = 130;
    const inputs = randomFloats(mulberry32(29), count * features, 0, 1);
    const expected = inferAll(net, { source: 'random', count, features, inputs, labels: new Uint8Array(count), classes: 10 });
    const engines = [
      await createSparseInference(ctx, net, { maxBatch: count }),
      await createSparseInference(ctx, compact, { maxBatch: 64, version: 1 }),
      await createDenseInference(ctx, net, { maxBatch: count }),
      await createDenseInference(ctx, compact, { maxBatch: 3 }),
      await createHybridInference(ctx, net, { maxBatch: count }),
      await createHybridInference(ctx, compact, { maxBatch: count }),
      await createHybridInference(ctx, compact, { maxBatch: count, layerKernels: ['sparse', 'dense', 'sparse'] }),
      await createHybridInference(ctx, compact, { maxBatch: count, layerKernels: ['dense', 'sparse', 'dense'] }),
    ];
    for (const engine of engines) {
      const result = await engine.infer(inputs, count);
      expectClose(result.logits, expected.logits, { rel: 0, abs: 1e-4 }, `${engine.name} [${count}, 10]`);
      expect([...result.predictions], engine.name).toEqual([...expected.predictions]);
      engine.dispose();
    }
  });

  it('runs batches of 1 and below the v1 threshold, and refuses a batch past maxBatch', async () => {
    const net = prunedNetwork([20, 7, 3], 0.6, 9);
    const engine = await createSparseInference(ctx, net, { maxBatch: 70 });
    for (const count of [1, 5, 63, 64, 70]) {
      const inputs = randomFloats(mulberry32(count), count * 20);
      expectClose((await engine.infer(inputs, count)).logits, sparseInfer(csrLayers(net), inputs, count).logits, { rel: 1e-4, abs: 1e-6 }, `batch ${count}`);
    }
    engine.upload(new Float32Array(70 * 20), 70);
    await expect(engine.run(71)).rejects.toThrow(/batch 71 is outside 1\.\.70/);
    engine.dispose();
  });
});

describe('chooseLayerKernel', () => {
  // What `auto` runs on an adapter with 8-lane subgroups (lavapipe): matmul_v3 and sparse_v3 at
  // large batches, matmul_v4 and sparse_v1 at small ones.
  const large = { dense: matmulV3(8), sparse: SPARSE_V3 };
  const small = { dense: MATMUL_V4, sparse: SPARSE_V1 };

  it('runs the trained network\'s sparse first layer as CSR and its small denser layers dense at batch 10 000', () => {
    expect(chooseLayerKernel({ inSize: 449, outSize: 90, nonzeros: 4673 }, 10000, large)).toBe('sparse');
    expect(chooseLayerKernel({ inSize: 90, outSize: 92, nonzeros: 2919 }, 10000, large)).toBe('dense');
    expect(chooseLayerKernel({ inSize: 92, outSize: 10, nonzeros: 643 }, 10000, large)).toBe('dense');
  });

  it('prefers CSR for a 4096² layer at 95% sparsity and for a 32%-dense layer at batch 1, the matmul for a dense layer', () => {
    expect(chooseLayerKernel({ inSize: 4096, outSize: 4096, nonzeros: 838861 }, 100, large)).toBe('sparse');
    expect(chooseLayerKernel({ inSize: 90, outSize: 92, nonzeros: 2919 }, 1, small)).toBe('sparse');
    expect(chooseLayerKernel({ inSize: 100, outSize: 100, nonzeros: 10000 }, 1000, large)).toBe('dense');
  });

  it('charges the matmul that runs: v4 pays 4 rows at a small batch where v3 would pay a 128-row tile', () => {
    const layer = { inSize: 100, outSize: 100, nonzeros: 10000 };
    expect(chooseLayerKernel(layer, 4, small)).toBe('dense');
    expect(chooseLayerKernel(layer, 4, { ...small, dense: matmulV3(8) })).toBe('sparse');
  });

  it('reads the geometry of the kernel: v4 with 1 row per workgroup is cheaper at batch 1 than with 4', () => {
    const layer = { inSize: 100, outSize: 100, nonzeros: 10000 };
    expect(chooseLayerKernel(layer, 1, small)).toBe('sparse');
    expect(chooseLayerKernel(layer, 1, { ...small, dense: { ...MATMUL_V4, geometry: { V4_WG: 64, V4_ROWS: 1 } } })).toBe('dense');
  });
});
