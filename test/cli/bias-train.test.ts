/**
 * `--bias` as train parses it (flag, recipe-file key, help, refusals), then `train --bias` through
 * the bundled CLI on a generated IDX set (3 classes of 4×5 pixels), as a
 * user runs it on the JS reference: the network learns, the saved file holds its biases, the
 * summaries count kept weights plus biases, `eval` scores what `train` scored, `prune
 * --structured` keeps the accuracy (constant neurons folded into the biases), and the saved
 * recipe reruns bit for bit; on the GPU (when there is an adapter) the run trains what the JS
 * reference trains, biases included.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseArgs } from '../../src/cli/parse';
import { detectAndParseModel } from '../../src/format/model-file';
import { SEED_RECIPE } from '../../src/train/recipe';
import { runCli, toyDataFolder, trainRecipe, type CliOutcome } from '../helpers/cli';
import { testGpu } from '../helpers/gpu';

const gpu = await testGpu();

let dir = '';

const webgpuPrune = (...args: string[]): Promise<CliOutcome> => runCli(dir, args);

/** 20 batches of 30 an epoch; half the weights pruned after epoch 3. */
const RUN = ['train', '--data', 'toy', '--bias', '--sizes', '20,7,3', '--epochs', '6', '--batch-size', '30', '--lr', '0.002', '--sparsity', '0.5', '--prune-epoch', '3'];
const BIASED = [...RUN, '--backend', 'cpu'];

beforeAll(async () => {
  await promisify(execFile)(process.execPath, ['scripts/build.mjs']);
  dir = toyDataFolder('webgpu-prune-bias-');
}, 120_000);

describe('the --bias option', () => {
  it('is off by default (the seed recipe has no bias key at all), on with the flag or a recipe file', () => {
    expect(trainRecipe(parseArgs(['train']))).toEqual(SEED_RECIPE);
    expect(trainRecipe(parseArgs(['train', '--bias'])).bias).toBe(true);
    expect(trainRecipe(parseArgs(['train'], { file: 'r.json', options: { bias: true } })).bias).toBe(true);
    expect('bias' in trainRecipe(parseArgs(['train', '--no-bias'], { file: 'r.json', options: { bias: true } }))).toBe(false);
  });

  it('is refused in one line where it cannot apply, and has its help text', () => {
    expect(parseArgs(['train'], { file: 'r.json', options: { bias: 'yes' } })).toMatchObject({ kind: 'exit', code: 2, output: expect.stringContaining('r.json: "bias" must be true or false, got "yes"') });
    expect(parseArgs(['train', '--resume', 'run.ckpt', '--bias'])).toMatchObject({ output: expect.stringContaining("--bias cannot change when resuming: the checkpoint's recipe continues") });
    const help = parseArgs(['train', '--help']);
    // yargs wraps the help into columns.
    const text = help.kind === 'exit' ? help.output.replace(/\s+/g, ' ') : '';
    expect(text).toContain('--bias A bias per neuron, trained by the same rule as the weights; off for the seed recipe');
    expect(text).toContain('biases are not decayed');
  });
});

describe('train --bias on the JS reference (3 classes of 20 pixels)', () => {
  it('learns, saves the biases, counts weights plus biases, and eval scores the same', async () => {
    const trained = await webgpuPrune(...BIASED, '--json', '--out', 'biased.safetensors');
    expect(trained.code, trained.stderr).toBe(0);
    const result = JSON.parse(trained.stdout);
    expect(result.recipe).toMatchObject({ sizes: [20, 7, 3], bias: true });
    expect(result.biases).toBe(7 + 3);
    expect(result.weights).toBe(Math.round(0.5 * (20 * 7 + 7 * 3)));
    expect(result.parameters).toBe(result.weights + 10);
    // Chance is a third; the classes are far apart.
    expect(result.test.accuracy).toBeGreaterThan(90);

    const { net } = detectAndParseModel(readFileSync(join(dir, 'biased.safetensors')), 'biased.safetensors');
    expect(net.biases!.map((b) => b.length)).toEqual([7, 3]);
    expect(net.biases!.every((b) => b.some((v) => v !== 0))).toBe(true);

    const evaluated = await webgpuPrune('eval', 'biased.safetensors', '--data', 'toy', '--backend', 'cpu', '--json');
    expect(evaluated.code, evaluated.stderr).toBe(0);
    expect(JSON.parse(evaluated.stdout)).toMatchObject({ correct: result.test.correct, weights: result.weights, biases: 10, parameters: result.parameters });
  });

  it('prints the parameter count beside the kept weights', async () => {
    const trained = await webgpuPrune(...BIASED, '--out', 'human.safetensors');
    expect(trained.code, trained.stderr).toBe(0);
    expect(trained.stdout).toContain('Network    20-7-3, 161 weights and 10 biases, init seed 1337');
    expect(trained.stdout).toMatch(/Pruned after epoch 3 \(global sparsity 0\.5\): 81 of 161 weights kept; parameters \(kept weights \+ biases\) 91\n/);
    expect(trained.stdout).toContain('Parameters 91: 81 of 161 weights kept + 10 biases');
    const evaluated = await webgpuPrune('eval', 'human.safetensors', '--data', 'toy', '--backend', 'cpu');
    expect(evaluated.stdout).toContain('81 of 161 weights (50.31%); parameters (kept weights + biases) 91, safetensors');
  });

  it('prune --structured drops and folds neurons and keeps the accuracy', async () => {
    const pruned = await webgpuPrune('prune', 'biased.safetensors', '--sparsity', '0.85', '--out', 'sparse.safetensors', '--json');
    expect(pruned.code, pruned.stderr).toBe(0);
    const structured = await webgpuPrune('prune', 'sparse.safetensors', '--structured', '--out', 'structured.safetensors', '--json');
    expect(structured.code, structured.stderr).toBe(0);
    const report = JSON.parse(structured.stdout);
    expect(report.sizes[0]).toBeLessThan(20);
    expect(report.sizes[1]).toBeLessThan(7);
    expect(report.parameters).toBe(report.weights + report.biases);
    expect(report.biases).toBe(report.sizes[1] + report.sizes[2]);
    const [before, after] = await Promise.all(
      ['sparse.safetensors', 'structured.safetensors'].map(async (file) => JSON.parse((await webgpuPrune('eval', file, '--data', 'toy', '--backend', 'cpu', '--json')).stdout)),
    );
    expect(after.correct).toBe(before.correct);
  });

  it('--recipe MODEL reruns the biased recipe bit for bit', async () => {
    const first = await webgpuPrune(...BIASED, '--out', 'first.safetensors');
    expect(first.code, first.stderr).toBe(0);
    const rerun = await webgpuPrune('train', '--data', 'toy', '--backend', 'cpu', '--recipe', 'first.safetensors', '--out', 'rerun.safetensors');
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(readFileSync(join(dir, 'rerun.safetensors')).equals(readFileSync(join(dir, 'first.safetensors')))).toBe(true);
  });
});

describe.skipIf(!gpu.context)(`train --bias on the GPU ${gpu.label}`, () => {
  it('trains the weights and biases the JS reference trains, and --verify says so', async () => {
    const [onGpu, onCpu] = [
      await webgpuPrune(...RUN, '--backend', 'gpu', '--verify', '--json', '--out', 'gpu.safetensors'),
      await webgpuPrune(...BIASED, '--json', '--out', 'reference.safetensors'),
    ];
    expect(onGpu.code, onGpu.stderr).toBe(0);
    expect(onCpu.code, onCpu.stderr).toBe(0);
    const [g, c] = [JSON.parse(onGpu.stdout), JSON.parse(onCpu.stdout)];
    expect(g.backend).toBe('gpu');
    expect(g.recipe).toEqual(c.recipe);
    expect(g.verify.worstRelDiff).toBeLessThan(1e-4);
    expect(g.verify.correctGpu).toBe(g.verify.correctReference);
    expect(g.test.correct).toBe(c.test.correct);
    expect(g.parameters).toBe(c.parameters);
    const read = (file: string) => detectAndParseModel(readFileSync(join(dir, file)), file).net;
    const [onDevice, reference] = [read('gpu.safetensors'), read('reference.safetensors')];
    // Float32 sums in another order: within 1e-4 of each layer's largest value.
    const close = (ours: Float32Array[], theirs: Float32Array[], what: string) =>
      theirs.forEach((ref, l) => {
        const scale = ref.reduce((m, w) => Math.max(m, Math.abs(w)), 0);
        const worst = ref.reduce((m, w, k) => Math.max(m, Math.abs(w - ours[l]![k]!)), 0);
        expect(worst / scale, `${what} of layer ${l}`).toBeLessThan(1e-4);
      });
    close(onDevice.weights, reference.weights, 'weights');
    close(onDevice.biases!, reference.biases!, 'biases');
  });
});
