/**
 * The tuning cache in the browser: `tune`'s entries (src/gpu/tuning-cache.ts) in IndexedDB, one
 * record per adapter and package version, so a page that tuned this GPU once runs its choices
 * on every later visit. An entry the checks refuse costs a warning and the defaults, as in Node.
 */
import { parseTunedEntry, type TunedEntry, type TuningKey, type TuningStore } from '../gpu/tuning-cache';

const DATABASE = 'webgpu-prune';
const STORE = 'tuning';

/** The record key: the tuning key's fields in a fixed order. */
function recordKey(key: TuningKey): string {
  return JSON.stringify([key.vendor, key.architecture, key.device, key.description, key.subgroupMinSize, key.subgroupMaxSize, key.version]);
}

function done<T>(request: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error ?? new Error('IndexedDB request failed'));
  });
}

export class IndexedDbTuningStore implements TuningStore {
  readonly location = `IndexedDB "${DATABASE}"`;
  private database: Promise<IDBDatabase> | null = null;

  constructor(
    private readonly factory: IDBFactory,
    private readonly warn: (line: string) => void,
  ) {}

  private open(): Promise<IDBDatabase> {
    this.database ??= new Promise((resolve, reject) => {
      const request = this.factory.open(DATABASE, 1);
      request.onupgradeneeded = () => request.result.createObjectStore(STORE);
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error ?? new Error('IndexedDB could not be opened'));
    });
    return this.database;
  }

  async load(key: TuningKey): Promise<TunedEntry | null> {
    let record: unknown;
    try {
      const database = await this.open();
      record = await done(database.transaction(STORE).objectStore(STORE).get(recordKey(key)));
    } catch (err) {
      this.warn(`the tuning cache in ${this.location} cannot be read (${(err as Error).message}); running the default kernel choices`);
      return null;
    }
    if (record === undefined) return null;
    try {
      return parseTunedEntry(record);
    } catch (err) {
      this.warn(`ignoring the tuning in ${this.location}: ${(err as Error).message}; running the default kernel choices`);
      return null;
    }
  }

  async save(entry: TunedEntry): Promise<void> {
    const database = await this.open();
    const transaction = database.transaction(STORE, 'readwrite');
    transaction.objectStore(STORE).put(entry, recordKey(entry.key));
    await new Promise<void>((resolve, reject) => {
      transaction.oncomplete = () => resolve();
      transaction.onerror = () => reject(transaction.error ?? new Error('IndexedDB write failed'));
    });
  }
}
