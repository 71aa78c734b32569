/**
 * The bias-gradient kernel (shaders/bias_grad.wgsl) against a plain loop on fresh random inputs:
 * no row, some rows and every row backpropagated, widths and batches that are not multiples of
 * the workgroup's columns or row lanes, in the descriptor's geometry and two others. The rows past
 * the count are NaN (the kernel must not read them) and so is the count's word past the end of
 * a one-word window; the sums start from random values (the kernel adds to them). Tolerance
 * rel 1e-5, abs 1e-5: the kernel adds up to 300 float32 values in another order than the loop's
 * float64 sum.
 */
import { describe, it } from 'vitest';
import { BIAS_GRAD, biasGradKernel } from '../../src/gpu/bias-kernels';
import { readBuffer } from '../../src/gpu/buffers';
import { bindKernel, compileKernel, submitDispatches, type Kernel } from '../../src/gpu/dispatch';
import { expectClose } from '../helpers/expect-close';
import { testGpu } from '../helpers/gpu';
import { inputBuffer } from '../helpers/gpu-buffers';
import { mulberry32, randomFloats } from '../helpers/random';

const gpu = await testGpu();

/** The reference: sum[o] + Σ_{r < count} dy[r, o], summed in float64. */
function addColumnSums(dy: Float32Array, count: number, width: number, sum: Float32Array): Float64Array {
  const out = Float64Array.from(sum);
  for (let r = 0; r < count; r++) {
    for (let o = 0; o < width; o++) out[o] = out[o]! + dy[r * width + o]!;
  }
  return out;
}

const GEOMETRIES = [BIAS_GRAD.geometry, { COLS: 5, LANES: 3 }, { COLS: 64, LANES: 1 }];

/** [batch, width, backpropagated rows] */
const CASES: [number, number, number][] = [
  [1, 1, 1],
  [13, 5, 0],
  [13, 5, 13],
  [13, 5, 6],
  [300, 37, 41],
  [257, 100, 257],
  [300, 10, 299],
];

describe.skipIf(!gpu.context)(`bias_grad ${gpu.label}`, () => {
  const ctx = gpu.context!;

  for (const geometry of GEOMETRIES) {
    for (const [batch, width, count] of CASES) {
      it(`batch ${batch}, ${width} columns, ${count} rows backpropagated, ${geometry.COLS} columns × ${geometry.LANES} lanes`, async () => {
        const random = mulberry32(batch * 31 + width * 7 + count + geometry.COLS);
        const dy = randomFloats(random, batch * width).map((v, i) => (i < count * width ? v : NaN));
        const start = randomFloats(random, width, -3, 3);
        const kernel: Kernel =
          geometry === BIAS_GRAD.geometry ? await biasGradKernel(ctx, batch, width) : await compileKernel(ctx, { ...BIAS_GRAD, geometry }, { batch, width });
        const countWords = inputBuffer(ctx, 'count', new Uint32Array([count, 0xffffffff]));
        const sum = inputBuffer(ctx, 'sums', start);
        const dyBuffer = inputBuffer(ctx, 'dy', dy);
        const binding = { buffer: countWords, offset: 0, size: 4 };
        await submitDispatches(ctx, kernel.name, [bindKernel(ctx, kernel, 'test', [dyBuffer, binding, sum])]);
        expectClose(await readBuffer(ctx, sum, new Float32Array(width)), addColumnSums(dy, count, width, start), { rel: 1e-5, abs: 1e-5 }, `[${width}]`);
        [countWords, sum, dyBuffer].forEach((b) => b.destroy());
      });
    }
  }
});
