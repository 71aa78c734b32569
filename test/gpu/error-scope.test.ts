/**
 * withErrorScope on a stand-in device that records its error scopes: every scope it pushes is
 * popped, when the work throws too (a scope left pushed would swallow the device's later errors),
 * and a GPU error in the scope becomes a KernelError named by the caller.
 */
import { describe, expect, it } from 'vitest';
import { KernelError, withErrorScope } from '../../src/gpu/program';

function recordingDevice(errors: (GPUError | null)[] = []) {
  const scopes: string[] = [];
  const device = {
    pushErrorScope: (filter: string) => void scopes.push(filter),
    popErrorScope: async () => {
      if (scopes.pop() === undefined) throw new Error('popped an empty error scope stack');
      return errors.shift() ?? null;
    },
  };
  return { device: device as unknown as GPUDevice, scopes };
}

describe('withErrorScope', () => {
  it('returns what the work (sync or async) returns, with its scopes popped', async () => {
    const { device, scopes } = recordingDevice();
    expect(await withErrorScope(device, 'kernel k', () => 7)).toBe(7);
    expect(await withErrorScope(device, 'kernel k', async () => 8)).toBe(8);
    expect(scopes).toEqual([]);
  });

  it('pops its scopes when the work throws, and throws what the work threw', async () => {
    const { device, scopes } = recordingDevice([{ message: 'a later error' } as GPUError]);
    const failure = new RangeError('the work failed');
    await expect(withErrorScope(device, 'kernel k', () => { throw failure; })).rejects.toBe(failure);
    await expect(withErrorScope(device, 'GPU trainer epoch', async () => { await Promise.resolve(); throw failure; })).rejects.toBe(failure);
    expect(scopes).toEqual([]);
  });

  it('names the caller in a GPU error caught by its scopes', async () => {
    const { device } = recordingDevice([null, { message: 'out of memory' } as GPUError]);
    const run = withErrorScope(device, 'kernel matmul_v3[4x4x4 A·B]', () => undefined);
    await expect(run).rejects.toThrow(KernelError);
    await expect(run).rejects.toThrow('kernel matmul_v3[4x4x4 A·B]: out of memory');
    await expect(withErrorScope(recordingDevice([{ message: 'invalid bind group' } as GPUError]).device, 'GPU trainer epoch', () => undefined)).rejects.toThrow('GPU trainer epoch: invalid bind group');
  });
});
