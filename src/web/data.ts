/**
 * MNIST for the browser: the four IDX files fetched gzip'd (about 11 MB instead of 55 MB),
 * inflated with `DecompressionStream`, parsed by the library's IDX reader. The compressed bytes
 * are kept in Cache Storage, so a second visit reads them from disk and starts at once.
 */
import type { TrainTestData } from '../data/dataset';
import { parseIdxImages, parseIdxLabels } from '../data/idx';
import { mnistDataset } from '../data/mnist';
import { UserError } from '../util/errors';
import { MNIST_FILES, type MnistFile } from './mnist-files';

/** Bumped when the served files change, so old copies are not read. */
export const MNIST_CACHE = 'webgpu-prune-mnist-1';

export interface DownloadProgress {
  /** Bytes received so far (compressed), over every file. */
  loaded: number;
  /** Compressed bytes of every file, once each response has said its length (0 while unknown). */
  total: number;
  /** Every file so far came from Cache Storage. */
  cached: boolean;
}

/** What the loader uses of the platform (the worker's globals; tests give their own). */
export interface DataPlatform {
  fetch: typeof fetch;
  /** Absent where Cache Storage is not offered (an insecure context). */
  caches?: CacheStorage;
}

/** The bytes of a gzip stream start 1f 8b; a host that already inflated the file sends the IDX itself. */
function isGzip(bytes: Uint8Array): boolean {
  return bytes[0] === 0x1f && bytes[1] === 0x8b;
}

export async function gunzip(bytes: Uint8Array, name: string): Promise<Uint8Array> {
  if (!isGzip(bytes)) return bytes;
  try {
    const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new DecompressionStream('gzip'));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  } catch (err) {
    throw new UserError(`${name}: not a valid gzip file (${(err as Error).message})`);
  }
}

/** Reads a response's body, reporting each chunk's size. */
async function readWithProgress(response: Response, onChunk: (bytes: number) => void): Promise<Uint8Array> {
  if (!response.body) return new Uint8Array(await response.arrayBuffer());
  const chunks: Uint8Array[] = [];
  const reader = response.body.getReader();
  for (let next = await reader.read(); !next.done; next = await reader.read()) {
    chunks.push(next.value);
    onChunk(next.value.byteLength);
  }
  const bytes = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let at = 0;
  for (const c of chunks) {
    bytes.set(c, at);
    at += c.byteLength;
  }
  return bytes;
}

/**
 * The four files from `baseUrl` (the folder holding `data/`), from Cache Storage when there,
 * fetched in parallel otherwise; `onProgress` hears the compressed bytes as they arrive.
 */
export async function loadMnist(baseUrl: string, platform: DataPlatform, onProgress: (p: DownloadProgress) => void): Promise<TrainTestData & { cached: boolean }> {
  const cache = platform.caches ? await platform.caches.open(MNIST_CACHE).catch(() => undefined) : undefined;
  const loaded = new Map<MnistFile, number>();
  const totals = new Map<MnistFile, number>();
  let cachedAll = true;
  const report = (): void => {
    const total = totals.size === MNIST_FILES.length ? [...totals.values()].reduce((a, b) => a + b, 0) : 0;
    onProgress({ loaded: [...loaded.values()].reduce((a, b) => a + b, 0), total, cached: cachedAll });
  };
  const fetchFile = async (name: MnistFile): Promise<Uint8Array> => {
    const url = new URL(`data/${name}.gz`, baseUrl).href;
    const hit = await cache?.match(url);
    if (hit) {
      const bytes = new Uint8Array(await hit.arrayBuffer());
      totals.set(name, bytes.byteLength);
      loaded.set(name, bytes.byteLength);
      report();
      return gunzip(bytes, name);
    }
    cachedAll = false;
    let response: Response;
    try {
      response = await platform.fetch(url);
    } catch (err) {
      throw new UserError(`data/${name}.gz: the download failed (${(err as Error).message})`);
    }
    if (!response.ok) throw new UserError(`data/${name}.gz: HTTP ${response.status} ${response.statusText}`);
    totals.set(name, Number(response.headers.get('content-length')) || 0);
    loaded.set(name, 0);
    report();
    const bytes = await readWithProgress(response, (n) => {
      loaded.set(name, loaded.get(name)! + n);
      report();
    });
    // Stored compressed, as served; a failure to store (quota, private mode) only costs the next visit a download.
    await cache?.put(url, new Response(bytes as Uint8Array<ArrayBuffer>, { headers: { 'content-type': 'application/gzip' } })).catch(() => {});
    return gunzip(bytes, name);
  };
  const [trainImages, trainLabels, testImages, testLabels] = await Promise.all(MNIST_FILES.map(fetchFile));
  const [ti, tl, vi, vl] = MNIST_FILES;
  return {
    train: mnistDataset(parseIdxImages(trainImages!, ti), ti, parseIdxLabels(trainLabels!, tl), tl),
    test: mnistDataset(parseIdxImages(testImages!, vi), vi, parseIdxLabels(testLabels!, vl), vl),
    cached: cachedAll,
  };
}
