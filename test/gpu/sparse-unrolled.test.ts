/**
 * sparse_unrolled (a CSR layer written into its own program) against the JS reference csrForward
 * on fresh random layers, outputs poisoned with NaN: shapes that leave partial workgroups, empty,
 * full and one-entry rows, both layouts, biases on and off, in both geometries the tuning may
 * pick; the weights written as literals come back exactly; layers it cannot take are refused;
 * and the hybrid engine with unrolled layers next to CSR and dense ones gives sparseInfer's logits.
 * The training form (weights read from the dense buffer through workgroup memory) on the same
 * shapes, the dense buffer's pruned positions NaN so that reading one fails.
 *
 * Tolerance as in sparse.test.ts: rel 1e-4 plus abs 1e-6·(nonzeros in the longest row).
 */
import { describe, expect, it } from 'vitest';
import { csrForward, csrLayer, csrLayers, sparseInfer, transpose, type CsrLayer } from '../../src/cpu/sparse-forward';
import { csrIndexByOutput } from '../../src/model/csr';
import { readBuffer, uniformBuffer } from '../../src/gpu/buffers';
import { chooseLayerKernel } from '../../src/gpu/cost-model';
import { bindKernel, compileKernel, submitDispatches } from '../../src/gpu/dispatch';
import { createHybridInference } from '../../src/gpu/hybrid-inference';
import { matmulV3 } from '../../src/gpu/kernels';
import { SPARSE_V3, sparseParams } from '../../src/gpu/sparse-kernels';
import { SPARSE_UNROLLED_GEOMETRIES, UNROLLED_COST, UNROLLED_MAX_INPUTS, UNROLLED_MAX_NONZEROS, unrollable, unrollableForTraining, unrolledSparseKernel, unrolledTrainingForward } from '../../src/gpu/sparse-unrolled';
import { DEFAULT_TUNING } from '../../src/gpu/tuning';
import { initNetwork } from '../../src/model/network';
import { compactNetwork } from '../../src/prune/structured';
import { pruneToSparsity } from '../../src/prune/unstructured';
import { expectClose } from '../helpers/expect-close';
import { testGpu } from '../helpers/gpu';
import { inputBuffer, poisonedBuffer } from '../helpers/gpu-buffers';
import { mulberry32, randomFloats, randomMask } from '../helpers/random';

const gpu = await testGpu();

/** A random layer of the given density with row 0 empty, row 1 full and row 2 one entry (where it has the rows); with `bias`, random biases. */
function randomLayer(random: () => number, inSize: number, outSize: number, density: number, bias: boolean): CsrLayer {
  const weights = randomFloats(random, inSize * outSize);
  const mask = randomMask(random, inSize * outSize, density);
  for (let i = 0; i < inSize && outSize >= 3; i++) {
    mask[i * outSize] = 0;
    mask[i * outSize + 1] = 1;
    mask[i * outSize + 2] = i === inSize - 1 ? 1 : 0;
  }
  return csrLayer(weights, mask, inSize, outSize, bias ? randomFloats(random, outSize) : undefined);
}

/** A CSR layer's dense [in, out] weights and mask. */
function denseOf(layer: CsrLayer): { weights: Float32Array; mask: Uint8Array } {
  const weights = new Float32Array(layer.inSize * layer.outSize);
  const mask = new Uint8Array(layer.inSize * layer.outSize);
  for (let o = 0; o < layer.outSize; o++) {
    for (let k = layer.indptr[o]!; k < layer.indptr[o + 1]!; k++) {
      weights[layer.indices[k]! * layer.outSize + o] = layer.values[k]!;
      mask[layer.indices[k]! * layer.outSize + o] = 1;
    }
  }
  return { weights, mask };
}

function longestRow(layer: CsrLayer): number {
  let longest = 1;
  for (let o = 0; o < layer.outSize; o++) longest = Math.max(longest, layer.indptr[o + 1]! - layer.indptr[o]!);
  return longest;
}

/** [in, out, batch, density]: single elements; either side of WG 16 and 64 samples; one full row among empty ones. */
const SHAPES: [number, number, number, number][] = [
  [1, 1, 1, 1],
  [3, 5, 2, 1],
  [17, 63, 65, 0.3],
  [65, 20, 257, 0.05],
  [40, 9, 15, 0],
];

describe.skipIf(!gpu.context)(`sparse_unrolled ${gpu.label}`, () => {
  const ctx = gpu.context!;

  async function runLayer(layer: CsrLayer, x: Float32Array, batch: number, relu: boolean, layout: 'sample-major' | 'feature-major', WG: number): Promise<Float32Array> {
    const shape = { batch, inSize: layer.inSize, outSize: layer.outSize, nonzeros: layer.indices.length, bias: layer.bias !== undefined };
    const kernel = await compileKernel(ctx, unrolledSparseKernel(layer, { WG }), shape);
    const buffers = [
      inputBuffer(ctx, 'x', layout === 'feature-major' ? transpose(x, batch, layer.inSize) : x.length ? x : new Float32Array(1)),
      poisonedBuffer(ctx, 'y', Math.max(1, batch * layer.outSize)),
      uniformBuffer(ctx, 'params', sparseParams(batch, layer, relu, layout, layout)),
      ...(layer.bias ? [inputBuffer(ctx, 'bias', layer.bias.length ? layer.bias : new Float32Array(1))] : []),
    ];
    await submitDispatches(ctx, kernel.name, [bindKernel(ctx, kernel, 'test', buffers)]);
    const y = await readBuffer(ctx, buffers[1]!, new Float32Array(batch * layer.outSize));
    for (const b of buffers) b.destroy();
    return layout === 'feature-major' ? transpose(y, layer.outSize, batch) : y;
  }

  for (const { WG } of SPARSE_UNROLLED_GEOMETRIES) {
    it.each(SHAPES)(`WG ${WG}: [%i → %i] × batch %i at density %f, biases off and on, matches csrForward`, async (inSize, outSize, batch, density) => {
      const random = mulberry32(inSize * 7919 + outSize * 31 + batch + WG);
      for (const bias of [false, true]) {
        const layer = randomLayer(random, inSize, outSize, density, bias);
        const x = randomFloats(random, batch * inSize);
        const tolerance = { rel: 1e-4, abs: 1e-6 * longestRow(layer) };
        for (const relu of [false, true]) {
          const reference = csrForward(layer, x, batch, relu);
          for (const layout of ['feature-major', 'sample-major'] as const) {
            expectClose(await runLayer(layer, x, batch, relu, layout, WG), reference, tolerance, `[${batch}, ${outSize}] relu ${relu} bias ${bias} ${layout}`);
          }
        }
      }
    });
  }

  /** The training form on a dense [in, out] buffer whose pruned positions are NaN, sample-major as the trainer holds activations. */
  async function runTrainingForm(weights: Float32Array, mask: Uint8Array, inSize: number, outSize: number, x: Float32Array, batch: number, relu: boolean, bias: Float32Array | undefined, WG: number): Promise<Float32Array> {
    const { indptr, indices } = csrIndexByOutput(mask, inSize, outSize);
    const { descriptor, kept } = unrolledTrainingForward({ inSize, outSize, indptr, indices }, { WG });
    const kernel = await compileKernel(ctx, descriptor, { batch, inSize, outSize, nonzeros: kept.length, bias: bias !== undefined });
    const dense = weights.map((w, p) => (mask[p] ? w : NaN));
    const buffers = [
      inputBuffer(ctx, 'x', x.length ? x : new Float32Array(1)),
      poisonedBuffer(ctx, 'y', Math.max(1, batch * outSize)),
      uniformBuffer(ctx, 'params', sparseParams(batch, { inSize, outSize }, relu, 'sample-major', 'sample-major')),
      inputBuffer(ctx, 'bias', bias?.length ? bias : new Float32Array(1)),
      inputBuffer(ctx, 'w', dense),
      inputBuffer(ctx, 'kept', kept),
    ];
    await submitDispatches(ctx, kernel.name, [bindKernel(ctx, kernel, 'test', buffers)]);
    const y = await readBuffer(ctx, buffers[1]!, new Float32Array(batch * outSize));
    for (const b of buffers) b.destroy();
    return y;
  }

  for (const { WG } of SPARSE_UNROLLED_GEOMETRIES) {
    it.each(SHAPES.filter(([, , , density]) => density > 0))(`training form, WG ${WG}: [%i → %i] × batch %i at density %f, weights from the dense buffer, matches csrForward`, async (inSize, outSize, batch, density) => {
      const random = mulberry32(inSize * 7919 + outSize * 31 + batch + WG + 1);
      for (const bias of [false, true]) {
        const layer = randomLayer(random, inSize, outSize, density, bias);
        const { weights, mask } = denseOf(layer);
        const x = randomFloats(random, batch * inSize);
        const tolerance = { rel: 1e-4, abs: 1e-6 * longestRow(layer) };
        for (const relu of [false, true]) {
          const y = await runTrainingForm(weights, mask, inSize, outSize, x, batch, relu, layer.bias, WG);
          expectClose(y, csrForward(layer, x, batch, relu), tolerance, `[${batch}, ${outSize}] relu ${relu} bias ${bias}`);
        }
      }
    });
  }

  it('training form: the seed network\'s first layer after compaction (447 → 90, 11.5% kept) matches csrForward at batch 800', async () => {
    const random = mulberry32(447);
    const layer = randomLayer(random, 447, 90, 0.115, false);
    const { weights, mask } = denseOf(layer);
    const x = randomFloats(random, 800 * 447, 0, 1);
    expect(unrollableForTraining(ctx, layer)).toBe(ctx.device.limits.maxComputeWorkgroupStorageSize >= layer.values.length * 4);
    if (!unrollableForTraining(ctx, layer)) return;
    const y = await runTrainingForm(weights, mask, 447, 90, x, 800, true, undefined, SPARSE_UNROLLED_GEOMETRIES[0]!.WG);
    expectClose(y, csrForward(layer, x, 800, true), { rel: 1e-4, abs: 1e-6 * longestRow(layer) }, '447 → 90');
  });

  it('writes the weights into the program exactly: one weight times 1 gives the weight', async () => {
    const values = Float32Array.of(0.1, -1 / 3, 3.4028234e38, 2 ** -126, -0);
    for (const w of values) {
      const layer = csrLayer(Float32Array.of(w), Uint8Array.of(1), 1, 1);
      const [y] = await runLayer(layer, Float32Array.of(1), 1, false, 'sample-major', SPARSE_UNROLLED_GEOMETRIES[0]!.WG);
      expect(Object.is(y, w) || y === w, `weight ${w}`).toBe(true);
    }
  });

  it('in the hybrid engine, next to CSR and dense layers, with and without biases, gives sparseInfer\'s logits', async () => {
    for (const biases of [false, true]) {
      const net = initNetwork([60, 30, 20, 10], 5, biases);
      if (biases) net.biases = net.sizes.slice(1).map((out, l) => randomFloats(mulberry32(l + 3), out, -0.5, 0.5));
      pruneToSparsity(net, 0.8, 'layer');
      const { compact } = compactNetwork(net);
      // Forced mixes, and the cost model's own choice when asked to price sparse_unrolled.
      for (const layerKernels of [['unrolled', 'dense', 'unrolled'], ['sparse', 'unrolled', 'dense'], ['dense', 'unrolled', 'sparse'], undefined] as const) {
        const engine = await createHybridInference(ctx, compact, { maxBatch: 130, layerKernels, unrolled: true });
        for (const count of [1, 63, 130]) {
          const inputs = randomFloats(mulberry32(count + 7), count * 60, 0, 1);
          const expected = sparseInfer(csrLayers(net), inputs, count);
          expectClose((await engine.infer(inputs, count)).logits, expected.logits, { rel: 1e-4, abs: 1e-5 }, `${layerKernels?.join('/') ?? 'chosen'} biases ${biases} batch ${count}`);
        }
        engine.dispose();
      }
    }
  });
});

describe('sparse_unrolled eligibility and cost', () => {
  const layerOf = (values: number[]): CsrLayer => csrLayer(Float32Array.from(values), new Uint8Array(values.length).fill(1), values.length, 1);

  it('refuses weights the program cannot carry (NaN, infinity, subnormal), layers without weights and layers past UNROLLED_MAX_NONZEROS or UNROLLED_MAX_INPUTS', () => {
    expect(unrollable(layerOf([0.5, -2, 0]))).toBe(true);
    for (const bad of [NaN, Infinity, 2 ** -130]) {
      expect(unrollable(layerOf([0.5, bad])), String(bad)).toBe(false);
      expect(() => unrolledSparseKernel(layerOf([bad]))).toThrow(/cannot be written into the program/);
    }
    expect(unrollable(layerOf([]))).toBe(false);
    expect(() => unrolledSparseKernel(layerOf([]))).toThrow(/keeps no weight/);
    const full = (inSize: number, outSize: number): CsrLayer => csrLayer(new Float32Array(inSize * outSize).fill(0.5), new Uint8Array(inSize * outSize).fill(1), inSize, outSize);
    expect(unrollable(full(UNROLLED_MAX_INPUTS, UNROLLED_MAX_NONZEROS / UNROLLED_MAX_INPUTS))).toBe(true);
    expect(unrollable(full(UNROLLED_MAX_INPUTS / 2 + 1, (2 * UNROLLED_MAX_NONZEROS) / UNROLLED_MAX_INPUTS))).toBe(false);
    expect(unrollable(layerOf(new Array(UNROLLED_MAX_INPUTS + 1).fill(0.5)))).toBe(false);
    expect(() => unrolledSparseKernel(layerOf(new Array(UNROLLED_MAX_INPUTS + 1).fill(0.5)))).toThrow(/more than the 2048 its program can hold/);
  });

  it('training form: refuses a layer without weights or with more inputs than the row holds, and takes one only where its kept weights fit the workgroup memory', () => {
    const structure = (inSize: number, outSize: number, nonzeros: number) => ({
      inSize,
      outSize,
      indptr: Int32Array.from({ length: outSize + 1 }, (_, o) => Math.min(o, nonzeros)),
      indices: Int32Array.from({ length: nonzeros }, () => 0),
    });
    expect(() => unrolledTrainingForward(structure(3, 2, 0))).toThrow(/keeps no weight/);
    expect(() => unrolledTrainingForward(structure(UNROLLED_MAX_INPUTS + 1, 2, 2))).toThrow(/more than the 2048/);
    const withLimit = (bytes: number) => ({ device: { limits: { maxComputeWorkgroupStorageSize: bytes } } }) as unknown as Parameters<typeof unrollableForTraining>[0];
    expect(unrollableForTraining(withLimit(16384), structure(3, 4096, 4096))).toBe(true);
    expect(unrollableForTraining(withLimit(16384), structure(3, 4097, 4097))).toBe(false);
    expect(unrollableForTraining(withLimit(16384), structure(3, 2, 0))).toBe(false);
    const { kept } = unrolledTrainingForward({ inSize: 3, outSize: 2, indptr: [0, 2, 3], indices: [0, 2, 1] });
    // Program order: block of outputs 0–1, by input (0: output 0; 1: output 1; 2: output 0), as indices into the [3, 2] buffer.
    expect([...kept]).toEqual([0, 3, 4]);
  });

  it('gives distinct layers distinct programs and the same layer the same one', () => {
    const a = unrolledSparseKernel(layerOf([0.5, 0.25]));
    expect(unrolledSparseKernel(layerOf([0.5, 0.25])).programId).toBe(a.programId);
    expect(unrolledSparseKernel(layerOf([0.5, 0.125])).programId).not.toBe(a.programId);
  });

  it('runs the seed network\'s 90→93 layer unrolled at batch 10 000 at its cost, and dense where the costs have none (the default tuning)', () => {
    const layer = { inSize: 90, outSize: 93, nonzeros: 2931 };
    const kernels = { dense: matmulV3(8), sparse: SPARSE_V3, unrolled: unrolledSparseKernel(layerOf([0.5])) };
    expect(chooseLayerKernel(layer, 10000, kernels, { ...DEFAULT_TUNING.costs, sparse_unrolled: UNROLLED_COST })).toBe('unrolled');
    expect(chooseLayerKernel(layer, 10000, kernels, DEFAULT_TUNING.costs)).toBe('dense');
    expect(chooseLayerKernel(layer, 10000, { dense: kernels.dense, sparse: kernels.sparse }, DEFAULT_TUNING.costs)).toBe('dense');
  });
});
