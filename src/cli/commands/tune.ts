import { adapterName } from '../../gpu/device';
import { formatTuneTable, tune, tuneSettings } from '../../gpu/tune';
import { tuningKey } from '../../gpu/tuning-cache';
import { PACKAGE_VERSION } from '../../node/tuning-store';
import { SEED_RECIPE } from '../../train/recipe';
import { loadDawn, openDevice, tuningStore } from '../gpu';
import type { CommandIo } from '../io';
import type { TuneCommand } from '../parse';

/**
 * `tune`: measures the kernel variants on the selected adapter, from the defaults (not from an
 * earlier tuning), on the shapes of the seed recipe, and caches the winners for the adapter.
 */
export async function runTune(cmd: TuneCommand, io: CommandIo): Promise<void> {
  const ctx = await openDevice(loadDawn(cmd), io);
  io.err(`GPU: ${adapterName(ctx.adapter)}`);
  const result = await tune(ctx, tuneSettings(cmd.quick, SEED_RECIPE), (line) => io.err(line));
  const store = tuningStore(io);
  await store.save({ key: tuningKey(ctx.adapter, PACKAGE_VERSION), tunedAt: new Date().toISOString(), tuning: result.tuning, decisions: result.decisions });
  if (cmd.json) {
    io.out(JSON.stringify({ adapter: ctx.adapter, cache: store.location, ...result }));
    return;
  }
  io.out(`${formatTuneTable(result)}\n\nwritten: ${store.location} (train, eval and bench on this adapter use it)`);
}
