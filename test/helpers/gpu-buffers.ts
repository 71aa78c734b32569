/** Buffers for kernel tests: inputs uploaded as given, outputs poisoned with NaN first. */
import { createBuffer, STORAGE, writeArray } from '../../src/gpu/buffers';
import type { GpuContext } from '../../src/gpu/device';

export function inputBuffer(ctx: GpuContext, label: string, data: Float32Array | Uint32Array): GPUBuffer {
  const buffer = createBuffer(ctx, label, data.byteLength, STORAGE);
  writeArray(ctx, buffer, 0, data);
  return buffer;
}

/** An output buffer full of NaN, so an element the kernel never writes fails the comparison. */
export function poisonedBuffer(ctx: GpuContext, label: string, count: number): GPUBuffer {
  return inputBuffer(ctx, label, new Float32Array(count).fill(NaN));
}

export function maskAsFloats(mask: Uint8Array): Float32Array {
  return Float32Array.from(mask);
}
