/**
 * The browser's tuning cache (IndexedDB, here the in-memory implementation of fake-indexeddb):
 * a write read back by a new store (a later visit), other adapters and versions kept apart, and
 * a record the checks refuse costing one warning and the defaults.
 */
import { IDBFactory } from 'fake-indexeddb';
import { describe, expect, it } from 'vitest';
import type { AdapterDescription, GpuContext } from '../../src/gpu/device';
import { tuningKey, useCachedTuning, type TunedEntry } from '../../src/gpu/tuning-cache';
import { DEFAULT_TUNING, type Tuning } from '../../src/gpu/tuning';
import { IndexedDbTuningStore } from '../../src/web/tuning-store';

const ADAPTER = {
  vendor: 'google',
  architecture: 'swiftshader',
  device: 'swiftshader',
  description: 'SwiftShader device (Subzero)',
  subgroupMinSize: 4,
  subgroupMaxSize: 4,
  features: ['subgroups', 'timestamp-query'],
} as AdapterDescription;

const TUNED: Tuning = { ...DEFAULT_TUNING, fullTileMatmul: 2, sparseV1Below: 16, geometry: { matmul_v2: { V2_WG: 8, V2_TK: 16 } } };

const entry = (tuning: Tuning, version = '1.0.0', adapter = ADAPTER): TunedEntry => ({ key: tuningKey(adapter, version), tunedAt: '2026-11-30T03:00:00.000Z', tuning, decisions: [] });

function fakeContext(): GpuContext {
  return { adapter: ADAPTER, device: { features: new Set(['subgroups']) }, lostReason: null, tuning: DEFAULT_TUNING } as unknown as GpuContext;
}

describe('IndexedDbTuningStore', () => {
  it('keeps an entry for a later visit, per adapter and version', async () => {
    const factory = new IDBFactory();
    const warnings: string[] = [];
    await new IndexedDbTuningStore(factory, (line) => warnings.push(line)).save(entry(TUNED));
    const later = new IndexedDbTuningStore(factory, (line) => warnings.push(line));
    expect(await later.load(tuningKey(ADAPTER, '1.0.0'))).toEqual(entry(TUNED));
    expect(await later.load(tuningKey(ADAPTER, '1.0.1'))).toBeNull();
    expect(await later.load(tuningKey({ ...ADAPTER, description: 'another driver' }, '1.0.0'))).toBeNull();
    const ctx = fakeContext();
    expect(await useCachedTuning(ctx, later, '1.0.0', (line) => warnings.push(line))).not.toBeNull();
    expect(ctx.tuning).toEqual(TUNED);
    expect(warnings).toEqual([]);
  });

  it('refuses a record that is not a tuning, in one warning line, and the context keeps the defaults', async () => {
    const factory = new IDBFactory();
    const warnings: string[] = [];
    const store = new IndexedDbTuningStore(factory, (line) => warnings.push(line));
    const bad = { ...entry(TUNED), tuning: { ...TUNED, costs: { dense: -1 } } } as unknown as TunedEntry;
    await store.save(bad);
    const ctx = fakeContext();
    expect(await useCachedTuning(ctx, store, '1.0.0', (line) => warnings.push(line))).toBeNull();
    expect(ctx.tuning).toBe(DEFAULT_TUNING);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^ignoring the tuning in IndexedDB "webgpu-prune": .*; running the default kernel choices$/);
  });
});
