/** Backend selection for the CLI: a GPU context, or null to run on the JS reference. */
import { acquireDevice, adapterName, GpuUnavailableError, type GpuContext } from '../gpu/device';
import { useCachedTuning } from '../gpu/tuning-cache';
import { dawnGpu } from '../node/dawn';
import { FileTuningStore, PACKAGE_VERSION, tuningCachePath } from '../node/tuning-store';
import type { CommandIo } from './io';
import type { BackendChoice, Command, GpuSelection } from './parse';

/** Whether `command` may load Dawn (and so hear from the driver). */
export function mayOpenGpu(command: Command): boolean {
  switch (command.name) {
    case 'train':
    case 'eval':
      return command.backend !== 'cpu';
    case 'devices':
    case 'bench':
    case 'tune':
      return true;
    default:
      return false;
  }
}

/** Dawn's `GPU` for the adapter the flags select. */
export function loadDawn(selection: GpuSelection): GPU {
  try {
    return dawnGpu({ adapter: selection.adapter, backend: selection.dawnBackend });
  } catch (err) {
    throw new GpuUnavailableError(`cannot load Dawn's WebGPU bindings: ${(err as Error).message}`);
  }
}

/** A device on the selected adapter; device loss and uncaptured errors are reported on stderr. */
export function openDevice(gpu: GPU, io: CommandIo): Promise<GpuContext> {
  return acquireDevice(gpu, { onError: (m) => io.err(`webgpu-prune: ${m}`) });
}

/** The tuning cache of this user, with its warnings on stderr. */
export function tuningStore(io: CommandIo): FileTuningStore {
  return new FileTuningStore(tuningCachePath(), (line) => io.err(`webgpu-prune: ${line}`));
}

/**
 * A device on the selected adapter running the kernel choices `tune` cached for it, or the
 * defaults when it was not tuned; stderr names the adapter and says which.
 */
export async function openTunedDevice(gpu: GPU, io: CommandIo): Promise<GpuContext> {
  const context = await openDevice(gpu, io);
  const entry = await useCachedTuning(context, tuningStore(io), PACKAGE_VERSION, (line) => io.err(`webgpu-prune: ${line}`));
  const choices = entry ? `kernel choices tuned ${entry.tunedAt.slice(0, 10)}` : 'default kernel choices (not tuned; webgpu-prune tune measures this adapter)';
  io.err(`GPU: ${adapterName(context.adapter)}; ${choices}`);
  return context;
}

/**
 * `gpu`: a context or a GpuUnavailableError; `auto`: a context, or null after saying why (but an
 * explicit --adapter or --dawn-backend that finds nothing is an error); `cpu`: null.
 */
export async function selectBackend(choice: BackendChoice, selection: GpuSelection, io: CommandIo): Promise<GpuContext | null> {
  if (choice === 'cpu') return null;
  try {
    return await openTunedDevice(loadDawn(selection), io);
  } catch (err) {
    const asked = choice === 'gpu' || selection.adapter !== undefined || selection.dawnBackend !== undefined;
    if (asked || !(err instanceof GpuUnavailableError)) throw err;
    io.err(`No usable WebGPU adapter (${err.message}); running on the CPU (JS reference).`);
    return null;
  }
}
