/**
 * The sparse training kernels (shaders/sparse_train_*.wgsl) against their plain-loop references
 * on fresh random inputs, in every geometry a tuning may pick: the forward pass against
 * csrForward, the input gradient against sparseInputGradient, the weight gradient against
 * sparseWeightGradient (then maskedMomentumUpdate, with the seed's step fused). Shapes are not
 * multiples of the workgroups; masks have an empty and a full input row and output column;
 * outputs are poisoned with NaN first, the weight gradient's masked entries and the rows past its
 * count too (they must stay untouched and unread).
 *
 * Tolerance: rel 1e-4, plus abs 1e-6·(terms in the longest sum). The references sum in float64,
 * the kernels in float32; with values in [−1, 1] the roundings stay far below that, while a
 * missing or doubled product (≈ 0.25 on average) fails.
 */
import { describe, expect, it } from 'vitest';
import { csrForward, csrLayer } from '../../src/cpu/sparse-forward';
import { sparseInputGradient, sparseWeightGradient } from '../../src/cpu/sparse-training';
import { maskedMomentumUpdate } from '../../src/cpu/ops';
import { readBuffer, uniformBuffer } from '../../src/gpu/buffers';
import { bindKernel, compileKernel, submitDispatches, type KernelDescriptor } from '../../src/gpu/dispatch';
import { SPARSE_TRAINING_VARIANTS, sparseTrainingIndex, type SparseTrainingShape } from '../../src/gpu/sparse-training-kernels';
import { expectClose } from '../helpers/expect-close';
import { testGpu } from '../helpers/gpu';
import { inputBuffer } from '../helpers/gpu-buffers';
import { mulberry32, randomFloats, randomMask } from '../helpers/random';

const gpu = await testGpu();

/** [in, out, batch]: single elements; either side of the row tiles (16·8, 32·3, 64·2 rows); layers that pruning emptied. */
const SHAPES: [number, number, number][] = [
  [1, 1, 1],
  [37, 19, 13],
  [70, 33, 131],
  [0, 5, 9],
  [6, 0, 3],
];
const DENSITIES = [1, 0.3, 0.05, 0];

/** A random mask with input row 0 empty, row 1 full, output column 0 empty, column 1 full, where the layer has them. */
function layerMask(random: () => number, inSize: number, outSize: number, density: number): Uint8Array {
  const mask = randomMask(random, inSize * outSize, density);
  for (let j = 0; j < outSize; j++) {
    if (inSize > 2) [mask[j], mask[outSize + j]] = [0, 1];
  }
  for (let i = 0; i < inSize; i++) {
    if (outSize > 2) [mask[i * outSize], mask[i * outSize + 1]] = [0, 1];
  }
  return mask;
}

/** The weight gradient's (lr, momentum) uniform. */
const HYPER_BINDING = 7;

/** A binding's data, at least one element (a buffer of 0 bytes cannot be bound). */
const atLeastOne = <T extends Float32Array | Uint32Array>(a: T): T => (a.length > 0 ? a : (new (a.constructor as new (n: number) => T)(1)));

describe.skipIf(!gpu.context)(`sparse training kernels ${gpu.label}`, () => {
  const ctx = gpu.context!;

  /** Runs one kernel on `data` (binding `uniformAt` a uniform buffer) and reads back the `outputs` bindings. */
  async function run(descriptor: KernelDescriptor<SparseTrainingShape>, shape: SparseTrainingShape, data: (Float32Array | Uint32Array)[], outputs: number[], uniformAt = -1): Promise<Float32Array[]> {
    const kernel = await compileKernel(ctx, descriptor, shape);
    const buffers = data.map((d, b) => (b === uniformAt ? uniformBuffer(ctx, 'uniform', d) : inputBuffer(ctx, `binding ${b}`, atLeastOne(d))));
    await submitDispatches(ctx, kernel.name, [bindKernel(ctx, kernel, 'test', buffers)]);
    const read = await Promise.all(outputs.map((b) => readBuffer(ctx, buffers[b]!, new Float32Array(data[b]!.length))));
    for (const b of buffers) b.destroy();
    return read;
  }

  const geometryName = (d: { name: string; geometry: Record<string, number> }): string =>
    `${d.name} ${Object.entries(d.geometry).map(([key, value]) => `${key} ${value}`).join(' ')}`;

  for (const descriptor of SPARSE_TRAINING_VARIANTS.forward) {
    it.each(SHAPES)(`${geometryName(descriptor)}: [%i → %i] × batch %i, with and without bias and ReLU, matches csrForward`, async (inSize, outSize, batch) => {
      const random = mulberry32(inSize * 7919 + outSize * 31 + batch + descriptor.geometry.WG);
      for (const density of DENSITIES) {
        const mask = layerMask(random, inSize, outSize, density);
        const w = randomFloats(random, inSize * outSize);
        const x = randomFloats(random, batch * inSize);
        const index = sparseTrainingIndex(mask, inSize, outSize);
        for (const bias of [undefined, randomFloats(random, outSize)]) {
          for (const relu of [false, true]) {
            const shape = { batch, inSize, outSize, capacity: index.outRows.length, relu, bias: bias !== undefined };
            const data = [x, index.outPtr, index.outRows, w, new Float32Array(batch * outSize).fill(NaN), ...(bias ? [bias] : [])];
            const [y] = await run(descriptor, shape, data, [4]);
            const reference = csrForward(csrLayer(w, mask, inSize, outSize, bias), x, batch, relu);
            expectClose(y!, reference, { rel: 1e-4, abs: 1e-6 * Math.max(1, inSize) }, `[${batch}, ${outSize}] density ${density} bias ${bias !== undefined} relu ${relu}`);
          }
        }
      }
    });
  }

  for (const descriptor of SPARSE_TRAINING_VARIANTS.inputGrad) {
    it.each(SHAPES)(`${geometryName(descriptor)}: [%i → %i] × batch %i matches sparseInputGradient, clearing non-finite activations`, async (inSize, outSize, batch) => {
      const random = mulberry32(inSize * 31 + outSize * 7 + batch + descriptor.geometry.WG);
      for (const density of DENSITIES) {
        const mask = layerMask(random, inSize, outSize, density);
        const w = randomFloats(random, inSize * outSize);
        const dy = randomFloats(random, batch * outSize);
        // Activations: a third ≤ 0, a few NaN and ±Inf.
        const a = randomFloats(random, batch * inSize, -0.5, 1);
        for (let k = 0; k < a.length; k += 7) a[k] = [NaN, Infinity, -Infinity][k % 3]!;
        const index = sparseTrainingIndex(mask, inSize, outSize);
        const shape = { batch, inSize, outSize, capacity: index.positions.length };
        const data = [dy, index.inPtr, index.positions, w, new Float32Array(batch * inSize).fill(NaN), a.slice()];
        const [dx, cleared] = await run(descriptor, shape, data, [4, 5]);
        const wantA = a.slice();
        const reference = sparseInputGradient(dy, w, mask, wantA, batch, inSize, outSize);
        const when = `[${batch}, ${inSize}] density ${density}`;
        expectClose(dx!, reference, { rel: 1e-4, abs: 1e-6 * Math.max(1, outSize) }, when);
        expect(Array.from(cleared!), `${when}: activations`).toEqual(Array.from(wantA));
      }
    });
  }

  for (const descriptor of SPARSE_TRAINING_VARIANTS.weightGrad) {
    it.each(SHAPES)(
      `${geometryName(descriptor)}: [%i → %i] × batch %i matches sparseWeightGradient at kept positions (with the momentum step or without), leaves the rest`,
      async (inSize, outSize, batch) => {
        const random = mulberry32(inSize * 131 + outSize * 17 + batch + descriptor.geometry.WG);
        const [lr, momentum] = [Math.fround(0.37), Math.fround(0.9)];
        for (const density of DENSITIES) {
          for (const count of [batch, Math.floor(batch / 2), 0]) {
            for (const seedStep of [false, true]) {
              const mask = layerMask(random, inSize, outSize, density);
              const g = randomFloats(random, batch * outSize);
              // Rows past the count are never read: NaN there would show.
              g.fill(NaN, count * outSize);
              const a = randomFloats(random, batch * inSize);
              a.fill(NaN, count * inSize);
              // The masked entries must stay as they are: NaN.
              const v = randomFloats(random, inSize * outSize).map((value, p) => (mask[p] ? value : NaN));
              const w = randomFloats(random, inSize * outSize).map((value, p) => (mask[p] ? value : NaN));
              const index = sparseTrainingIndex(mask, inSize, outSize);
              // An index holding fewer positions than its capacity, as after a pruning pass: the extra
              // invocations do nothing (the stale entries past nnz name a kept weight, which would be added twice).
              const shape = { batch, inSize, outSize, capacity: index.positions.length + 5, seedStep };
              const positions = new Uint32Array(shape.capacity).fill(index.positions[0] ?? 0);
              positions.set(index.positions);
              const data = [a, g, index.inPtr, positions, Uint32Array.of(count), v.slice(), w.slice(), Float32Array.of(lr, momentum)];
              const [gotV, gotW] = await run(descriptor, shape, data, [5, 6], HYPER_BINDING);
              const [wantV, wantW] = [v.slice(), w.slice()];
              sparseWeightGradient(a, g, mask, wantV, count, inSize, outSize);
              if (seedStep) maskedMomentumUpdate(wantW, wantV, mask, lr, momentum);
              const when = `[${inSize}, ${outSize}] density ${density}, ${count} rows${seedStep ? ', momentum step' : ''}`;
              expectClose(gotV!, wantV, { rel: 1e-4, abs: 1e-6 * Math.max(1, count) }, `${when}: v`);
              expectClose(gotW!, wantW, { rel: 1e-4, abs: 1e-6 * Math.max(1, count) }, `${when}: w`);
            }
          }
        }
      },
    );
  }

  it('builds the index of a mask in both orders', () => {
    // 3 inputs × 4 outputs; kept: (0,1) (0,3) (1,1) (2,0) (2,1)
    const mask = Uint8Array.from([0, 1, 0, 1, 0, 1, 0, 0, 1, 1, 0, 0]);
    const index = sparseTrainingIndex(mask, 3, 4);
    expect(Array.from(index.positions)).toEqual([1, 3, 5, 8, 9]);
    expect(Array.from(index.inPtr)).toEqual([0, 2, 3, 5]);
    expect(Array.from(index.outPtr)).toEqual([0, 1, 4, 4, 5]);
    expect(Array.from(index.outRows)).toEqual([2, 0, 1, 2, 0]);
  });
});
