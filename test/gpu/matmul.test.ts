/**
 * matmul_v1/v2/v3/v4 against the plain-loop references in src/cpu/ops.ts, in the three training
 * forms and with each fused epilogue (the forward ones also with a bias), on fresh random inputs,
 * outputs poisoned with NaN. The momentum step's epilogue writes the weights too: accumulateVelocity
 * then maskedMomentumUpdate, with the masked weights NaN (they must stay untouched).
 *
 * With `kFromCount` the sum runs over the first `count` k only: the k past it hold NaN, which must
 * not reach C.
 *
 * Tolerance: rel 1e-4, plus abs 1e-6·K. The reference sums in float64; the kernels sum K products
 * in float32 in another order. With inputs in [−1, 1] the partial sums stay around √K/3, so each
 * of the K roundings adds about 2⁻²⁴·√K/3 and their sum stays well under 1e-7·K; 1e-6·K leaves a
 * wide margin while a wrong, missing or doubled product (|a·b| ≈ 0.25 on average) still fails.
 */
import { describe, expect, it } from 'vitest';
import { accumulateVelocity, addBias, maskedMomentumUpdate, matmul, matmulTransA, matmulTransB, relu, reluGradMask } from '../../src/cpu/ops';
import { readBuffer, uniformBuffer } from '../../src/gpu/buffers';
import type { GpuContext } from '../../src/gpu/device';
import { bindKernel, compileKernel, submitDispatches } from '../../src/gpu/dispatch';
import {
  defaultMatmulVersion,
  matmulKernel,
  matmulVariants,
  matmulVersionFor,
  subgroupSize,
  type Epilogue,
  type MatmulDescriptor,
  type MatmulSpec,
  type MatmulVersion,
} from '../../src/gpu/kernels';
import { DEFAULT_TUNING } from '../../src/gpu/tuning';
import { expectClose } from '../helpers/expect-close';
import { testGpu } from '../helpers/gpu';
import { inputBuffer, maskAsFloats, poisonedBuffer } from '../helpers/gpu-buffers';
import { mulberry32, randomFloats, randomMask } from '../helpers/random';

const gpu = await testGpu();

/**
 * [m, k, n]: single elements, either side of the 128 tile of v2 and of the 128×32 tile of v3,
 * the 4×256 tile of v4, batches of 1 and 2 (v4's rows), the MLP's shapes.
 */
const SHAPES: [number, number, number][] = [
  [1, 1, 1],
  [1, 784, 100],
  [2, 100, 10],
  [3, 9, 255],
  [5, 7, 257],
  [63, 17, 65],
  [65, 63, 1],
  [127, 129, 31],
  [129, 33, 33],
  [800, 784, 100],
  [784, 800, 100],
  [800, 100, 784],
  [800, 100, 10],
  // Layers that pruning emptied: no inputs (K = 0: C is the epilogue of 0), no rows or columns.
  [5, 0, 7],
  [130, 0, 33],
  [0, 6, 9],
  [4, 3, 0],
];

interface Case {
  spec: MatmulSpec;
  a: Float32Array;
  b: Float32Array;
  cBefore: Float32Array | null;
  aux: Float32Array | null;
  bias: Float32Array | null;
  expected: Float32Array;
  /** With `spec.kFromCount`: the count binding 5 holds. */
  count?: number;
  /** The momentum step's weights before and after, and its (lr, momentum). */
  step?: { w: Float32Array; expectedW: Float32Array; hyper: Float32Array };
}

/** The momentum step's rates, as float32 (the uniform holds them so). */
const [STEP_LR, STEP_MOMENTUM] = [Math.fround(0.37), Math.fround(0.9)];

function makeCase(spec: MatmulSpec, seed: number): Case {
  const { m, k, n } = spec;
  const random = mulberry32(seed);
  const a = randomFloats(random, m * k);
  const b = randomFloats(random, k * n);
  const expected = new Float32Array(m * n);
  if (spec.transA) matmulTransA(a, b, expected, m, k, n);
  else if (spec.transB) matmulTransB(a, b, expected, m, k, n);
  else matmul(a, b, expected, m, k, n);
  const bias = spec.bias ? randomFloats(random, n) : null;
  if (bias) addBias(expected, bias, m, n);
  let cBefore: Float32Array | null = null;
  let aux: Float32Array | null = null;
  let step: Case['step'];
  switch (spec.epilogue ?? 'none') {
    case 'relu':
      relu(expected);
      break;
    case 'reluGrad': {
      // h as a hidden layer has it: about half the units inactive (exactly 0).
      const h = randomFloats(random, m * n);
      relu(h);
      reluGradMask(expected, h);
      aux = h;
      break;
    }
    case 'accumulateVelocity': {
      const mask = randomMask(random, m * n, 0.3);
      cBefore = randomFloats(random, m * n);
      for (let i = 0; i < cBefore.length; i++) if (!mask[i]) cBefore[i] = 0;
      const v = cBefore.slice();
      accumulateVelocity(v, expected, mask);
      expected.set(v);
      aux = maskAsFloats(mask);
      break;
    }
    case 'momentumStep': {
      const mask = randomMask(random, m * n, 0.3);
      cBefore = randomFloats(random, m * n);
      for (let i = 0; i < cBefore.length; i++) if (!mask[i]) cBefore[i] = 0;
      const w = randomFloats(random, m * n).map((value, i) => (mask[i] ? value : NaN));
      const [v, expectedW] = [cBefore.slice(), w.slice()];
      accumulateVelocity(v, expected, mask);
      maskedMomentumUpdate(expectedW, v, mask, STEP_LR, STEP_MOMENTUM);
      expected.set(v);
      aux = maskAsFloats(mask);
      step = { w, expectedW, hyper: Float32Array.of(STEP_LR, STEP_MOMENTUM) };
      break;
    }
    case 'none':
      break;
  }
  return { spec, a, b, cBefore, aux, bias, expected, ...(step ? { step } : {}) };
}

/**
 * A case of `spec` (with `kFromCount`) whose count is `count`: the reference sums the first
 * min(count, k) k, and op(A), op(B) hold NaN at every k past them.
 */
function countedCase(spec: MatmulSpec, count: number, seed: number): Case {
  const { m, k, n, transA, transB } = spec;
  const used = Math.min(count, k);
  const c = makeCase({ ...spec, k: used, kFromCount: false }, seed);
  const a = new Float32Array(m * k).fill(NaN);
  const b = new Float32Array(k * n).fill(NaN);
  for (let kk = 0; kk < used; kk++) {
    for (let row = 0; row < m; row++) a[transA ? kk * m + row : row * k + kk] = c.a[transA ? kk * m + row : row * used + kk]!;
    for (let col = 0; col < n; col++) b[transB ? col * k + kk : kk * n + col] = c.b[transB ? col * used + kk : kk * n + col]!;
  }
  return { ...c, spec, a, b, count };
}

/**
 * Runs a case on a version as `matmulKernel` builds it, or on a descriptor with another geometry,
 * and compares C (and the momentum step's weights) with the reference.
 */
async function expectCase(ctx: GpuContext, kernelOf: MatmulVersion | MatmulDescriptor, c: Case, label: string): Promise<void> {
  const { m, k, n } = c.spec;
  const kernel = typeof kernelOf === 'number' ? await matmulKernel(ctx, c.spec, kernelOf) : await compileKernel(ctx, kernelOf, c.spec);
  const out = c.cBefore ? inputBuffer(ctx, 'c', c.cBefore) : poisonedBuffer(ctx, 'c', m * n);
  const buffers = [inputBuffer(ctx, 'a', c.a), inputBuffer(ctx, 'b', c.b), out, inputBuffer(ctx, 'aux', c.aux ?? new Float32Array(1))];
  // A binding the case does not read is left off the end: bindKernel binds its placeholder.
  if (c.bias) buffers.push(inputBuffer(ctx, 'bias', c.bias));
  else if (c.count !== undefined || c.step) buffers.push(inputBuffer(ctx, 'no bias', new Float32Array(1)));
  if (c.count !== undefined || c.step) buffers.push(inputBuffer(ctx, 'count', new Uint32Array([c.count ?? 0])));
  const w = c.step ? inputBuffer(ctx, 'w', c.step.w) : null;
  if (w) buffers.push(w, uniformBuffer(ctx, 'rates', c.step!.hyper));
  await submitDispatches(ctx, kernel.name, [bindKernel(ctx, kernel, 'test', buffers)]);
  const tolerance = { rel: 1e-4, abs: 1e-6 * k };
  expectClose(await readBuffer(ctx, out, new Float32Array(m * n)), c.expected, tolerance, label);
  if (w) expectClose(await readBuffer(ctx, w, new Float32Array(m * n)), c.step!.expectedW, tolerance, `${label}: weights`);
  buffers.forEach((b) => b.destroy());
}

const FORMS: { label: string; transA?: boolean; transB?: boolean }[] = [
  { label: 'A·B' },
  { label: 'A·Bᵀ', transB: true },
  { label: 'Aᵀ·B', transA: true },
];

const EPILOGUE_CASES: { form: number; epilogue: Epilogue }[] = [
  { form: 0, epilogue: 'relu' },
  { form: 1, epilogue: 'reluGrad' },
  { form: 2, epilogue: 'accumulateVelocity' },
];

describe.skipIf(!gpu.context)(`matmul kernels ${gpu.label}`, () => {
  const ctx = gpu.context!;
  // Collected even when the suite is skipped, with no context.
  const versions: MatmulVersion[] = gpu.context && subgroupSize(gpu.context) > 0 ? [1, 2, 3, 4] : [1, 2, 4];
  for (const version of versions) {
    describe(`matmul_v${version}`, () => {
      for (const form of FORMS) {
        it(`${form.label} on ${SHAPES.length} shapes`, async () => {
          let seed = 1;
          for (const [m, k, n] of SHAPES) {
            const c = makeCase({ m, k, n, transA: form.transA, transB: form.transB }, version * 1000 + seed++);
            await expectCase(ctx, version, c, `${form.label} [${m}x${k}]·[${k}x${n}]`);
          }
        });
      }
      for (const { form, epilogue } of EPILOGUE_CASES) {
        const f = FORMS[form]!;
        it(`${f.label} with the ${epilogue} epilogue`, async () => {
          for (const [m, k, n] of [[1, 784, 100], [2, 33, 257], [65, 63, 1], [129, 33, 33], [100, 800, 10], [3, 0, 5], [130, 0, 9]] as [number, number, number][]) {
            const c = makeCase({ m, k, n, transA: f.transA, transB: f.transB, epilogue }, version * 7 + m);
            await expectCase(ctx, version, c, `${f.label} ${epilogue} [${m}x${k}x${n}]`);
          }
        });
      }
      // The forms the forward pass uses: X·W, and Xᵀ·W after a sparse layer's feature-major output.
      for (const f of FORMS.filter((form) => !form.transB)) {
        for (const epilogue of ['none', 'relu'] as const) {
          it(`${f.label} + bias with the ${epilogue} epilogue`, async () => {
            for (const [m, k, n] of [[1, 784, 100], [2, 33, 257], [65, 63, 1], [129, 33, 33], [3, 0, 5], [130, 0, 9]] as [number, number, number][]) {
              const c = makeCase({ m, k, n, transA: f.transA, epilogue, bias: true }, version * 11 + m);
              await expectCase(ctx, version, c, `${f.label} + bias ${epilogue} [${m}x${k}x${n}]`);
            }
          });
        }
      }
      // The weight gradient over the packed rows (Aᵀ·B into the velocity, with the momentum step or
      // without) and the other forms: counts of none, one, some, all and more than k, the k past them NaN.
      it(`kFromCount: the three forms sum the first count k only`, async () => {
        let seed = 900;
        for (const form of FORMS) {
          const epilogues: Epilogue[] = form.transA ? ['accumulateVelocity', 'momentumStep'] : ['none'];
          for (const [m, k, n] of [[100, 800, 10], [129, 300, 33], [37, 97, 65], [5, 0, 7]] as [number, number, number][]) {
            for (const count of [0, 1, Math.floor(k * 0.28) + 1, k, k + 50]) {
              for (const epilogue of epilogues) {
                const c = countedCase({ m, k, n, transA: form.transA, transB: form.transB, epilogue, kFromCount: true }, count, seed++);
                await expectCase(ctx, version, c, `${form.label} ${epilogue} [${m}x${k}x${n}], count ${count}`);
              }
            }
          }
        }
      });
    });
  }

  // Geometries other than the descriptors' own, each leaving partial tiles in both directions on
  // these shapes (and an empty K): the overrides reach the shaders, and the dispatch sizes follow
  // them. Few shapes: every one is a pipeline that a software adapter compiles for a second or two.
  const variantShapes: [number, number, number][] = [
    [3, 9, 255],
    [65, 63, 1],
    [129, 33, 33],
    [130, 0, 9],
  ];
  // Every variant a tuning may pick besides the descriptors' own (`matmulVariants`).
  const sg = gpu.context ? subgroupSize(gpu.context) : 0;
  const variants = versions.flatMap((version) => matmulVariants(version, sg).slice(1));
  for (const variant of variants) {
    const geometry = Object.entries(variant.geometry).map(([key, value]) => `${key} ${value}`).join(' ');
    it(`${variant.name} with ${geometry}: the three forms on ${variantShapes.length} shapes`, async () => {
      let seed = 1;
      for (const form of FORMS) {
        for (const [m, k, n] of variantShapes) {
          const c = makeCase({ m, k, n, transA: form.transA, transB: form.transB, epilogue: form.transA ? 'accumulateVelocity' : 'none' }, seed++);
          await expectCase(ctx, variant, c, `${form.label} [${m}x${k}]·[${k}x${n}]`);
        }
      }
      for (const [m, k, n] of variantShapes) {
        const c = makeCase({ m, k, n, epilogue: 'relu', bias: true }, seed++);
        await expectCase(ctx, variant, c, `A·B + bias relu [${m}x${k}]·[${k}x${n}]`);
        const counted = countedCase({ m, k, n, transA: true, epilogue: 'momentumStep', kFromCount: true }, Math.floor(k / 3) + 1, seed++);
        await expectCase(ctx, variant, counted, `Aᵀ·B, count ${counted.count} [${m}x${k}]·[${k}x${n}]`);
      }
    });
  }

  /**
   * op(A) as training has it: whole columns k of zeros (an image's border pixels, a neuron no
   * sample activates) and scattered zeros (ReLU). `zeroColumns(k)` says which columns are zero.
   */
  function zeroStretchCase(spec: MatmulSpec, seed: number, zeroColumns: (k: number) => boolean, infiniteB: boolean): Case {
    const { m, k: depth, n, transA, transB } = spec;
    const c = makeCase(spec, seed);
    const random = mulberry32(seed + 1);
    const aIndex = (row: number, k: number): number => (transA ? k * m + row : row * depth + k);
    const bIndex = (k: number, col: number): number => (transB ? col * depth + k : k * n + col);
    for (let row = 0; row < m; row++) {
      for (let k = 0; k < depth; k++) if (zeroColumns(k) || random() < 0.5) c.a[aIndex(row, k)] = 0;
    }
    const finiteB = c.b.slice();
    if (infiniteB) {
      for (let k = 0; k < depth; k++) if (zeroColumns(k)) for (let col = 0; col < n; col++) c.b[bIndex(k, col)] = Infinity;
    }
    // The reference adds nothing for a zero column, so its B there may be anything finite.
    if (transA) matmulTransA(c.a, finiteB, c.expected, m, depth, n);
    else if (transB) matmulTransB(c.a, finiteB, c.expected, m, depth, n);
    else matmul(c.a, finiteB, c.expected, m, depth, n);
    return c;
  }

  const border = (depth: number) => (k: number) => k < depth * 0.3 || k > depth * 0.85 || k % 7 === 0;
  for (const version of versions) {
    it(`matmul_v${version}: op(A) with zero columns and scattered zeros, the three forms`, async () => {
      let seed = 500;
      for (const form of FORMS) {
        for (const [m, k, n] of [[129, 97, 33], [800, 784, 100], [65, 63, 1]] as [number, number, number][]) {
          const c = zeroStretchCase({ m, k, n, transA: form.transA, transB: form.transB }, seed++, border(k), false);
          await expectCase(ctx, version, c, `${form.label} [${m}x${k}]·[${k}x${n}]`);
        }
      }
    });
  }
  // v3 skips a k step whose op(A) is 0 on all of a subgroup's rows, as the seed skips zero
  // activations: an infinite op(B) there adds nothing, where 0·∞ would make the sum NaN.
  if (versions.includes(3)) {
    it('matmul_v3: a column of op(A) that is 0 in every row adds nothing, even against an infinite op(B)', async () => {
      let seed = 700;
      for (const form of FORMS) {
        for (const [m, k, n] of [[129, 97, 33], [800, 100, 10]] as [number, number, number][]) {
          const c = zeroStretchCase({ m, k, n, transA: form.transA, transB: form.transB, epilogue: form.transA ? 'none' : 'relu' }, seed++, border(k), true);
          if (!form.transA) relu(c.expected);
          await expectCase(ctx, 3, c, `${form.label} [${m}x${k}]·[${k}x${n}], ∞ in op(B)`);
        }
      }
    });
  }

  it('picks the few-rows kernel up to fewRowsMaxM rows, the default kernel above', async () => {
    const fullTile = defaultMatmulVersion(ctx);
    const maxM = DEFAULT_TUNING.fewRowsMaxM[fullTile];
    expect(matmulVersionFor(ctx, { m: 1, k: 784, n: 100 })).toBe(4);
    expect(matmulVersionFor(ctx, { m: maxM, k: 100, n: 10 })).toBe(4);
    expect(matmulVersionFor(ctx, { m: maxM + 1, k: 100, n: 10 })).toBe(fullTile);
    expect(matmulVersionFor(ctx, { m: 784, k: 800, n: 100, transA: true })).toBe(fullTile);
    expect((await matmulKernel(ctx, { m: 2, k: 4, n: 4 })).name).toMatch(/^matmul_v4\[/);
  });

  it('refuses a binding smaller than the shape', async () => {
    const kernel = await matmulKernel(ctx, { m: 4, k: 4, n: 4 }, 2);
    const small = poisonedBuffer(ctx, 'small', 8);
    expect(() => bindKernel(ctx, kernel, 'test', [small, small, small, small])).toThrow(/binding 0/);
    small.destroy();
  });

  it('takes the bias, count and momentum-step bindings only from a matmul that reads them, and a bias only on the forward epilogues', async () => {
    const [plain, biased, counted, step] = await Promise.all([
      matmulKernel(ctx, { m: 4, k: 4, n: 4 }, 2),
      matmulKernel(ctx, { m: 4, k: 4, n: 4, bias: true }, 2),
      matmulKernel(ctx, { m: 4, k: 4, n: 4, transA: true, kFromCount: true }, 2),
      matmulKernel(ctx, { m: 4, k: 4, n: 4, transA: true, epilogue: 'momentumStep', kFromCount: true }, 2),
    ]);
    const buffer = poisonedBuffer(ctx, 'any', 16);
    expect(() => bindKernel(ctx, plain, 'test', [buffer, buffer, buffer])).toThrow(/3 bindings given, it takes 8/);
    expect(() => bindKernel(ctx, biased, 'test', [buffer, buffer, buffer, buffer])).toThrow(/4 bindings given, it takes 8/);
    expect(() => bindKernel(ctx, counted, 'test', [buffer, buffer, buffer, buffer, buffer])).toThrow(/5 bindings given, it takes 8/);
    expect(() => bindKernel(ctx, step, 'test', [buffer, buffer, buffer, buffer, buffer, buffer])).toThrow(/6 bindings given, it takes 8/);
    expect(() => matmulKernel(ctx, { m: 4, k: 4, n: 4, transB: true, epilogue: 'reluGrad', bias: true }, 2)).toThrow(/only by the forward epilogues/);
    buffer.destroy();
  });
});
