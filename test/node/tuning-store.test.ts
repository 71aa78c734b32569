/**
 * The tuning cache: where it lives, a write read back, entries of other adapters and versions
 * kept apart, and a file that cannot be used costing one warning line and the defaults. The GPU
 * context here is a stand-in with what the cache reads of it (the adapter and its features).
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { AdapterDescription, GpuContext } from '../../src/gpu/device';
import { subgroupSizeOf } from '../../src/gpu/kernels';
import { sparseKernelChooser, sparseVariantsOn, wideSparseVersion } from '../../src/gpu/sparse-kernels';
import { summarizeTuning, tuningKey, useCachedTuning, type TunedEntry } from '../../src/gpu/tuning-cache';
import { DEFAULT_TUNING, type Tuning } from '../../src/gpu/tuning';
import { FileTuningStore, PACKAGE_VERSION, tuningCachePath } from '../../src/node/tuning-store';
import { temporaryFolder } from '../helpers/temporary-folder';

const ADAPTER = {
  vendor: 'mesa',
  architecture: 'software',
  device: 'llvmpipe',
  description: 'llvmpipe: Mesa 25.0.7 (LLVM 15.0.6)',
  subgroupMinSize: 8,
  subgroupMaxSize: 8,
  features: ['subgroups', 'timestamp-query'],
} as AdapterDescription;

const TUNED: Tuning = {
  ...DEFAULT_TUNING,
  fewRowsMaxM: { 2: 64, 3: 32 },
  sparseV1Below: 16,
  geometry: { matmul_v2: { V2_WG: 8, V2_TK: 16 } },
  costs: { ...DEFAULT_TUNING.costs, sparse_v3: 8.5 },
};

function entryFor(adapter: AdapterDescription, tuning: Tuning, version = PACKAGE_VERSION): TunedEntry {
  return { key: tuningKey(adapter, version), tunedAt: '2026-11-30T02:00:00.000Z', tuning, decisions: [] };
}

function fakeContext(adapter: AdapterDescription): GpuContext {
  return { adapter, device: { features: new Set(['subgroups']) }, lostReason: null, tuning: DEFAULT_TUNING } as unknown as GpuContext;
}

function store(): { store: FileTuningStore; warnings: string[]; path: string } {
  const warnings: string[] = [];
  const path = join(temporaryFolder('webgpu-prune-tuning-'), 'cache', 'tuning.json');
  return { store: new FileTuningStore(path, (line) => warnings.push(line)), warnings, path };
}

describe('tuningCachePath', () => {
  it('is under an absolute XDG_CACHE_HOME, else ~/.cache', () => {
    expect(tuningCachePath({ XDG_CACHE_HOME: '/var/cache/me' }, '/home/me')).toBe('/var/cache/me/webgpu-prune/tuning.json');
    expect(tuningCachePath({}, '/home/me')).toBe('/home/me/.cache/webgpu-prune/tuning.json');
    // The XDG rule: a relative path is ignored.
    expect(tuningCachePath({ XDG_CACHE_HOME: 'cache' }, '/home/me')).toBe('/home/me/.cache/webgpu-prune/tuning.json');
  });
});

describe('FileTuningStore', () => {
  it('reads back what it wrote, creating the folder, with no temporary file left', async () => {
    const { store: s, warnings, path } = store();
    expect(await s.load(tuningKey(ADAPTER, PACKAGE_VERSION))).toBeNull();
    await s.save(entryFor(ADAPTER, TUNED));
    expect(await s.load(tuningKey(ADAPTER, PACKAGE_VERSION))).toEqual(entryFor(ADAPTER, TUNED));
    expect(readdirSync(join(path, '..'))).toEqual(['tuning.json']);
    expect(warnings).toEqual([]);
  });

  it('keeps adapters and versions apart: another key is not tuned, and saving one keeps the others', async () => {
    const { store: s } = store();
    const other = { ...ADAPTER, description: 'llvmpipe: Mesa 24.2.8 (LLVM 15.0.6)' };
    await s.save(entryFor(ADAPTER, TUNED));
    expect(await s.load(tuningKey(other, PACKAGE_VERSION))).toBeNull();
    expect(await s.load(tuningKey(ADAPTER, '0.0.0-other'))).toBeNull();
    await s.save(entryFor(other, DEFAULT_TUNING));
    await s.save(entryFor(ADAPTER, { ...TUNED, sparseV1Below: 32 }));
    expect((await s.load(tuningKey(ADAPTER, PACKAGE_VERSION)))?.tuning.sparseV1Below).toBe(32);
    expect((await s.load(tuningKey(other, PACKAGE_VERSION)))?.tuning).toEqual(DEFAULT_TUNING);
    expect(JSON.parse(readFileSync(s.location, 'utf8')).entries).toHaveLength(2);
  });

  it.each([
    ['not JSON', '{"format": "webgpu-prune tuning", "entr', /not valid JSON/],
    ['another file', '{"name": "something else"}', /not a webgpu-prune tuning file/],
    ['a bad value', JSON.stringify({ format: 'webgpu-prune tuning', entries: [{ ...entryFor(ADAPTER, TUNED), tuning: { ...TUNED, fullTileMatmul: 4 } }] }), /fullTileMatmul is not 2 or 3/],
    ['a flag that is not true or false', JSON.stringify({ format: 'webgpu-prune tuning', entries: [{ ...entryFor(ADAPTER, TUNED), tuning: { ...TUNED, unrolledTrainingForward: 'yes' } }] }), /unrolledTrainingForward is not true or false/],
    ['a density out of range', JSON.stringify({ format: 'webgpu-prune tuning', entries: [{ ...entryFor(ADAPTER, TUNED), tuning: { ...TUNED, sparseTrainingBelow: 1.5 } }] }), /sparseTrainingBelow is not a number from 0 to 1/],
    ['a missing key field', JSON.stringify({ format: 'webgpu-prune tuning', entries: [{ ...entryFor(ADAPTER, TUNED), key: { vendor: 'mesa' } }] }), /key\.architecture/],
  ])('a cache file with %s: one warning line, and the defaults', async (_, text, reason) => {
    const { store: s, warnings, path } = store();
    await s.save(entryFor(ADAPTER, TUNED));
    writeFileSync(path, text);
    const ctx = fakeContext(ADAPTER);
    expect(await useCachedTuning(ctx, s, PACKAGE_VERSION, (line) => warnings.push(line))).toBeNull();
    expect(ctx.tuning).toBe(DEFAULT_TUNING);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(reason);
    expect(warnings[0]).toMatch(/^ignoring the tuning cache .*tuning\.json: .*default kernel choices/);
    expect(warnings[0]).not.toContain('\n');
  });
});

describe('an entry written before a choice was tuned', () => {
  // TUNED keeps the defaults of both, so a default filled in reads back as TUNED.
  it.each([
    ['sparseTrainingBelow', 'the sparse training kernels'],
    ['unrolledTrainingForward', "sparse_unrolled's training form"],
  ] as const)('has no %s (written before %s) and runs the default', async (field, _introduced) => {
    const { store: s, path } = store();
    const older: Partial<Tuning> = { ...TUNED };
    delete older[field];
    await s.save(entryFor(ADAPTER, TUNED));
    writeFileSync(path, JSON.stringify({ format: 'webgpu-prune tuning', entries: [{ ...entryFor(ADAPTER, TUNED), tuning: older }] }));
    expect(TUNED[field]).toBe(DEFAULT_TUNING[field]);
    expect((await s.load(tuningKey(ADAPTER, PACKAGE_VERSION)))?.tuning).toEqual(TUNED);
  });
});

describe('useCachedTuning', () => {
  it('gives the context the tuning of its adapter and version, and leaves another adapter on the defaults', async () => {
    const { store: s, warnings } = store();
    await s.save(entryFor(ADAPTER, TUNED));
    const ctx = fakeContext(ADAPTER);
    expect((await useCachedTuning(ctx, s, PACKAGE_VERSION, (line) => warnings.push(line)))?.tunedAt).toBe('2026-11-30T02:00:00.000Z');
    expect(ctx.tuning).toEqual(TUNED);
    const other = fakeContext({ ...ADAPTER, device: 'another' });
    expect(await useCachedTuning(other, s, PACKAGE_VERSION, (line) => warnings.push(line))).toBeNull();
    expect(other.tuning).toBe(DEFAULT_TUNING);
    expect(warnings).toEqual([]);
  });

  it('refuses, with one warning line, a cached geometry the kernel tests do not cover', async () => {
    const { store: s, warnings } = store();
    await s.save(entryFor(ADAPTER, { ...TUNED, geometry: { sparse_v2: { WG: 8, ROWS: 4 } } }));
    const ctx = fakeContext(ADAPTER);
    expect(await useCachedTuning(ctx, s, PACKAGE_VERSION, (line) => warnings.push(line))).toBeNull();
    expect(ctx.tuning).toBe(DEFAULT_TUNING);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/sparse_v2 the geometry WG 8 ROWS 4, which is not one the kernel tests cover; running the default kernel choices$/);
  });
});

describe('summarizeTuning', () => {
  it('says what runs on the adapter: the tuned versions with subgroups, v2 without', () => {
    expect(summarizeTuning(TUNED, ADAPTER)).toBe('matmul v3 (v4 up to 32 rows); sparse v1 below batch 16, else v3; sparse training below 20% kept, its forward pass unrolled once the masks are final; geometry matmul_v2 V2_WG 8 V2_TK 16; measured costs');
    expect(summarizeTuning({ ...TUNED, unrolledTrainingForward: false }, ADAPTER)).toContain('; sparse training below 20% kept; geometry');
    expect(summarizeTuning(DEFAULT_TUNING, { ...ADAPTER, features: [] })).toBe("matmul v2 (v4 up to 64 rows); sparse v1 below batch 64, else v2; sparse training below 20% kept, its forward pass unrolled once the masks are final; the descriptors' geometry; default costs");
  });
});

describe('the subgroup kernels on other subgroup sizes', () => {
  // What real GPUs report: 32 lanes (NVIDIA, Apple), 64 (AMD GCN), 8 to 32 chosen per pipeline (Intel).
  const lanes = (min: number, max: number): AdapterDescription => ({ ...ADAPTER, subgroupMinSize: min, subgroupMaxSize: max });
  const wgs = (adapter: AdapterDescription) => sparseVariantsOn(adapter, 3).map((v) => v.geometry.WG);

  it('builds matmul_v3 only for a fixed subgroup size that divides its 32 columns', () => {
    expect([lanes(4, 4), lanes(8, 8), lanes(32, 32)].map(subgroupSizeOf)).toEqual([4, 8, 32]);
    expect([lanes(64, 64), lanes(8, 32), { ...ADAPTER, features: [] }].map(subgroupSizeOf)).toEqual([0, 0, 0]);
    expect(summarizeTuning(TUNED, lanes(64, 64))).toMatch(/^matmul v2 \(v4 up to 64 rows\); sparse v1 below batch 16, else v2;/);
  });

  it('runs sparse_v3 only in workgroups that fill the largest subgroup, else sparse_v2', () => {
    expect(wgs(lanes(8, 8))).toEqual([16, 32]);
    expect(wgs(lanes(8, 32))).toEqual([32]);
    expect(wgs(lanes(64, 64))).toEqual([]);
    expect(wgs(lanes(0, 0))).toEqual([]);
    expect(wideSparseVersion(lanes(32, 32), DEFAULT_TUNING)).toBe(3);
    expect(wideSparseVersion(lanes(64, 64), DEFAULT_TUNING)).toBe(2);
    expect(sparseKernelChooser(fakeContext(lanes(32, 32)), 'auto')(10_000).geometry).toEqual({ WG: 32, ROWS: 3 });
    expect(sparseKernelChooser(fakeContext(lanes(64, 64)), 'auto')(10_000).name).toBe('sparse_v2');
    expect(() => sparseKernelChooser(fakeContext(lanes(64, 64)), 3)).toThrow("sparse_v3's tested workgroups (16 and 32 invocations) do not fill this device's subgroups (up to 64 lanes)");
    expect(() => sparseKernelChooser(fakeContext({ ...ADAPTER, features: [] }), 3)).toThrow('sparse_v3 needs the subgroups feature, which this device lacks');
  });

  it('refuses a cached sparse_v3 geometry whose workgroup does not fill the subgroups', async () => {
    const { store: s, warnings } = store();
    const adapter = lanes(32, 32);
    await s.save(entryFor(adapter, { ...TUNED, geometry: { sparse_v3: { WG: 16, ROWS: 4 } } }));
    const ctx = fakeContext(adapter);
    expect(await useCachedTuning(ctx, s, PACKAGE_VERSION, (line) => warnings.push(line))).toBeNull();
    expect(ctx.tuning).toBe(DEFAULT_TUNING);
    expect(warnings).toHaveLength(1);
  });
});
