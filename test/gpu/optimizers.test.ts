/**
 * The update kernels of shaders/optimizers.wgsl (sgd, momentum, adam, adamw) against their
 * plain-loop reference, optimizerStep in src/cpu/optimizers.ts, over three steps on fresh random
 * weights, state and gradient sums, with weight decay. Every pruned entry of every buffer starts
 * as NaN (and the gradient sum's pruned entries are NaN at every step), so a kernel that skips an
 * element or reads a pruned gradient fails; pruned weights and their moments must end exactly 0,
 * and every gradient sum 0 (consumed). Tolerance rel 1e-4, abs 1e-6: a handful of float32
 * operations per element, the reference the same in float64.
 * The bias variants (BIASES) against biasStep: every entry updated, none decayed (the steps'
 * weight decay is not 0); their mask binding is one word holding 0, which would clear the
 * biases if the kernel read it.
 */
import { describe, expect, it } from 'vitest';
import { biasStep, optimizerStep, type StepConstants } from '../../src/cpu/optimizers';
import { readBuffer, uniformBuffer, writeArray } from '../../src/gpu/buffers';
import { bindKernel, submitDispatches } from '../../src/gpu/dispatch';
import { HYPER_FLOATS, optimizerUpdateKernel, STATE_BUFFERS, writeHyper, type UpdateRule } from '../../src/gpu/optimizer-kernels';
import { expectClose } from '../helpers/expect-close';
import { testGpu } from '../helpers/gpu';
import { inputBuffer, maskAsFloats } from '../helpers/gpu-buffers';
import { mulberry32, randomFloats, randomMask } from '../helpers/random';

const gpu = await testGpu();

const RULES: UpdateRule[] = ['sgd', 'momentum', 'adam', 'adamw'];

/** Each step's constants; the batch size divides the gradient sums. */
const STEPS: StepConstants[] = [
  { lr: 0.05, momentum: 0.9, weightDecay: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, batch: 13, step: 1 },
  { lr: 0.03, momentum: 0.8, weightDecay: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, batch: 13, step: 2 },
  { lr: 0.02, momentum: 0.5, weightDecay: 0.1, beta1: 0.5, beta2: 0.9, eps: 1e-3, batch: 7, step: 3 },
];

/** `values` with NaN where the mask drops the entry. */
function poisonPruned(values: Float32Array, mask: Uint8Array): Float32Array {
  return values.map((v, i) => (mask[i] ? v : NaN));
}

describe.skipIf(!gpu.context)(`optimizer update kernels ${gpu.label}`, () => {
  const ctx = gpu.context!;

  // Either side of the 64-invocation workgroup, and not a multiple of it.
  for (const rule of RULES) {
    for (const count of [1, 63, 65, 1001]) {
      it(`update_${rule} over ${count} weights, 3 steps: matches the reference, pruned entries end exactly 0`, async () => {
        const random = mulberry32(count * 7 + rule.length);
        const mask = randomMask(random, count, 0.7);
        if (count > 1) [mask[0], mask[1]] = [1, 0];
        const states = STATE_BUFFERS[rule];
        // The reference's arrays, pruned entries 0 as a trainer keeps them; the GPU's start poisoned there.
        const w = randomFloats(random, count).map((v, i) => (mask[i] ? v : 0));
        const first = randomFloats(random, count, -0.1, 0.1).map((v, i) => (mask[i] && states > 0 ? v : 0));
        const second = randomFloats(random, count, 0, 0.01).map((v, i) => (mask[i] && states > 1 ? v : 0));
        const gradientSum = new Float32Array(count);
        const kernel = await optimizerUpdateKernel(ctx, rule, count);
        const wBuffer = inputBuffer(ctx, 'w', poisonPruned(w, mask));
        const sumBuffer = inputBuffer(ctx, 'gradient sums', new Float32Array(count));
        const maskBuffer = inputBuffer(ctx, 'mask', maskAsFloats(mask));
        const stateBuffers = [first, second].slice(0, states).map((s, k) => inputBuffer(ctx, `state ${k}`, poisonPruned(s, mask)));
        for (const c of STEPS) {
          const sums = randomFloats(random, count, -5, 5);
          writeArray(ctx, sumBuffer, 0, poisonPruned(sums, mask));
          gradientSum.set(sums);
          const hyperValues = new Float32Array(HYPER_FLOATS);
          writeHyper(hyperValues, 0, { kind: rule, weightDecay: c.weightDecay, beta1: c.beta1, beta2: c.beta2, eps: c.eps }, c.lr, c.momentum, c.batch, c.step);
          const hyper = uniformBuffer(ctx, 'hyper', hyperValues);
          await submitDispatches(ctx, kernel.name, [bindKernel(ctx, kernel, 'test', [wBuffer, sumBuffer, maskBuffer, hyper, ...stateBuffers])]);
          optimizerStep(rule, { w, gradientSum, mask, first, second }, c);
          hyper.destroy();
        }
        const read = (b: GPUBuffer) => readBuffer(ctx, b, new Float32Array(count));
        expectClose(await read(wBuffer), w, { rel: 1e-4, abs: 1e-6 }, `w [${count}]`);
        expect(Array.from(await read(sumBuffer)).every((v) => Object.is(v, 0))).toBe(true);
        const expectedStates = [first, second].slice(0, states);
        for (const [k, b] of stateBuffers.entries()) expectClose(await read(b), expectedStates[k]!, { rel: 1e-4, abs: 1e-6 }, `state ${k} [${count}]`);
        for (const b of [wBuffer, ...stateBuffers]) {
          const values = await read(b);
          for (let i = 0; i < count; i++) if (!mask[i] && !Object.is(values[i], 0)) throw new Error(`pruned entry ${i} is ${values[i]}`);
        }
        [wBuffer, sumBuffer, maskBuffer, ...stateBuffers].forEach((b) => b.destroy());
      });
    }
  }

  for (const rule of RULES) {
    for (const count of [1, 65, 101]) {
      it(`update_${rule} over ${count} biases, 3 steps: matches biasStep (no mask, no decay)`, async () => {
        const random = mulberry32(count * 13 + rule.length);
        const states = STATE_BUFFERS[rule];
        const b = randomFloats(random, count);
        const first = states > 0 ? randomFloats(random, count, -0.1, 0.1) : new Float32Array(count);
        const second = states > 1 ? randomFloats(random, count, 0, 0.01) : new Float32Array(count);
        const gradientSum = new Float32Array(count);
        const kernel = await optimizerUpdateKernel(ctx, rule, count, true);
        const bBuffer = inputBuffer(ctx, 'biases', b);
        const sumBuffer = inputBuffer(ctx, 'gradient sums', new Float32Array(count));
        const zeroWord = inputBuffer(ctx, 'unread mask', new Float32Array(1));
        const stateBuffers = [first, second].slice(0, states).map((s, k) => inputBuffer(ctx, `state ${k}`, s));
        for (const c of STEPS) {
          const sums = randomFloats(random, count, -5, 5);
          writeArray(ctx, sumBuffer, 0, sums);
          gradientSum.set(sums);
          const hyperValues = new Float32Array(HYPER_FLOATS);
          writeHyper(hyperValues, 0, { kind: rule, weightDecay: c.weightDecay, beta1: c.beta1, beta2: c.beta2, eps: c.eps }, c.lr, c.momentum, c.batch, c.step);
          const hyper = uniformBuffer(ctx, 'hyper', hyperValues);
          await submitDispatches(ctx, kernel.name, [bindKernel(ctx, kernel, 'test', [bBuffer, sumBuffer, zeroWord, hyper, ...stateBuffers])]);
          biasStep(rule, { w: b, gradientSum, first, second }, c);
          hyper.destroy();
        }
        const read = (buffer: GPUBuffer) => readBuffer(ctx, buffer, new Float32Array(count));
        expectClose(await read(bBuffer), b, { rel: 1e-4, abs: 1e-6 }, `biases [${count}]`);
        expect(Array.from(await read(sumBuffer)).every((v) => Object.is(v, 0))).toBe(true);
        const expectedStates = [first, second].slice(0, states);
        for (const [k, buffer] of stateBuffers.entries()) expectClose(await read(buffer), expectedStates[k]!, { rel: 1e-4, abs: 1e-6 }, `bias state ${k} [${count}]`);
        [bBuffer, sumBuffer, zeroWord, ...stateBuffers].forEach((buffer) => buffer.destroy());
      });
    }
  }
});
