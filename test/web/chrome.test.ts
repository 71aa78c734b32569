/**
 * End to end in Chrome: the dev server (scripts/serve.mjs) serves the browser app, the system
 * Chromium runs it headless on its WebGPU adapter (SwiftShader on machines without a GPU), and
 * the page's JSON result is checked against the CPU reference trained on the same samples.
 *
 * Without /usr/bin/chromium, or with the Vulkan drivers hidden, the suite is skipped with the
 * reason in its name; with REQUIRE_GPU=1 (set by CI, which installs Chromium) it fails instead.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../scripts/serve.mjs';
import { countCorrect, predictAll } from '../../src/cpu/forward';
import { CpuTrainer } from '../../src/cpu/trainer';
import { takeSamples } from '../../src/data/dataset';
import { initNetwork } from '../../src/model/network';
import { loadMnist } from '../../src/node/mnist';
import { SEED_RECIPE } from '../../src/train/recipe';
import type { WebRunResult } from '../../src/web/main';

const CHROMIUM = '/usr/bin/chromium';

/**
 * `--enable-unsafe-webgpu` is what gives headless Chromium on Linux a WebGPU adapter; the rest
 * stop it from reaching for the network (refused on closed networks, and slow to time out).
 */
const CHROMIUM_ARGS = [
  '--enable-unsafe-webgpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/**
 * Small enough for SwiftShader (about 10 s). Measured with the seed recipe and init: the
 * untrained network scores 21.3% on the first 1000 test images, after 1/2/3 batches 27.7%,
 * 34.7%, 38.9% (GPU in Chrome and CPU reference alike). A bar of 35% after 3 batches fails a
 * trainer that does not learn or skips a batch.
 */
const BATCHES = 3;
const TEST_IMAGES = 1000;
const MIN_TEST_ACCURACY = 0.35;
/** f32 sums in another order may flip a few borderline predictions; 1% of the samples is plenty. */
const AGREEMENT = 0.01;

const RESULT_TIMEOUT_MS = 180_000;

/**
 * Chromium brings its own SwiftShader and points its Vulkan loader at it, but VK_DRIVER_FILES
 * overrides that: set to nothing that exists (how CI hides the drivers), it leaves Chromium none.
 */
const driverFiles = process.env.VK_DRIVER_FILES;
const skipReason = !existsSync(CHROMIUM)
  ? `${CHROMIUM} not found (scripts/setup-adapter.sh installs it)`
  : driverFiles !== undefined && !driverFiles.split(':').some((file) => existsSync(file))
    ? `VK_DRIVER_FILES=${driverFiles} hides every Vulkan driver, Chromium's SwiftShader too`
    : null;

if (skipReason && process.env.REQUIRE_GPU === '1') {
  describe('browser app in Chrome', () => {
    it('needs Chromium and a Vulkan driver', () => {
      throw new Error(`REQUIRE_GPU=1 but ${skipReason}`);
    });
  });
}

/** The seed recipe on the same samples as the page, on the CPU. */
async function referenceRun(): Promise<{ trainCorrect: number; testCorrect: number }> {
  const { train, test } = await loadMnist();
  const testSubset = takeSamples(test, TEST_IMAGES);
  const trainer = new CpuTrainer(initNetwork(SEED_RECIPE.sizes, SEED_RECIPE.seed), takeSamples(train, BATCHES * SEED_RECIPE.batchSize), {
    batchSize: SEED_RECIPE.batchSize,
    confidence: SEED_RECIPE.confidence,
  });
  const epoch = await trainer.trainEpoch(null, SEED_RECIPE.learningRate, SEED_RECIPE.momentum);
  const { net } = await trainer.state();
  return { trainCorrect: epoch.correct, testCorrect: countCorrect(predictAll(net, testSubset), testSubset.labels) };
}

describe.skipIf(skipReason !== null)(`browser app in Chrome${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  let server: RunningServer;
  let browser: Browser;

  beforeAll(async () => {
    server = await startServer({ port: 0 });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it(`trains ${BATCHES} batches on WebGPU and scores at least ${MIN_TEST_ACCURACY * 100}% on ${TEST_IMAGES} test images`, async () => {
    const page = await browser.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await page.goto(`${server.url}?batches=${BATCHES}&test=${TEST_IMAGES}`);
    await page.waitForFunction(() => document.getElementById('result')?.textContent || document.getElementById('error')?.textContent, null, {
      timeout: RESULT_TIMEOUT_MS,
    });
    expect(await page.textContent('#error')).toBe('');
    expect(pageErrors).toEqual([]);
    const result = JSON.parse((await page.textContent('#result')) ?? '') as WebRunResult;

    expect(result.adapter).not.toBe('');
    expect(await page.textContent('#adapter')).toBe(result.adapter);
    expect(result.batches).toBe(BATCHES);
    expect(result.trainSamples).toBe(BATCHES * SEED_RECIPE.batchSize);
    expect(result.backpropagated).toBeGreaterThan(0);
    expect(result.testSamples).toBe(TEST_IMAGES);
    expect(result.testAccuracy).toBeGreaterThanOrEqual(MIN_TEST_ACCURACY);

    const reference = await referenceRun();
    expect(Math.abs(result.trainCorrect - reference.trainCorrect)).toBeLessThanOrEqual(AGREEMENT * result.trainSamples);
    expect(Math.abs(result.testCorrect - reference.testCorrect)).toBeLessThanOrEqual(AGREEMENT * TEST_IMAGES);
  });
});
