/**
 * The browser app end to end in Chrome: Vite builds the site as `npm run build:web` does,
 * `webgpu-prune web`'s static server serves it, and the system Chromium runs it headless on its
 * WebGPU adapter (SwiftShader on machines without a GPU). Checked: the `?auto=1` pipeline against
 * the JS reference trained on the same samples; a run driven with real clicks (preset, train,
 * pause, resume, stop, a failed run that leaves the charts, save, load); mistakes and clicks at
 * the wrong time (a bad preset, a run that fails, invalid fields, pause before the first batch,
 * drops, actions while another runs, races again, a race stopped); digits drawn with the mouse;
 * the page without WebGPU.
 *
 * Without /usr/bin/chromium, or with the Vulkan drivers hidden, the suite is skipped with the
 * reason in its name; with REQUIRE_GPU=1 (set by CI, which installs Chromium) it fails instead.
 * With SCREENSHOT_DIR set, each stage is written there as a PNG (the README's pictures).
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStaticServer, type StaticServer } from '../../src/cli/commands/web';
import { countCorrect, predictAll } from '../../src/cpu/forward';
import { CpuTrainer } from '../../src/cpu/trainer';
import { takeSamples } from '../../src/data/dataset';
import { detectAndParseModel, encodeModel } from '../../src/format/model-file';
import { initNetwork } from '../../src/model/network';
import { loadMnist } from '../../src/node/mnist';
import type { Recipe } from '../../src/train/recipe';
import { runTraining } from '../../src/train/run';
import type { AutoResult } from '../../src/web/main';
import { temporaryFolder } from '../helpers/temporary-folder';

const CHROMIUM = '/usr/bin/chromium';

/** Stops Chromium from reaching for the network (refused on closed networks, and slow to time out). */
const QUIET_ARGS = ['--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
/** What gives headless Chromium on Linux a WebGPU adapter. */
const WEBGPU_ARGS = ['--enable-unsafe-webgpu', ...QUIET_ARGS];

/** f32 sums in another order may flip a few borderline predictions; 1% of the samples is plenty. */
const AGREEMENT = 0.01;
const RESULT_TIMEOUT_MS = 240_000;

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

const screenshotDir = process.env.SCREENSHOT_DIR;

/** The part of the page that `selector` names, as `SCREENSHOT_DIR/NAME.png`. */
async function screenshot(page: Page, name: string, selector: string): Promise<void> {
  if (!screenshotDir) return;
  await mkdir(screenshotDir, { recursive: true });
  await page.locator(selector).screenshot({ path: join(screenshotDir, `${name}.png`) });
}

/** Opens `url` and waits for `#result` or `#error`; returns the result, failing on any error the page shows or throws. */
async function autoRun(page: Page, url: string): Promise<AutoResult> {
  const pageErrors: string[] = [];
  page.on('pageerror', (error) => pageErrors.push(error.message));
  await page.goto(url);
  await page.waitForFunction(() => document.getElementById('result')?.textContent || document.getElementById('error')?.textContent, null, {
    timeout: RESULT_TIMEOUT_MS,
    polling: 200,
  });
  expect(await page.textContent('#error')).toBe('');
  expect(pageErrors).toEqual([]);
  return JSON.parse((await page.textContent('#result')) ?? '') as AutoResult;
}

/** The recipe on the same samples, on the JS reference: train correct per epoch, test correct. */
async function referenceRun(recipe: Recipe, trainImages: number, testImages: number): Promise<{ trainCorrect: number[]; testCorrect: number }> {
  const { train, test } = await loadMnist();
  const trainer = new CpuTrainer(initNetwork(recipe.sizes, recipe.seed), takeSamples(train, trainImages), recipe);
  const result = await runTraining(trainer, recipe, trainImages, {});
  if (result.status !== 'finished') throw new Error(`the reference run ended ${result.status}`);
  const testSubset = takeSamples(test, testImages);
  return { trainCorrect: result.epochs.map((e) => e.correct), testCorrect: countCorrect(predictAll(result.net, testSubset), testSubset.labels) };
}

/** Whether a canvas holds a pixel of this colour (within a few levels): what a drawn series or weight leaves. */
function canvasHasColour(page: Page, selector: string, rgb: [number, number, number]): Promise<boolean> {
  return page.$eval(
    selector,
    (canvas, [r, g, b]) => {
      const c = canvas as HTMLCanvasElement;
      const data = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
      for (let k = 0; k < data.length; k += 4) {
        if (data[k + 3]! > 200 && Math.abs(data[k]! - r!) < 8 && Math.abs(data[k + 1]! - g!) < 8 && Math.abs(data[k + 2]! - b!) < 8) return true;
      }
      return false;
    },
    rgb,
  );
}

describe.skipIf(skipReason !== null)(`browser app in Chrome${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  let site: string;
  let server: StaticServer;
  let browser: Browser;

  beforeAll(async () => {
    site = temporaryFolder('webgpu-prune-site-');
    await build({ configFile: new URL('../../scripts/vite.config.ts', import.meta.url).pathname, logLevel: 'warn', build: { outDir: site, sourcemap: false } });
    server = await startStaticServer(site, 0);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: WEBGPU_ARGS });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('?auto=1 trains, prunes, compacts and races on WebGPU as the JS reference does, without blocking the page', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const result = await autoRun(page, `${server.url}?auto=1&epochs=2&limit=2400&test=1000&prune-epoch=1&threshold=0.0004&race-batches=1,100&race-repeats=2`);
    for (const section of ['watch', 'prune', 'network', 'race']) await screenshot(page, section, `#${section}`);

    expect(result.backend).toBe('gpu');
    expect(result.adapter).not.toBe('');
    expect(await page.textContent('#backend')).toBe(`WebGPU on ${result.adapter}`);
    expect(result.epochs.map((e) => e.epoch)).toEqual([1, 2]);
    expect(result.epochs[0]!.keptWeights).toBeLessThan(90);
    expect(result.epochs[1]!.loss).toBeLessThan(result.epochs[0]!.loss!);
    const reference = await referenceRun(result.recipe, 2400, 1000);
    result.epochs.forEach((e, i) => expect(Math.abs((e.trainAccuracy / 100) * 2400 - reference.trainCorrect[i]!)).toBeLessThanOrEqual(AGREEMENT * 2400));
    expect(result.dense.total).toBe(1000);
    expect(Math.abs(result.dense.correct - reference.testCorrect)).toBeLessThanOrEqual(AGREEMENT * 1000);
    expect(result.pruned.compactCorrect).toBe(result.pruned.correct);
    expect(result.pruned.sizes[0]).toBe(784);

    const engines = ['dense', 'sparse', 'compact', 'hybrid', 'compact-dense', 'tfjs-webgpu', 'onnxruntime-webgpu'];
    for (const batch of [1, 100]) expect(result.race.filter((r) => r.batch === batch).map((r) => r.engine).sort(), `batch ${batch}`).toEqual([...engines].sort());
    expect(result.race.every((r) => Number.isFinite(r.samplesPerSec) && r.samplesPerSec > 0)).toBe(true);
    // The worker trained, the page only drew: no main-thread task anywhere near an epoch's length.
    // Not the browser's own 50 ms: with other jobs on a two-core machine one such task took 58 ms.
    expect(result.longestTaskMs).toBeLessThan(200);
    await page.close();
  });

  it('runs from clicks: preset, train, pause, resume, stop, then save the network and load it back', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(server.url);
    await page.waitForSelector('#train:not([disabled])', { timeout: RESULT_TIMEOUT_MS });

    await page.selectOption('#preset', 'two-percent');
    expect(await page.inputValue('[name=schedule]')).toBe('gradual');
    expect(await page.inputValue('[name=layer-sparsity]')).toBe('0.985,0.965,0.85');
    await page.fill('[name=epochs]', '40');
    await page.fill('[name=limit]', '1600');
    await page.fill('[name=test]', '500');
    await page.fill('[name=prune-start]', '2');
    await page.fill('[name=prune-end]', '4');
    expect(await page.inputValue('#preset')).toBe('custom');
    await page.click('#train');

    const status = (): Promise<string> => page.textContent('#train-status').then((t) => t ?? '');
    await page.waitForFunction(() => /^Epoch [2-9]\d* of 40/.test(document.getElementById('train-status')?.textContent ?? ''), null, { timeout: RESULT_TIMEOUT_MS });
    await page.click('#pause');
    await page.waitForFunction(() => document.getElementById('train-status')?.textContent?.startsWith('Paused.'), null, { timeout: 60_000 });
    const paused = await status();
    await screenshot(page, 'paused', '#watch');
    await page.waitForTimeout(1500);
    expect(await status()).toBe(paused);
    expect(await page.textContent('#pause')).toBe('Resume');
    await page.click('#pause');
    await page.waitForFunction((before) => !document.getElementById('train-status')?.textContent?.startsWith('Paused.') && document.getElementById('train-status')?.textContent !== before, paused, { timeout: 60_000 });
    await page.click('#stop');
    await page.waitForFunction(() => document.getElementById('train-status')?.textContent?.startsWith('Stopped after'), null, { timeout: 60_000 });
    expect(await page.textContent('#train-summary')).toMatch(/^Test accuracy \d+\.\d\d% with \d+\.\d\d% of the weights/);

    // Drawn: the train (blue) and test (red) series, the kept weights (green), weights in the network and receptive fields.
    expect(await canvasHasColour(page, '#accuracy-chart canvas', [31, 119, 180])).toBe(true);
    expect(await canvasHasColour(page, '#accuracy-chart canvas', [214, 39, 40])).toBe(true);
    expect(await canvasHasColour(page, '#kept-chart canvas', [44, 160, 44])).toBe(true);
    expect(await canvasHasColour(page, '#loss-chart canvas', [255, 127, 14])).toBe(true);
    for (const canvas of ['#network-canvas', '#fields-canvas']) {
      const inked = await page.$eval(canvas, (c) => {
        const data = (c as HTMLCanvasElement).getContext('2d')!.getImageData(0, 0, (c as HTMLCanvasElement).width, (c as HTMLCanvasElement).height).data;
        let coloured = 0;
        for (let k = 0; k < data.length; k += 4) if (data[k + 3]! > 0 && (data[k] !== data[k + 1] || data[k + 1] !== data[k + 2])) coloured++;
        return coloured;
      });
      expect(inked, canvas).toBeGreaterThan(100);
    }

    // A run that fails before its first epoch leaves the charts of the run before it.
    await page.fill('[name=test]', '20000');
    await page.click('#train');
    await page.waitForFunction(() => document.getElementById('train-status')?.textContent?.startsWith('Failed:'), null, { timeout: 60_000 });
    expect(await status()).toBe('Failed: test 20000 is more than the 10,000 test images');
    await expect.poll(() => canvasHasColour(page, '#accuracy-chart canvas', [31, 119, 180])).toBe(true);
    expect(await canvasHasColour(page, '#loss-chart canvas', [255, 127, 14])).toBe(true);

    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#save-safetensors')]);
    const file = await download.path();
    const saved = detectAndParseModel(new Uint8Array(await readFile(file)), download.suggestedFilename());
    expect(saved.net.sizes).toEqual([784, 100, 100, 10]);
    expect(await page.textContent('#model-status')).toMatch(/^Saved mnist-trained-784-100-100-10\.safetensors/);

    await page.setInputFiles('#model-file', file);
    await page.waitForFunction(() => /test accuracy/.test(document.getElementById('model-status')?.textContent ?? ''), null, { timeout: 60_000 });
    expect(await page.textContent('#model-status')).toContain('784-100-100-10');

    await page.setInputFiles('#model-file', { name: 'broken.safetensors', mimeType: 'application/octet-stream', buffer: Buffer.from('{"not": "a network"}') });
    await page.waitForFunction(() => document.getElementById('model-error')?.textContent, null, { timeout: 60_000 });
    const error = (await page.textContent('#model-error'))!;
    expect(error).toMatch(/^broken\.safetensors/);
    expect(error).not.toContain('\n');
    await screenshot(page, 'models', '#models');
    await page.close();
  });

  it('says what went wrong in one line and stays usable after mistakes and clicks at the wrong time', async () => {
    const dir = temporaryFolder('webgpu-prune-mistakes-');
    const modelFile = join(dir, 'start.safetensors');
    await writeFile(modelFile, encodeModel(initNetwork([784, 100, 100, 10], 1), 'safetensors'));
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    // ResizeObservers still watching: one per chart on the page, unless a chart was left behind.
    await page.addInitScript(() => {
      const live = new Set<ResizeObserver>();
      const { observe, disconnect } = ResizeObserver.prototype;
      ResizeObserver.prototype.observe = function (this: ResizeObserver, ...args: Parameters<ResizeObserver['observe']>) {
        live.add(this);
        observe.apply(this, args);
      };
      ResizeObserver.prototype.disconnect = function (this: ResizeObserver) {
        live.delete(this);
        disconnect.call(this);
      };
      (window as unknown as { liveObservers: () => number }).liveObservers = () => live.size;
    });
    const text = (selector: string): Promise<string> => page.textContent(selector).then((t) => t ?? '');
    const waitForText = (selector: string, pattern: RegExp): Promise<unknown> =>
      page.waitForFunction(([selector, source]) => new RegExp(source!).test(document.querySelector(selector!)?.textContent ?? ''), [selector, pattern.source], { timeout: RESULT_TIMEOUT_MS });
    /** Drags a file over `selector` and drops it there: whether the page kept the browser from each default. */
    const drop = (selector: string): Promise<boolean[]> =>
      page.$eval(selector, (target) => {
        const data = new DataTransfer();
        data.items.add(new File(['784 10'], 'dropped.txt'));
        return ['dragover', 'drop'].map((type) => !target.dispatchEvent(new DragEvent(type, { dataTransfer: data, bubbles: true, cancelable: true })));
      });

    await page.goto(`${server.url}?preset=nope`);
    await page.waitForSelector('#train:not([disabled])', { timeout: RESULT_TIMEOUT_MS });
    expect(await text('#error')).toMatch(/^preset=nope: expected one of .*seed.*; the form starts from seed$/);
    expect(await page.inputValue('#preset')).toBe('seed');
    const pictures = ["the network's neurons and connections", 'receptive fields of the first hidden layer', 'drawing pad: draw a digit with the mouse or a finger', 'the drawing as the network sees it, 28×28'];
    for (const name of pictures) {
      expect(await page.getByRole('img', { name }).count(), name).toBe(1);
    }
    // Beside the drop zone the browser would open the file in place of the page.
    expect(await drop('h1')).toEqual([true, true]);

    await page.setInputFiles('#model-file', modelFile);
    await waitForText('#model-status', /test accuracy/);

    // Passes the form's checks, not the worker's: the run fails, the loaded network stays.
    await page.fill('[name=batch-size]', '70000');
    await page.click('#train');
    await waitForText('#train-status', /^Failed/);
    expect(await text('#train-status')).toBe('Failed: batch-size 70000 is larger than the 60000 training images');
    expect(await text('#error')).toBe('batch-size 70000 is larger than the 60000 training images');
    expect(await page.isEnabled('#prune-button')).toBe(true);

    // A field that holds no number is named; one the chosen update rule hides is neither checked nor read.
    await page.fill('[name=batch-size]', '100');
    await page.fill('[name=epochs]', '40');
    await page.fill('[name=limit]', '1600');
    await page.fill('[name=test]', '500');
    await page.locator('[name=lr]').pressSequentially('1e');
    await page.click('#train');
    await waitForText('#error', /./);
    expect(await text('#error')).toBe('lr is not a number');
    await page.fill('[name=lr]', '');
    await page.selectOption('[name=optimizer]', 'adam');
    await page.fill('[name=beta1]', '2');
    await page.selectOption('[name=optimizer]', 'sgd');

    // Paused while the worker still makes the trainer.
    await page.click('#train');
    await page.click('#pause');
    await waitForText('#train-status', /^Paused\./);
    expect(await text('#train-status')).toBe('Paused. Epoch 1 of 40');
    expect(await text('#error')).toBe('');
    expect(await drop('#drop-zone')).toEqual([true, true]);
    await waitForText('#model-error', /./);
    expect(await text('#model-error')).toBe('the page is busy training: try again when that is done');
    await page.click('#stop');
    await waitForText('#train-status', /^Stopped/);
    expect(await text('#train-status')).toMatch(/^Stopped after 0 epochs in /);

    // Raced twice, each time with Train disabled and the race's button stopping it until it ends;
    // at 4 500 images the sparse engines' work passes their cap on the stopped run's network,
    // which keeps every weight.
    await page.fill('[name=repeats]', '1');
    for (const batches of ['1', '1,4500']) {
      await page.fill('[name=batches]', batches);
      expect(await page.$eval('#race-button', (button) => ((button as HTMLButtonElement).click(), [(document.getElementById('train') as HTMLButtonElement).disabled, button.textContent]))).toEqual([true, 'Stop race']);
      await waitForText('#race-button', /^Race$/);
    }
    expect(await text('#error')).toBe('');
    expect(await page.evaluate(() => (window as unknown as { liveObservers: () => number }).liveObservers())).toBe(4);
    expect(await page.isVisible('#race-skipped')).toBe(true);
    expect(await page.locator('#race-skipped li').allTextContents()).toContainEqual(expect.stringMatching(/sparse\/compact .*batch 4500: .*past the 4e\+8 cap$/));

    // Stopped from its button: the race says where, and the page is free again.
    await page.fill('[name=batches]', '1,2000,4000');
    await page.fill('[name=repeats]', '5');
    await page.click('#race-button');
    await page.click('#race-button');
    await waitForText('#race-button', /^Race$/);
    expect(await page.locator('#race-skipped li').allTextContents()).toContainEqual(expect.stringMatching(/ and what follows: the race was stopped$/));
    expect(await page.isEnabled('#train')).toBe(true);
    expect(await text('#error')).toBe('');

    // Ranked across the untrained network, 5% keeps no weight of its first layer (the smallest at
    // initialisation): refused in one line, as `webgpu-prune prune` refuses it. Per layer it prunes.
    await page.click('#prune-button');
    await waitForText('#error', /./);
    expect(await text('#error')).toMatch(/^the trained network: after pruning no neuron of hidden layer 1 can reach the output/);
    await page.selectOption('#prune-form [name=scope]', 'layer');
    expect(await page.$eval('#prune-button', (button) => ((button as HTMLButtonElement).click(), (document.getElementById('train') as HTMLButtonElement).disabled))).toBe(true);
    await waitForText('#prune-table', /after layer sparsity 0\.95/);
    await page.waitForSelector('#train:not([disabled])', { timeout: 60_000 });
    // Ranked by lookahead, the rule says so.
    await page.selectOption('#prune-form [name=prune-score]', 'lookahead');
    await page.click('#prune-button');
    await waitForText('#prune-table', /after layer lookahead sparsity 0\.95/);
    await page.waitForSelector('#train:not([disabled])', { timeout: 60_000 });
    await page.close();
  }, RESULT_TIMEOUT_MS);

  it('reads digits drawn with the mouse as MNIST digits and shows both networks’ probabilities', async () => {
    // A network trained on the JS reference, opened in the page as a user would open a CLI's file.
    const { train } = await loadMnist();
    const recipe: Recipe = { ...(await import('../../src/train/recipe')).SEED_RECIPE, epochs: 3, prune: { kind: 'none' } };
    const trainer = new CpuTrainer(initNetwork(recipe.sizes, recipe.seed), takeSamples(train, 12_000), recipe);
    const run = await runTraining(trainer, recipe, 12_000, {});
    if (run.status !== 'finished') throw new Error(`training ended ${run.status}`);
    const dir = temporaryFolder('webgpu-prune-digit-');
    const modelFile = join(dir, 'digits.safetensors');
    await writeFile(modelFile, encodeModel(run.net, 'safetensors'));

    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(server.url);
    await page.waitForSelector('#model-file:not([disabled])', { timeout: RESULT_TIMEOUT_MS });
    await page.setInputFiles('#model-file', modelFile);
    await page.waitForFunction(() => /test accuracy/.test(document.getElementById('model-status')?.textContent ?? ''), null, { timeout: 60_000 });
    await page.locator('#digit-canvas').scrollIntoViewIfNeeded();
    const box = (await page.locator('#digit-canvas').boundingBox())!;
    const at = (x: number, y: number): [number, number] => [box.x + x * box.width, box.y + y * box.height];

    const stroke = async (points: [number, number][]): Promise<void> => {
      await page.mouse.move(...at(...points[0]!));
      await page.mouse.down();
      for (const p of points.slice(1)) await page.mouse.move(...at(...p), { steps: 12 });
      await page.mouse.up();
    };
    const predicted = async (): Promise<string | undefined> => {
      await page.waitForFunction(() => document.getElementById('probabilities')?.dataset['trained'] !== undefined, null, { timeout: 30_000 });
      return page.$eval('#probabilities', (e) => (e as HTMLElement).dataset['trained']);
    };
    const clear = async (): Promise<void> => {
      await page.click('#clear-digit');
      await page.$eval('#probabilities', (e) => delete (e as HTMLElement).dataset['trained']);
    };

    await stroke([
      [0.52, 0.15],
      [0.5, 0.85],
    ]);
    expect(await predicted()).toBe('1');
    expect(await page.textContent('#prediction')).toMatch(/^Trained network reads 1 \(\d+\.\d%\)\.$/);
    await screenshot(page, 'digit-1', '#draw');
    await clear();
    await stroke([
      [0.25, 0.2],
      [0.75, 0.2],
      [0.42, 0.85],
    ]);
    expect(await predicted()).toBe('7');
    await screenshot(page, 'digit-7', '#draw');
    await page.close();
  }, 120_000);

  it('without WebGPU says so in one sentence and runs everything on the JS reference', async () => {
    const plain = await chromium.launch({ executablePath: CHROMIUM, args: QUIET_ARGS });
    try {
      const page = await plain.newPage({ viewport: { width: 1280, height: 900 } });
      const result = await autoRun(page, `${server.url}?auto=1&epochs=1&limit=800&test=300&schedule=none&race-batches=1,10&race-repeats=1`);
      await screenshot(page, 'no-webgpu', 'header');
      expect(result.backend).toBe('cpu');
      const notice = await page.locator('#gpu-notice');
      expect(await notice.isVisible()).toBe(true);
      expect(await notice.textContent()).toMatch(/WebGPU.*plain-JS reference/);
      expect(await page.textContent('#backend')).toBe('JS reference (no WebGPU)');
      const reference = await referenceRun(result.recipe, 800, 300);
      expect(result.dense.correct).toBe(reference.testCorrect);
      expect(new Set(result.race.map((r) => r.engine))).toEqual(new Set(['js-dense', 'js-sparse', 'js-compact']));
    } finally {
      await plain.close();
    }
  });
});
