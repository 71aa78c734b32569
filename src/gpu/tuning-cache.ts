/**
 * What `tune` measured, kept per adapter and package version behind a small storage interface:
 * a JSON file in Node (src/node/tuning-store.ts); a browser can keep the same entries in
 * IndexedDB. A GPU context takes a cached tuning only after checking it, so a stale or edited
 * cache can cost speed but never run a kernel variant the tests do not cover.
 */
import { adapterName, type AdapterDescription, type GpuContext } from './device';
import type { Geometry } from './dispatch';
import { matmulVariants, subgroupSize, subgroupSizeOf, type MatmulVersion } from './kernels';
import { sparseVariantsOn, wideSparseVersion, type SparseVersion } from './sparse-kernels';
import type { TuneDecision } from './tune';
import { DEFAULT_TUNING, describeGeometry, tunedVariant, type Tuning } from './tuning';
import { SPARSE_TRAINING_VARIANTS } from './sparse-training-kernels';

/** What a tuning was measured on: the adapter as it describes itself (the description names the driver), and the package version. */
export interface TuningKey {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  subgroupMinSize: number;
  subgroupMaxSize: number;
  version: string;
}

export interface TunedEntry {
  key: TuningKey;
  /** ISO 8601. */
  tunedAt: string;
  tuning: Tuning;
  decisions: TuneDecision[];
}

/** Where tunings are kept. `load` answers null for a key never tuned, and for a store it cannot read (after saying why). */
export interface TuningStore {
  /** For messages: a path, or a database name. */
  readonly location: string;
  load(key: TuningKey): Promise<TunedEntry | null>;
  save(entry: TunedEntry): Promise<void>;
}

export function tuningKey(adapter: AdapterDescription, version: string): TuningKey {
  const { vendor, architecture, device, description, subgroupMinSize, subgroupMaxSize } = adapter;
  return { vendor, architecture, device, description, subgroupMinSize, subgroupMaxSize, version };
}

const KEY_FIELDS = ['vendor', 'architecture', 'device', 'description', 'subgroupMinSize', 'subgroupMaxSize', 'version'] as const;

export function sameKey(a: TuningKey, b: TuningKey): boolean {
  return KEY_FIELDS.every((field) => a[field] === b[field]);
}

/** A malformed cache entry. */
export class TuningCacheError extends Error {
  override name = 'TuningCacheError';
}

function fail(reason: string): never {
  throw new TuningCacheError(reason);
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function positive(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) fail(`${what} is not a positive number`);
  return value;
}

function nonNegativeInteger(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) fail(`${what} is not a non-negative integer`);
  return value;
}

function density(value: unknown, what: string): number {
  if (typeof value !== 'number' || !(value >= 0 && value <= 1)) fail(`${what} is not a number from 0 to 1`);
  return value;
}

function boolean(value: unknown, what: string): boolean {
  if (typeof value !== 'boolean') fail(`${what} is not true or false`);
  return value;
}

function version23(value: unknown, what: string): 2 | 3 {
  if (value !== 2 && value !== 3) fail(`${what} is not 2 or 3`);
  return value;
}

function numberRecord(value: unknown, what: string, check: (v: unknown, what: string) => number): Record<string, number> {
  if (!isRecord(value)) fail(`${what} is not an object`);
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, check(v, `${what}.${k}`)]));
}

/** A Tuning read from storage, checked field by field. */
export function parseTuning(value: unknown): Tuning {
  if (!isRecord(value)) fail('the tuning is not an object');
  const fewRows = numberRecord(value.fewRowsMaxM, 'fewRowsMaxM', nonNegativeInteger);
  const geometry = value.geometry;
  if (!isRecord(geometry)) fail('geometry is not an object');
  return {
    fewRowsMaxM: { 2: nonNegativeInteger(fewRows[2], 'fewRowsMaxM.2'), 3: nonNegativeInteger(fewRows[3], 'fewRowsMaxM.3') },
    fullTileMatmul: version23(value.fullTileMatmul, 'fullTileMatmul'),
    sparseV1Below: nonNegativeInteger(value.sparseV1Below, 'sparseV1Below'),
    sparseWide: version23(value.sparseWide, 'sparseWide'),
    sampleMajorMaxFeatures: nonNegativeInteger(value.sampleMajorMaxFeatures, 'sampleMajorMaxFeatures'),
    // Measured only by tunes since the sparse training kernels; an older entry runs the default.
    sparseTrainingBelow: value.sparseTrainingBelow === undefined ? DEFAULT_TUNING.sparseTrainingBelow : density(value.sparseTrainingBelow, 'sparseTrainingBelow'),
    // Measured only by tunes since sparse_unrolled's training form; an older entry runs the default.
    unrolledTrainingForward: value.unrolledTrainingForward === undefined ? DEFAULT_TUNING.unrolledTrainingForward : boolean(value.unrolledTrainingForward, 'unrolledTrainingForward'),
    costs: { ...DEFAULT_TUNING.costs, ...numberRecord(value.costs, 'costs', positive) },
    geometry: Object.fromEntries(Object.entries(geometry).map(([name, g]) => [name, numberRecord(g, `geometry.${name}`, positive)])),
  };
}

/** A TunedEntry read from storage, checked (the decisions are kept as they are: they are only shown). */
export function parseTunedEntry(value: unknown): TunedEntry {
  if (!isRecord(value) || !isRecord(value.key)) fail('an entry has no key');
  const key = value.key;
  for (const field of KEY_FIELDS) {
    const expected = field === 'subgroupMinSize' || field === 'subgroupMaxSize' ? 'number' : 'string';
    if (typeof key[field] !== expected) fail(`key.${field} is not a ${expected}`);
  }
  if (typeof value.tunedAt !== 'string') fail('tunedAt is not a string');
  if (!Array.isArray(value.decisions)) fail('decisions is not a list');
  return { key: key as unknown as TuningKey, tunedAt: value.tunedAt, tuning: parseTuning(value.tuning), decisions: value.decisions as TuneDecision[] };
}

/** Throws unless every geometry `tuning` picks is a covered variant of a kernel this device runs. */
export function checkCovered(ctx: GpuContext, tuning: Tuning): void {
  const sg = subgroupSize(ctx);
  for (const [name, geometry] of Object.entries(tuning.geometry)) {
    const matmul = /^matmul_v([1-4])$/.exec(name);
    const sparse = /^sparse_v([1-3])$/.exec(name);
    const training = Object.values(SPARSE_TRAINING_VARIANTS).find((v) => v[0].name === name);
    const variants: readonly { name: string; geometry: Geometry }[] = matmul
      ? Number(matmul[1]) === 3 && sg === 0
        ? []
        : matmulVariants(Number(matmul[1]) as MatmulVersion, sg)
      : sparse
        ? sparseVariantsOn(ctx.adapter, Number(sparse[1]) as SparseVersion)
        : (training ?? []);
    if (variants.length === 0) fail(`geometry for ${name} (${describeGeometry(geometry)}), a kernel this device does not run`);
    try {
      tunedVariant(tuning, variants);
    } catch (err) {
      fail((err as Error).message);
    }
  }
}

/**
 * A one-line summary of what a tuning runs on an adapter, for `devices`: where the subgroup
 * kernels cannot run, the full-tile matmul and the wide CSR kernel are v2 whatever the tuning
 * prefers.
 */
export function summarizeTuning(t: Tuning, adapter: AdapterDescription): string {
  const fullTile = subgroupSizeOf(adapter) > 0 ? t.fullTileMatmul : 2;
  const geometry = Object.entries(t.geometry).map(([name, g]) => `${name} ${describeGeometry(g)}`);
  return [
    `matmul v${fullTile} (v4 up to ${t.fewRowsMaxM[fullTile]} rows)`,
    `sparse v1 below batch ${t.sparseV1Below}, else v${wideSparseVersion(adapter, t)}`,
    `sparse training below ${t.sparseTrainingBelow * 100}% kept${t.unrolledTrainingForward ? ', its forward pass unrolled once the masks are final' : ''}`,
    geometry.length ? `geometry ${geometry.join(', ')}` : "the descriptors' geometry",
    JSON.stringify(t.costs) === JSON.stringify(DEFAULT_TUNING.costs) ? 'default costs' : 'measured costs',
  ].join('; ');
}

/**
 * Sets `ctx.tuning` from the store when it holds a valid entry for this adapter and version;
 * else leaves the defaults (after `warn`ing, one line, about an entry it cannot use).
 * Returns the entry used, or null.
 */
export async function useCachedTuning(ctx: GpuContext, store: TuningStore, version: string, warn: (line: string) => void): Promise<TunedEntry | null> {
  const entry = await store.load(tuningKey(ctx.adapter, version));
  if (!entry) return null;
  try {
    checkCovered(ctx, entry.tuning);
  } catch (err) {
    warn(`ignoring the tuning of ${adapterName(ctx.adapter)} in ${store.location}: ${(err as Error).message}; running the default kernel choices`);
    return null;
  }
  ctx.tuning = entry.tuning;
  return entry;
}
