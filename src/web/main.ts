/**
 * The browser app: one short training run of the seed recipe on WebGPU (`navigator.gpu`), with
 * the same trainer, data parsing and reference forward pass as the CLI. The outcome is shown for
 * a person and written as JSON to `#result` (or the message to `#error`) for the browser test.
 */
import { countCorrect, predictAll } from '../cpu/forward';
import type { Dataset } from '../data/dataset';
import { parseIdxImages, parseIdxLabels } from '../data/idx';
import { mnistDataset } from '../data/mnist';
import { acquireDevice, adapterName } from '../gpu/device';
import { GpuTrainer } from '../gpu/trainer';
import { initNetwork } from '../model/network';
import { SEED_RECIPE } from '../train/recipe';
import { percent } from '../util/format';

/** What `#result` holds once a run has finished. */
export interface WebRunResult {
  adapter: string;
  batches: number;
  batchSize: number;
  trainSamples: number;
  trainCorrect: number;
  trainAccuracy: number;
  backpropagated: number;
  testSamples: number;
  testCorrect: number;
  testAccuracy: number;
  seconds: { load: number; train: number; test: number };
}

const MNIST_TRAIN_COUNT = 60_000;
const MNIST_TEST_COUNT = 10_000;

function element(id: string): HTMLElement {
  const found = document.getElementById(id);
  if (!found) throw new Error(`the page has no #${id}`);
  return found;
}

function show(id: string, text: string): void {
  element(id).textContent = text;
}

/** A whole-number URL option in [1, max]. */
function countOption(params: URLSearchParams, name: string, fallback: number, max: number): number {
  const raw = params.get(name);
  if (raw === null) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw new Error(`URL option ${name}=${raw} must be a whole number from 1 to ${max}`);
  }
  return value;
}

async function fetchBytes(name: string): Promise<Uint8Array> {
  const response = await fetch(`data/${name}`);
  if (!response.ok) throw new Error(`data/${name}: HTTP ${response.status} ${response.statusText}`);
  return new Uint8Array(await response.arrayBuffer());
}

async function fetchMnist(set: 'train' | 't10k', limit: number): Promise<Dataset> {
  const imagesName = `${set}-images-idx3-ubyte`;
  const labelsName = `${set}-labels-idx1-ubyte`;
  const [images, labels] = await Promise.all([fetchBytes(imagesName), fetchBytes(labelsName)]);
  return mnistDataset(parseIdxImages(images, imagesName), imagesName, parseIdxLabels(labels, labelsName), labelsName, limit);
}

function accuracyText(correct: number, total: number): string {
  return `${percent(correct, total, 1)}% (${correct} of ${total})`;
}

function secondsSince(start: number): number {
  return Math.round(performance.now() - start) / 1000;
}

async function run(): Promise<WebRunResult> {
  const params = new URLSearchParams(location.search);
  const batchSize = SEED_RECIPE.batchSize;
  const batches = countOption(params, 'batches', 5, Math.floor(MNIST_TRAIN_COUNT / batchSize));
  const testCount = countOption(params, 'test', 1000, MNIST_TEST_COUNT);
  if (!('gpu' in navigator)) {
    throw new Error('this browser has no WebGPU (navigator.gpu is missing); Chrome needs a secure context such as localhost');
  }

  show('status', 'Requesting a WebGPU device…');
  const ctx = await acquireDevice(navigator.gpu, { onError: (message) => showError(message) });
  const adapter = adapterName(ctx.adapter);
  show('adapter', adapter);

  show('status', 'Loading MNIST…');
  let start = performance.now();
  const [train, test] = await Promise.all([fetchMnist('train', batches * batchSize), fetchMnist('t10k', testCount)]);
  const load = secondsSince(start);

  show('status', `Training ${batches} batches…`);
  start = performance.now();
  const net = initNetwork(SEED_RECIPE.sizes, SEED_RECIPE.seed);
  const trainer = await GpuTrainer.create(ctx, net, train, { batchSize, confidence: SEED_RECIPE.confidence });
  const epoch = await trainer.trainEpoch(null, SEED_RECIPE.learningRate, SEED_RECIPE.momentum);
  const trained = (await trainer.state()).net;
  trainer.dispose();
  const trainSeconds = secondsSince(start);
  show('training', `${batches} batches of ${batchSize}: the first ${epoch.samples} training images, ${epoch.backpropagated} backpropagated`);
  show('train-accuracy', accuracyText(epoch.correct, epoch.samples));

  show('status', 'Testing…');
  start = performance.now();
  const testCorrect = countCorrect(predictAll(trained, test), test.labels);
  const testSeconds = secondsSince(start);
  show('test-accuracy', accuracyText(testCorrect, test.count));
  show('time', `load ${load} s, train ${trainSeconds} s (GPU), test ${testSeconds} s (CPU)`);

  return {
    adapter,
    batches,
    batchSize,
    trainSamples: epoch.samples,
    trainCorrect: epoch.correct,
    trainAccuracy: epoch.correct / epoch.samples,
    backpropagated: epoch.backpropagated,
    testSamples: test.count,
    testCorrect,
    testAccuracy: testCorrect / test.count,
    seconds: { load, train: trainSeconds, test: testSeconds },
  };
}

/** The first failure wins: later GPU errors are usually its consequences. */
function showError(message: string): void {
  const box = element('error');
  if (box.textContent) return;
  box.textContent = message;
  show('status', 'Failed.');
  console.error(message);
}

run().then(
  (result) => {
    // A GPU error reported while the run went on makes its numbers suspect.
    if (element('error').textContent) return;
    show('status', 'Done.');
    show('result', JSON.stringify(result, null, 2));
  },
  (error: unknown) => showError(error instanceof Error ? error.message : String(error)),
);
