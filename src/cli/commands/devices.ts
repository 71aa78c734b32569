import { adapterName, describeAdapter, type AdapterDescription } from '../../gpu/device';
import { UserError } from '../../util/errors';
import { loadDawn } from '../gpu';
import type { CommandIo } from '../io';
import type { DevicesCommand } from '../parse';

/**
 * Dawn answers one adapter per request, so the adapters are found by asking with each power
 * preference and for a fallback adapter, then dropping duplicates.
 */
async function findAdapters(gpu: GPU): Promise<AdapterDescription[]> {
  const requests: GPURequestAdapterOptions[] = [
    { powerPreference: 'high-performance' },
    { powerPreference: 'low-power' },
    { forceFallbackAdapter: true },
  ];
  const found = new Map<string, AdapterDescription>();
  for (const options of requests) {
    const adapter = await gpu.requestAdapter(options).catch(() => null);
    if (!adapter) continue;
    const description = describeAdapter(adapter);
    found.set(JSON.stringify([description.vendor, description.architecture, description.device, description.description]), description);
  }
  return [...found.values()];
}

export async function runDevices(cmd: DevicesCommand, io: CommandIo): Promise<void> {
  const adapters = await findAdapters(loadDawn(cmd));
  if (cmd.json) {
    io.out(JSON.stringify({ adapters }));
    if (adapters.length === 0) throw new UserError('no WebGPU adapter found');
    return;
  }
  if (adapters.length === 0) {
    const filter = [cmd.adapter && `--adapter ${cmd.adapter}`, cmd.dawnBackend && `--dawn-backend ${cmd.dawnBackend}`].filter(Boolean).join(' ');
    throw new UserError(filter
      ? `no WebGPU adapter matches ${filter} (run devices without it to see what there is)`
      : 'no WebGPU adapter found (on Linux without a GPU, run scripts/setup-adapter.sh to install a software one)');
  }
  adapters.forEach((a, i) => {
    const l = a.limits;
    io.out(`${i === 0 ? '*' : ' '} ${adapterName(a)}`);
    io.out(`    architecture ${a.architecture || '-'}, fallback ${a.isFallbackAdapter ? 'yes' : 'no'}`);
    io.out(`    maxStorageBufferBindingSize ${l.maxStorageBufferBindingSize}, maxBufferSize ${l.maxBufferSize}, ` +
      `maxComputeInvocationsPerWorkgroup ${l.maxComputeInvocationsPerWorkgroup}, maxComputeWorkgroupStorageSize ${l.maxComputeWorkgroupStorageSize}`);
    io.out(`    features ${a.features.join(' ')}`);
  });
  io.out('* = the adapter train, eval and bench use; pick another with --adapter NAME or --dawn-backend');
}
