/** Storage buffers: creation with labels, uploads, and read-backs into caller-owned arrays. */
import { detectDeviceLoss, type GpuContext } from './device';
import { waitForGpu } from './wait';

/**
 * GPUBufferUsage.STORAGE | COPY_DST | COPY_SRC, spelled as the spec's flag values: in Node the
 * `GPUBufferUsage` global exists only once Dawn is loaded, after this module is evaluated.
 */
export const STORAGE = 0x0080 | 0x0008 | 0x0004;

/** STORAGE | UNIFORM: a buffer that may stand in for either kind of binding. */
export const STORAGE_OR_UNIFORM = STORAGE | 0x0040;

/** Buffer sizes are rounded up to 4 bytes; WebGPU requires it for copies and writes. */
function alignedSize(bytes: number): number {
  return Math.max(4, Math.ceil(bytes / 4) * 4);
}

export function createBuffer(ctx: GpuContext, label: string, bytes: number, usage = STORAGE): GPUBuffer {
  return ctx.device.createBuffer({ label, size: alignedSize(bytes), usage });
}

export function uploadBuffer(ctx: GpuContext, label: string, data: ArrayBufferView, usage = STORAGE): GPUBuffer {
  const buffer = createBuffer(ctx, label, data.byteLength, usage);
  ctx.device.queue.writeBuffer(buffer, 0, data.buffer, data.byteOffset, data.byteLength);
  return buffer;
}

/** Queues a write of a typed array (or a view of one) into `buffer` at byte `offset`. */
export function writeArray(ctx: GpuContext, buffer: GPUBuffer, offset: number, data: ArrayBufferView): void {
  ctx.device.queue.writeBuffer(buffer, offset, data.buffer as ArrayBuffer, data.byteOffset, data.byteLength);
}

export function uniformBuffer(ctx: GpuContext, label: string, data: ArrayBufferView): GPUBuffer {
  return uploadBuffer(ctx, label, data, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
}

/** Copies `source` into `into` (whole length) through a staging buffer and waits for it. */
export async function readBuffer<T extends Float32Array | Uint32Array | Int32Array>(
  ctx: GpuContext,
  source: GPUBuffer,
  into: T,
  sourceOffset = 0,
): Promise<T> {
  const { device } = ctx;
  const staging = device.createBuffer({
    label: `${source.label}:readback`,
    size: alignedSize(into.byteLength),
    usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
  });
  try {
    return await detectDeviceLoss(ctx, () => `reading ${source.label}`, async () => {
      const encoder = device.createCommandEncoder({ label: `${source.label}:readback` });
      encoder.copyBufferToBuffer(source, sourceOffset, staging, 0, alignedSize(into.byteLength));
      device.queue.submit([encoder.finish()]);
      await waitForGpu(staging.mapAsync(GPUMapMode.READ));
      const Ctor = into.constructor as new (b: ArrayBuffer, o: number, n: number) => T;
      into.set(new Ctor(staging.getMappedRange(), 0, into.length));
      staging.unmap();
      return into;
    });
  } finally {
    staging.destroy();
  }
}
