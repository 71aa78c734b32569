import { adapterName, describeAdapter, type AdapterDescription } from '../../gpu/device';
import { summarizeTuning, tuningKey, type TuningStore } from '../../gpu/tuning-cache';
import type { Tuning } from '../../gpu/tuning';
import { PACKAGE_VERSION } from '../../node/tuning-store';
import { UserError } from '../../util/errors';
import { loadDawn, tuningStore } from '../gpu';
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

/** What `tune` cached for an adapter: its choices, or "not tuned". */
type AdapterTuning = { tunedAt: string; summary: string; tuning: Tuning } | 'not tuned';

async function tuningOf(store: TuningStore, adapter: AdapterDescription): Promise<AdapterTuning> {
  const entry = await store.load(tuningKey(adapter, PACKAGE_VERSION));
  return entry ? { tunedAt: entry.tunedAt, summary: summarizeTuning(entry.tuning, adapter), tuning: entry.tuning } : 'not tuned';
}

export async function runDevices(cmd: DevicesCommand, io: CommandIo): Promise<void> {
  const found = await findAdapters(loadDawn(cmd));
  const store = tuningStore(io);
  const adapters = [];
  for (const adapter of found) adapters.push({ ...adapter, tuning: await tuningOf(store, adapter) });
  if (cmd.json) {
    io.out(JSON.stringify({ adapters, tuningCache: store.location }));
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
    io.out(a.tuning === 'not tuned' ? '    not tuned: default kernel choices (webgpu-prune tune measures it)' : `    tuned ${a.tuning.tunedAt.slice(0, 10)}: ${a.tuning.summary}`);
  });
  io.out('* = the adapter train, eval and bench use; pick another with --adapter NAME or --dawn-backend');
}
