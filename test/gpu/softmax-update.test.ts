/**
 * softmax_grad and update against src/cpu/ops.ts, and apply_mask against applyMasks
 * (src/model/network.ts), on fresh random inputs, outputs poisoned with NaN. Tolerance rel 1e-4
 * (abs 1e-6): softmax_grad and update do a handful of float32 operations per element, the
 * references the same in float64, so the difference is a few float32 roundings; apply_mask only
 * writes zeros, so it is compared exactly. The update's bias variant (BIASES) against
 * biasMomentumUpdate: every entry moves, and its mask binding is one word holding 0, which would
 * leave them all unmoved if the kernel read it.
 */
import { describe, expect, it } from 'vitest';
import { allFinite } from '../../src/cpu/forward';
import { crossEntropy, maskedMomentumUpdate, softmaxGrad, type SoftmaxGradCounts } from '../../src/cpu/ops';
import { readBuffer, uniformBuffer, writeArray } from '../../src/gpu/buffers';
import { bindKernel, submitDispatches } from '../../src/gpu/dispatch';
import { biasMomentumUpdate } from '../../src/cpu/trainer';
import { applyMaskKernel, softmaxGradKernel, updateKernel } from '../../src/gpu/kernels';
import { applyMasks } from '../../src/model/network';
import { expectClose } from '../helpers/expect-close';
import { testGpu } from '../helpers/gpu';
import { inputBuffer, maskAsFloats, poisonedBuffer } from '../helpers/gpu-buffers';
import { mulberry32, randomFloats, randomMask } from '../helpers/random';

const gpu = await testGpu();

/** (lr, momentum) of the update tests' three steps. */
const MOMENTUM_STEPS = [
  [0.5, 0.67],
  [0.25, 0.9],
  [0.125, 0.5],
] as const;

describe.skipIf(!gpu.context)(`softmax_grad and update kernels ${gpu.label}`, () => {
  const ctx = gpu.context!;

  // [batch, classes, logit scale]: either side of the 64-sample workgroup, and logits far past
  // exp's float32 range (89), which only the max-subtracted softmax survives.
  const SOFTMAX_CASES: [number, number, number][] = [
    [1, 10, 3],
    [63, 10, 3],
    [65, 3, 3],
    [800, 10, 8],
    [129, 10, 300],
  ];
  /** Runs softmax_grad on `logits`, checks the gradient and the counters against the reference, returns the counts. */
  async function checkSoftmaxGrad(logits: Float32Array, batch: number, classes: number, random: () => number): Promise<SoftmaxGradCounts> {
    const targets = Uint32Array.from({ length: batch }, () => Math.floor(random() * classes));
    const confidence = 0.6;
    const expected = new Float32Array(batch * classes);
    const expectedBackprop = new Uint32Array(batch);
    const counts = softmaxGrad(logits, targets, expected, batch, classes, confidence, expectedBackprop);
    const kernel = await softmaxGradKernel(ctx, batch, classes, confidence);
    const grad = poisonedBuffer(ctx, 'grad', batch * classes);
    const counters = inputBuffer(ctx, 'counters', new Uint32Array(3));
    // Poisoned with a value that is neither flag.
    const backprop = inputBuffer(ctx, 'backprop', new Uint32Array(batch).fill(7));
    // The kernel adds each sample's loss to what its slot holds: start from earlier sums.
    const earlier = randomFloats(random, batch, 0, 5);
    const expectedLoss = earlier.map((sum, s) => (allFinite(logits.subarray(s * classes, (s + 1) * classes)) ? sum + crossEntropy(logits, s * classes, classes, targets[s]!) : sum));
    const loss = inputBuffer(ctx, 'loss', earlier);
    const buffers = [inputBuffer(ctx, 'logits', logits), inputBuffer(ctx, 'targets', targets), grad, counters, backprop, loss];
    await submitDispatches(ctx, kernel.name, [bindKernel(ctx, kernel, 'test', buffers)]);
    expectClose(await readBuffer(ctx, grad, new Float32Array(batch * classes)), expected, { rel: 1e-4, abs: 1e-6 }, `[${batch}x${classes}]`);
    expect(await readBuffer(ctx, backprop, new Uint32Array(batch))).toEqual(expectedBackprop);
    expectClose(await readBuffer(ctx, loss, new Float32Array(batch)), expectedLoss, { rel: 1e-5, abs: 1e-5 }, `loss [${batch}]`);
    const [correct, backpropagated, nonFinite] = await readBuffer(ctx, counters, new Uint32Array(3));
    expect({ correct, backpropagated, nonFinite }).toEqual({ correct: counts.correct, backpropagated: counts.backpropagated, nonFinite: counts.nonFinite });
    buffers.forEach((b) => b.destroy());
    return counts;
  }

  for (const [batch, classes, scale] of SOFTMAX_CASES) {
    it(`softmax_grad on [${batch}x${classes}], logits ±${scale}`, async () => {
      const random = mulberry32(batch * 31 + classes);
      const logits = randomFloats(random, batch * classes, -scale, scale);
      // A few exact ties: the first maximum must win, as in the reference.
      if (batch > 1) logits.copyWithin(classes + 1, classes, classes + 1);
      const counts = await checkSoftmaxGrad(logits, batch, classes, random);
      expect(counts.backpropagated).toBeGreaterThan(0);
      expect(counts.nonFinite).toBe(0);
    });
  }

  it('softmax_grad: a sample with a NaN or infinite logit is only counted as non-finite, its gradient 0', async () => {
    const [batch, classes] = [70, 10];
    const random = mulberry32(70);
    const logits = randomFloats(random, batch * classes, -3, 3);
    // One value in every third sample; the largest finite float32s are not overflows.
    const values = [NaN, Infinity, -Infinity, 3.4e38, -3.4e38];
    let overflowed = 0;
    for (let s = 0, v = 0; s < batch; s += 3, v++) {
      const value = values[v % values.length]!;
      logits[s * classes + Math.floor(random() * classes)] = value;
      if (!Number.isFinite(value)) overflowed++;
    }
    const counts = await checkSoftmaxGrad(logits, batch, classes, random);
    expect(counts.nonFinite).toBe(overflowed);
    expect(counts.backpropagated).toBeGreaterThan(0);
  });

  for (const count of [1, 63, 65, 78_400]) {
    it(`update over ${count} weights, 3 steps: matches, pruned entries stay exactly 0`, async () => {
      const random = mulberry32(count);
      const mask = randomMask(random, count, 0.3);
      const w = randomFloats(random, count);
      const v = randomFloats(random, count);
      for (let i = 0; i < count; i++) if (!mask[i]) w[i] = v[i] = 0;
      const kernel = await updateKernel(ctx, count);
      const wBuffer = inputBuffer(ctx, 'w', w);
      const vBuffer = inputBuffer(ctx, 'v', v);
      const maskBuffer = inputBuffer(ctx, 'mask', maskAsFloats(mask));
      for (const [lr, momentum] of MOMENTUM_STEPS) {
        const hyper = uniformBuffer(ctx, 'hyper', new Float32Array([lr, momentum]));
        await submitDispatches(ctx, kernel.name, [bindKernel(ctx, kernel, 'test', [wBuffer, vBuffer, maskBuffer, hyper])]);
        maskedMomentumUpdate(w, v, mask, lr, momentum);
        hyper.destroy();
      }
      const wGpu = await readBuffer(ctx, wBuffer, new Float32Array(count));
      const vGpu = await readBuffer(ctx, vBuffer, new Float32Array(count));
      expectClose(wGpu, w, { rel: 1e-4, abs: 1e-6 }, `w [${count}]`);
      expectClose(vGpu, v, { rel: 1e-4, abs: 1e-6 }, `v [${count}]`);
      for (let i = 0; i < count; i++) {
        if (!mask[i] && (!Object.is(wGpu[i], 0) || !Object.is(vGpu[i], 0))) throw new Error(`pruned entry ${i} became w=${wGpu[i]} v=${vGpu[i]}`);
      }
      [wBuffer, vBuffer, maskBuffer].forEach((b) => b.destroy());
    });
  }

  for (const count of [1, 65, 101]) {
    it(`update over ${count} biases, 3 steps: matches biasMomentumUpdate (no mask)`, async () => {
      const random = mulberry32(count + 5);
      const b = randomFloats(random, count);
      const v = randomFloats(random, count);
      const kernel = await updateKernel(ctx, count, true);
      const buffers = [inputBuffer(ctx, 'biases', b), inputBuffer(ctx, 'velocities', v), inputBuffer(ctx, 'unread mask', new Float32Array(1))];
      for (const [lr, momentum] of MOMENTUM_STEPS) {
        const hyper = uniformBuffer(ctx, 'hyper', new Float32Array([lr, momentum]));
        await submitDispatches(ctx, kernel.name, [bindKernel(ctx, kernel, 'test', [...buffers, hyper])]);
        biasMomentumUpdate(b, v, lr, momentum);
        hyper.destroy();
      }
      expectClose(await readBuffer(ctx, buffers[0]!, new Float32Array(count)), b, { rel: 1e-4, abs: 1e-6 }, `biases [${count}]`);
      expectClose(await readBuffer(ctx, buffers[1]!, new Float32Array(count)), v, { rel: 1e-4, abs: 1e-6 }, `velocities [${count}]`);
      buffers.forEach((buffer) => buffer.destroy());
    });
  }

  // Either side of the 64-invocation workgroup, and a layer of the seed's network plus one.
  for (const count of [1, 63, 65, 1000, 78_401]) {
    it(`apply_mask over ${count} weights zeroes exactly the weights and velocities its mask drops`, async () => {
      const random = mulberry32(count + 3);
      const mask = randomMask(random, count, 0.3);
      const w = randomFloats(random, count);
      const v = randomFloats(random, count);
      // The entries the kernel must write are NaN, so one it misses fails the comparison.
      for (let i = 0; i < count; i++) if (!mask[i]) w[i] = v[i] = NaN;
      const expected = { sizes: [count, 1], weights: [w.slice()], masks: [mask] };
      const expectedV = [v.slice()];
      applyMasks(expected, expectedV);
      const kernel = await applyMaskKernel(ctx, count);
      const buffers = [inputBuffer(ctx, 'w', w), inputBuffer(ctx, 'v', v), inputBuffer(ctx, 'mask', maskAsFloats(mask))];
      await submitDispatches(ctx, kernel.name, [bindKernel(ctx, kernel, 'test', buffers)]);
      expect(await readBuffer(ctx, buffers[0]!, new Float32Array(count))).toEqual(expected.weights[0]);
      expect(await readBuffer(ctx, buffers[1]!, new Float32Array(count))).toEqual(expectedV[0]);
      buffers.forEach((b) => b.destroy());
    });
  }

  it('update leaves poisoned pruned entries alone and writes every live one', async () => {
    const count = 130;
    const mask = randomMask(mulberry32(5), count, 0.5);
    const kernel = await updateKernel(ctx, count);
    const w = poisonedBuffer(ctx, 'w', count);
    const v = inputBuffer(ctx, 'v', new Float32Array(count).fill(2));
    const hyper = uniformBuffer(ctx, 'hyper', new Float32Array([1, 0.5]));
    writeArray(ctx, w, 0, new Float32Array(count).fill(1));
    await submitDispatches(ctx, kernel.name, [bindKernel(ctx, kernel, 'test', [w, v, inputBuffer(ctx, 'mask', maskAsFloats(mask)), hyper])]);
    const wGpu = await readBuffer(ctx, w, new Float32Array(count));
    const vGpu = await readBuffer(ctx, v, new Float32Array(count));
    for (let i = 0; i < count; i++) {
      expect([wGpu[i], vGpu[i]]).toEqual(mask[i] ? [3, 1] : [1, 2]);
    }
  });
});
