/**
 * The tuning cache in Node: one JSON file, `$XDG_CACHE_HOME/webgpu-prune/tuning.json` (or
 * `~/.cache/webgpu-prune/tuning.json`), with an entry per adapter and package version, rewritten
 * atomically. A file that cannot be read or parsed costs a one-line warning and the defaults.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import { version } from '../../package.json';
import { parseTunedEntry, sameKey, type TunedEntry, type TuningKey, type TuningStore } from '../gpu/tuning-cache';
import { UserError } from '../util/errors';
import { writeFileAtomic } from './files';

/** The package version tunings are keyed by: a new version may bring other kernels. */
export const PACKAGE_VERSION: string = version;

const FORMAT = 'webgpu-prune tuning';

/** The cache file: under `$XDG_CACHE_HOME` when it is an absolute path (the XDG rule), else `~/.cache`. */
export function tuningCachePath(env: Record<string, string | undefined> = process.env, home = homedir()): string {
  const base = env.XDG_CACHE_HOME && isAbsolute(env.XDG_CACHE_HOME) ? env.XDG_CACHE_HOME : join(home, '.cache');
  return join(base, 'webgpu-prune', 'tuning.json');
}

/** The entries of the file's text; throws a one-line reason when it is not a tuning cache. */
function parseCache(text: string): TunedEntry[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new Error('it is not valid JSON');
  }
  const cache = value as { format?: unknown; entries?: unknown };
  if (typeof cache !== 'object' || cache === null || cache.format !== FORMAT || !Array.isArray(cache.entries)) {
    throw new Error(`it is not a ${FORMAT} file`);
  }
  return cache.entries.map(parseTunedEntry);
}

export class FileTuningStore implements TuningStore {
  constructor(
    readonly location: string,
    private readonly warn: (line: string) => void,
  ) {}

  /** Every entry, or null when there is no file; a file that cannot be used is reported and read as empty. */
  private async entries(): Promise<TunedEntry[] | null> {
    let text: string;
    try {
      text = await readFile(this.location, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      this.warn(`ignoring the tuning cache ${this.location}: ${(error as Error).message}; running the default kernel choices`);
      return [];
    }
    try {
      return parseCache(text);
    } catch (error) {
      this.warn(`ignoring the tuning cache ${this.location}: ${(error as Error).message}; running the default kernel choices (webgpu-prune tune rewrites it)`);
      return [];
    }
  }

  async load(key: TuningKey): Promise<TunedEntry | null> {
    return (await this.entries())?.find((entry) => sameKey(entry.key, key)) ?? null;
  }

  /** Replaces the entry of the same key, keeping the others (other adapters, other versions). */
  async save(entry: TunedEntry): Promise<void> {
    const others = ((await this.entries()) ?? []).filter((e) => !sameKey(e.key, entry.key));
    await mkdir(dirname(this.location), { recursive: true }).catch((error: Error) => {
      throw new UserError(`cannot create ${dirname(this.location)}: ${error.message}`);
    });
    await writeFileAtomic(this.location, JSON.stringify({ format: FORMAT, entries: [...others, entry] }, null, 2) + '\n');
  }
}
