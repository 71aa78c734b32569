/** Backend selection for the CLI: a GPU context, or null to run on the JS reference. */
import { acquireDevice, adapterName, GpuUnavailableError, type GpuContext } from '../gpu/device';
import { dawnGpu } from '../node/dawn';
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

/**
 * `gpu`: a context or a GpuUnavailableError; `auto`: a context, or null after saying why (but an
 * explicit --adapter or --dawn-backend that finds nothing is an error); `cpu`: null.
 */
export async function selectBackend(choice: BackendChoice, selection: GpuSelection, io: CommandIo): Promise<GpuContext | null> {
  if (choice === 'cpu') return null;
  try {
    const context = await openDevice(loadDawn(selection), io);
    io.err(`GPU: ${adapterName(context.adapter)}`);
    return context;
  } catch (err) {
    const asked = choice === 'gpu' || selection.adapter !== undefined || selection.dawnBackend !== undefined;
    if (asked || !(err instanceof GpuUnavailableError)) throw err;
    io.err(`No usable WebGPU adapter (${err.message}); running on the CPU (JS reference).`);
    return null;
  }
}
