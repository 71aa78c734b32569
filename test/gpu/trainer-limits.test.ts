/**
 * What GpuTrainer.create refuses before it allocates (a batch or a layer that passes the binding
 * limit: checked on a stand-in context, no adapter needed), and that a failure after it has
 * allocated destroys every buffer it made, the resident training set among them.
 */
import { describe, expect, it } from 'vitest';
import type { GpuContext } from '../../src/gpu/device';
import { GpuTrainer } from '../../src/gpu/trainer';
import { DEFAULT_TUNING } from '../../src/gpu/tuning';
import { initNetwork } from '../../src/model/network';
import { testGpu } from '../helpers/gpu';
import { pixelData } from '../helpers/overflow';

const gpu = await testGpu();
const CONFIG = { batchSize: 8, confidence: 0.99 };

describe('GpuTrainer.create before it allocates', () => {
  // A device whose buffers may bind 1 KiB: no GPU call is reached.
  const small = { device: { limits: { maxStorageBufferBindingSize: 1024, minStorageBufferOffsetAlignment: 256 } }, tuning: DEFAULT_TUNING } as unknown as GpuContext;

  it('refuses a batch whose activations pass the binding limit, naming the bytes', async () => {
    const net = initNetwork([4, 8, 2], 1);
    await expect(GpuTrainer.create(small, net, pixelData(100, 4, 2, 1), { ...CONFIG, batchSize: 40 })).rejects.toThrow(
      "GPU trainer: a batch of 40 samples × 8 activations (1280 bytes) passes the adapter's binding limit of 1024 bytes; a smaller batch fits",
    );
  });

  it('refuses a layer whose weights pass the binding limit', async () => {
    const net = initNetwork([4, 70, 2], 1);
    await expect(GpuTrainer.create(small, net, pixelData(100, 4, 2, 1), { ...CONFIG, batchSize: 1 })).rejects.toThrow(
      "GPU trainer: layer 0's weights [4, 70] (1120 bytes) pass the adapter's binding limit of 1024 bytes",
    );
  });
});

describe.skipIf(!gpu.context)(`GpuTrainer.create after it allocates ${gpu.label}`, () => {
  it('destroys every buffer it made when a kernel is refused', async () => {
    const ctx = gpu.context!;
    const made: GPUBuffer[] = [];
    const destroyed = new Set<GPUBuffer>();
    // The real device, with its buffers counted; a tuning that gives every matmul a geometry the
    // kernel tests do not cover, so create fails at the kernels, after the buffers.
    const device = new Proxy(ctx.device, {
      get(target, key) {
        if (key !== 'createBuffer') return Reflect.get(target, key, target);
        return (descriptor: GPUBufferDescriptor) => {
          const b = target.createBuffer(descriptor);
          const destroy = b.destroy.bind(b);
          b.destroy = () => {
            destroyed.add(b);
            destroy();
          };
          made.push(b);
          return b;
        };
      },
    });
    const uncovered = { matmul_v2: { V2_WG: 3, V2_TK: 3 }, matmul_v3: { SG: 8, WG: 8, ROWS: 3, COLS: 8 }, matmul_v4: { V4_WG: 3, V4_ROWS: 3 } };
    const counting = { ...ctx, device, tuning: { ...ctx.tuning, geometry: uncovered } } as GpuContext;
    const net = initNetwork([6, 5, 3], 1);
    await expect(GpuTrainer.create(counting, net, pixelData(32, 6, 3, 2), CONFIG)).rejects.toThrow('not one the kernel tests cover');
    expect(made.length).toBeGreaterThan(5);
    expect(made.filter((b) => !destroyed.has(b))).toEqual([]);
  });
});
