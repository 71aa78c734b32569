/**
 * The CLI as a user runs it: the bundled `dist/cli.js` in a child process. Checks exit codes,
 * that --json prints exactly one JSON object on stdout, and that mistakes get one line on stderr
 * with no stack trace and leave no partial files behind.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { takeSamples } from '../../src/data/dataset';
import { encodeModel } from '../../src/format/model-file';
import { formatSeedText } from '../../src/format/seed-text';
import { initNetwork } from '../../src/model/network';
import { loadMnist } from '../../src/node/mnist';
import { encodeCheckpoint } from '../../src/train/checkpoint';
import { runTraining } from '../../src/train/run';
import { testGpu } from '../helpers/gpu';
import { temporaryFolder } from '../helpers/temporary-folder';
import { cpuTrainerAt, SMALL_SEED_RECIPE } from '../helpers/training-runs';

const gpu = await testGpu();

const run = promisify(execFile);
const cli = join(process.cwd(), 'dist', 'cli.js');
let dir = '';

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

/** Adapters hidden from Dawn: a machine with no GPU driver. */
const NO_VULKAN = { VK_ICD_FILENAMES: '/nonexistent.json', VK_DRIVER_FILES: '/nonexistent.json' };

async function webgpuPrune(...args: string[]): Promise<Outcome> {
  return webgpuPruneWith({}, ...args);
}

async function webgpuPruneWith(env: Record<string, string>, ...args: string[]): Promise<Outcome> {
  try {
    const { stdout, stderr } = await run(process.execPath, [cli, ...args], { cwd: dir, maxBuffer: 1 << 26, env: { ...process.env, ...env } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

function expectOneLineError(outcome: Outcome, pattern: RegExp): void {
  expect(outcome.code).not.toBe(0);
  expect(outcome.stdout).toBe('');
  const lines = outcome.stderr.trim().split('\n');
  expect(lines.length).toBeLessThanOrEqual(2);
  expect(lines[0]).toMatch(pattern);
  expect(outcome.stderr).not.toMatch(/\n\s+at /);
}

beforeAll(async () => {
  await run(process.execPath, ['scripts/build.mjs']);
  dir = temporaryFolder('webgpu-prune-cli-');
  writeFileSync(join(dir, 'seed.txt'), formatSeedText(initNetwork([784, 100, 100, 10], 1337)));
}, 120_000);

describe('webgpu-prune CLI', () => {
  it('train --backend cpu --json prints one JSON object and saves the network atomically', async () => {
    const r = await webgpuPrune('train', '--backend', 'cpu', '--epochs', '2', '--limit', '1600', '--json', '--out', 'small.txt');
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result).toMatchObject({ backend: 'cpu', out: 'small.txt', format: 'seed-text', totalWeights: 89_400 });
    expect(result.epochs).toHaveLength(2);
    expect(result.test.total).toBe(10_000);
    expect(r.stderr).toMatch(/epoch 2\/2/);
    expect(readdirSync(dir).filter((f) => f.includes('.tmp'))).toEqual([]);
    const evaluated = JSON.parse((await webgpuPrune('eval', 'small.txt', '--backend', 'cpu', '--json')).stdout);
    expect(evaluated.correct).toBe(result.test.correct);
    expect(evaluated.weights).toBe(result.weights);
  });

  it('a reader that closes stdout early (| head) ends the output, not the run: no stack trace, the network saved', async () => {
    const child = spawn(process.execPath, [cli, 'train', '--backend', 'cpu', '--epochs', '1', '--limit', '800', '--out', 'piped.safetensors'], { cwd: dir });
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(stderr).not.toMatch(/EPIPE|\n\s+at /);
    expect(code).toBe(0);
    expect(existsSync(join(dir, 'piped.safetensors'))).toBe(true);
    expect(readdirSync(dir).filter((f) => f.startsWith('piped.') && f !== 'piped.safetensors')).toEqual([]);
  });

  it('train --regrow says what each pass moved, and past --prune-end that it only regrew', async () => {
    const r = await webgpuPrune(
      ...['train', '--backend', 'cpu', '--epochs', '4', '--limit', '1600', '--shuffle', '--no-checkpoint', '--out', 'regrown.safetensors'],
      ...['--schedule', 'gradual', '--final-sparsity', '0.9', '--prune-start', '1', '--prune-end', '2', '--regrow', '0.2', '--regrow-end', '4'],
    );
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Pruning +gradual \(cubic\) from epoch 1 to 2 every 1: global sparsity 0 → 0\.9; regrowth 0\.2 → 0 \(cosine\) to epoch 4$/m);
    expect(r.stdout).toMatch(/^Pruned after epoch 2 \(gradual global sparsity 0\.9000, regrowth 0\.1500\): 8,940 of 89,400 weights kept, [1-9][\d,]* moved$/m);
    expect(r.stdout).toMatch(/^Regrew after epoch 3 \(gradual global sparsity 0\.9000, regrowth 0\.0500\): [1-9][\d,]* of 8,940 kept weights moved$/m);
    expect(r.stdout).toMatch(/^Regrew after epoch 4 \(gradual global sparsity 0\.9000, regrowth 0\.0000\): 0 of 8,940 kept weights moved$/m);
    expect(r.stdout).toMatch(/^Regrew after epoch 1 \(gradual global sparsity 0\.0000, regrowth 0\.2000\): 0 of 89,400 kept weights moved$/m);
    // The saved recipe reruns it; --json lists each pass's moves per layer.
    const again = await webgpuPrune('train', '--recipe', 'regrown.safetensors', '--backend', 'cpu', '--limit', '1600', '--json', '--no-checkpoint', '--out', 'again.safetensors');
    const moved = (JSON.parse(again.stdout).epochs as { moved?: number[] }[]).map((e) => e.moved);
    expect(moved.map((m) => m?.length)).toEqual([3, 3, 3, 3]);
    const printed = [...r.stdout.matchAll(/(?:, ([\d,]+) moved|: ([\d,]+) of [\d,]+ kept weights moved)$/gm)].map((m) => Number((m[1] ?? m[2])!.replace(/,/g, '')));
    expect(moved.map((m) => m!.reduce((a, b) => a + b, 0))).toEqual(printed);
  });

  it('info and convert read the seed text format; eval scores a converted file the same', async () => {
    const info = JSON.parse((await webgpuPrune('info', 'seed.txt', '--json')).stdout);
    expect(info).toMatchObject({ format: 'seed-text', sizes: [784, 100, 100, 10], weights: 89_400 });
    expect(info.layers.map((l: { in: number; out: number; weights: number }) => [l.in, l.out, l.weights])).toEqual([[784, 100, 78_400], [100, 100, 10_000], [100, 10, 1_000]]);
    const converted = await webgpuPrune('convert', 'seed.txt', '--out', 'seed.safetensors', '--json');
    expect(JSON.parse(converted.stdout)).toMatchObject({ from: 'seed-text', to: 'safetensors' });
    const a = JSON.parse((await webgpuPrune('eval', 'seed.txt', '--backend', 'cpu', '--json')).stdout);
    const b = JSON.parse((await webgpuPrune('eval', 'seed.safetensors', '--backend', 'cpu', '--json')).stdout);
    expect(b.correct).toBe(a.correct);
  });

  it('convert --layout torch writes a file eval, info and prune read back; convert writes ONNX', async () => {
    const torch = JSON.parse((await webgpuPrune('convert', 'seed.txt', '--out', 'torch.safetensors', '--layout', 'torch', '--json')).stdout);
    expect(torch).toMatchObject({ from: 'seed-text', to: 'safetensors', layout: 'torch' });
    const info = JSON.parse((await webgpuPrune('info', 'torch.safetensors', '--json')).stdout);
    expect(info).toMatchObject({ format: 'safetensors', sizes: [784, 100, 100, 10], weights: 89_400 });
    const a = JSON.parse((await webgpuPrune('eval', 'seed.txt', '--backend', 'cpu', '--json')).stdout);
    const b = JSON.parse((await webgpuPrune('eval', 'torch.safetensors', '--backend', 'cpu', '--json')).stdout);
    expect(b.correct).toBe(a.correct);
    const pruned = JSON.parse((await webgpuPrune('prune', 'torch.safetensors', '--sparsity', '0.5', '--out', 'torch-p.safetensors', '--json')).stdout);
    expect(pruned.weights).toBe(44_700);
    const onnx = await webgpuPrune('convert', 'torch.safetensors', '--out', 'seed.onnx');
    expect(onnx.stdout).toBe('torch.safetensors (safetensors, torch layout) → seed.onnx (onnx, logits out): 784-100-100-10, 89,400 weights\n');
    expect(readFileSync(join(dir, 'seed.onnx'))[0]).toBe(0x08);
  });

  it.skipIf(!gpu.context)(`eval on the GPU, dense and --sparse, counts what the JS reference counts ${gpu.label}`, async () => {
    await webgpuPrune('prune', 'seed.txt', '--sparsity', '0.9', '--scope', 'layer', '--out', 'p90.safetensors');
    const cpu = JSON.parse((await webgpuPrune('eval', 'p90.safetensors', '--backend', 'cpu', '--json')).stdout);
    const dense = JSON.parse((await webgpuPrune('eval', 'p90.safetensors', '--backend', 'gpu', '--json')).stdout);
    const sparse = JSON.parse((await webgpuPrune('eval', 'p90.safetensors', '--backend', 'gpu', '--sparse', '--json')).stdout);
    expect(dense).toMatchObject({ backend: 'gpu', total: 10_000 });
    expect(sparse.kernel).toMatch(/sparse/);
    // An untrained network has near-ties among its logits; a different summation order may flip a few.
    expect(Math.abs(dense.correct - cpu.correct)).toBeLessThanOrEqual(3);
    expect(Math.abs(sparse.correct - cpu.correct)).toBeLessThanOrEqual(3);
  });

  it.skipIf(!gpu.context)(`eval --sparse runs the small layers as programs of their own, counting what --no-unrolled counts ${gpu.label}`, async () => {
    await webgpuPrune('prune', 'seed.txt', '--sparsity', '0.99', '--scope', 'layer', '--out', 'p99.safetensors');
    const sparse = JSON.parse((await webgpuPrune('eval', 'p99.safetensors', '--backend', 'gpu', '--sparse', '--no-unrolled', '--json')).stdout);
    const unrolled = JSON.parse((await webgpuPrune('eval', 'p99.safetensors', '--backend', 'gpu', '--sparse', '--json')).stdout);
    expect(sparse.kernel).not.toContain('sparse_unrolled');
    expect(unrolled.kernel).toContain('sparse_unrolled');
    expect(unrolled.total).toBe(10_000);
    // Another summation order may flip a near-tie or two.
    expect(Math.abs(unrolled.correct - sparse.correct)).toBeLessThanOrEqual(3);
  }, 300_000);

  it('prune --sparsity then --structured shrinks the network and reports it', async () => {
    const pruned = JSON.parse((await webgpuPrune('prune', 'seed.txt', '--sparsity', '0.99', '--scope', 'layer', '--out', 'p.safetensors', '--json')).stdout);
    expect(pruned.weights).toBe(784 + 100 + 10);
    const compact = JSON.parse((await webgpuPrune('prune', 'p.safetensors', '--structured', '--out', 'c.safetensors', '--json')).stdout);
    // 784 weights are kept in the first layer, one per input at best: some inputs feed nothing.
    expect(compact.sizes[0]).toBeLessThan(784);
    expect([compact.inputs, compact.inputSize]).toEqual([compact.sizes[0], 784]);
    expect(compact.sizes[3]).toBe(10);
    expect(compact.sizes[1] + compact.sizes[2]).toBeLessThan(200);
    const info = (await webgpuPrune('info', 'c.safetensors')).stdout;
    expect(info.split('\n')[0]).toContain(`, ${compact.sizes[0]} (of 784) inputs, `);
    const before = JSON.parse((await webgpuPrune('eval', 'p.safetensors', '--backend', 'cpu', '--json')).stdout);
    const after = JSON.parse((await webgpuPrune('eval', 'c.safetensors', '--backend', 'cpu', '--json')).stdout);
    expect(after.correct).toBe(before.correct);
    // Kept weights counted against the network before structured pruning, as info and train count them.
    expect([before.totalWeights, after.totalWeights]).toEqual([89_400, 89_400]);
    // The seed's text has no place for the features read: it holds the network of whole samples.
    await webgpuPrune('convert', 'c.safetensors', '--out', 'c.txt');
    expect(readFileSync(join(dir, 'c.txt'), 'utf8').split('\r\n')[0]).toBe(`784,${compact.sizes.slice(1).join(',')}`);
    expect(JSON.parse((await webgpuPrune('eval', 'c.txt', '--backend', 'cpu', '--json')).stdout).correct).toBe(before.correct);
  });

  it.skipIf(!gpu.context)(`eval of a file that reads only some inputs counts on the GPU what the uncompacted network counts ${gpu.label}`, async () => {
    // At 97% sparsity per layer about 5% of the inputs keep no weight.
    await webgpuPrune('prune', 'seed.txt', '--sparsity', '0.97', '--scope', 'layer', '--out', 'p97.safetensors');
    const compact = JSON.parse((await webgpuPrune('prune', 'p97.safetensors', '--structured', '--out', 'c97.safetensors', '--json')).stdout);
    expect(compact.sizes[0]).toBeLessThan(784);
    const evaluate = async (file: string, ...backend: string[]) => JSON.parse((await webgpuPrune('eval', file, ...backend, '--json')).stdout);
    for (const backend of [['--backend', 'cpu'], ['--backend', 'gpu'], ['--backend', 'gpu', '--sparse']]) {
      const [full, read] = [await evaluate('p97.safetensors', ...backend), await evaluate('c97.safetensors', ...backend)];
      expect([read.inputs, read.inputSize]).toEqual([compact.sizes[0], 784]);
      expect(read.kernel).toBe(full.kernel);
      // The sparse path compacts the uncompacted network to the file's network: the same run. The
      // dense matmul sums fewer exact zeros in another order; an untrained network has near-ties.
      if (backend.includes('--sparse') || backend.includes('cpu')) expect(read.correct).toBe(full.correct);
      else expect(Math.abs(read.correct - full.correct)).toBeLessThanOrEqual(3);
    }
  });

  it('mistakes get one line on stderr, a non-zero exit and no stack trace', async () => {
    writeFileSync(join(dir, 'bad.txt'), '784,100,100,10\n1,2,x\n');
    expectOneLineError(await webgpuPrune('eval', 'bad.txt', '--backend', 'cpu'), /^webgpu-prune: bad\.txt/);
    expectOneLineError(await webgpuPrune('eval', 'missing.txt', '--backend', 'cpu'), /^webgpu-prune: cannot read missing\.txt/);
    expectOneLineError(await webgpuPrune('train', '--epochs', '-3'), /--epochs must be a positive integer/);
    expectOneLineError(await webgpuPrune('train', '--backend', 'cpu', '--data', 'nowhere'), /^webgpu-prune: .*nowhere/);
    expectOneLineError(await webgpuPrune('eval', 'seed.txt', '--adapter', 'no-such-adapter'), /^webgpu-prune: no (matching )?WebGPU adapter/);
    writeFileSync(join(dir, 'noise.bin'), 'hello');
    expectOneLineError(await webgpuPrune('info', 'noise.bin'), /^webgpu-prune: noise\.bin/);
    const dead = await webgpuPrune('prune', 'seed.txt', '--sparsity', '0.99', '--structured', '--out', 'out.safetensors');
    expectOneLineError(dead, /no neuron of hidden layer 1 can reach the output/);
    expect(existsSync(join(dir, 'out.safetensors'))).toBe(false);
    const none = await webgpuPrune('prune', 'seed.txt', '--structured', '--keep-neurons', '0', '--out', 'out.safetensors');
    expectOneLineError(none, /^webgpu-prune: --keep-neurons must be a fraction in \(0, 1\]/);
    expect(existsSync(join(dir, 'out.safetensors'))).toBe(false);
    const usage = await webgpuPrune('prune', 'seed.txt', '--scope', 'wide', '--out', 'out.safetensors');
    expect(usage.code).toBe(2);
    expect(usage.stderr).toBe(`webgpu-prune: --scope must be one of "global", "layer", got "wide"\nRun 'webgpu-prune prune --help' for usage.\n`);
  });

  it('bench refuses a bad --out-dir, and --no-unrolled but for bench infer, before it opens a device or measures', async () => {
    writeFileSync(join(dir, 'somefile'), '');
    expectOneLineError(await webgpuPrune('bench', 'matmul', '--quick', '--repeats', '1', '--out-dir', 'somefile/sub'), /^webgpu-prune: cannot create --out-dir somefile\/sub: /);
    mkdirSync(join(dir, 'results', 'bench-infer.svg'), { recursive: true });
    expectOneLineError(await webgpuPrune('bench', 'infer', '--quick', '--repeats', '1', '--out-dir', 'results'), /^webgpu-prune: cannot write --out-dir results\/bench-infer\.svg: it is a folder$/);
    for (const target of ['matmul', 'train']) {
      expectOneLineError(await webgpuPrune('bench', target, '--quick', '--repeats', '1', '--no-unrolled'), /^webgpu-prune: --no-unrolled goes with bench infer/);
    }
  });

  it('prune and convert check --out before they read the network: one line saying what is wrong with it', async () => {
    const prune = await webgpuPrune('prune', 'seed.txt', '--sparsity', '0.5', '--out', 'nowhere/p.safetensors');
    expectOneLineError(prune, /^webgpu-prune: cannot write --out nowhere\/p\.safetensors: the folder nowhere does not exist$/);
    mkdirSync(join(dir, 'afolder'), { recursive: true });
    expectOneLineError(await webgpuPrune('convert', 'seed.txt', '--out', 'afolder/'), /^webgpu-prune: cannot write --out afolder\/: it is a folder$/);
    expect(readdirSync(join(dir, 'afolder'))).toEqual([]);
  });

  it('prune drops the test accuracy it invalidates and convert keeps it; neither passes on a checkpoint\'s training state', async () => {
    const metadata = { testAccuracy: '97.50', keptEpoch: '3' };
    writeFileSync(join(dir, 'scored.safetensors'), encodeModel(initNetwork([784, 100, 100, 10], 1), 'safetensors', { metadata }));
    await webgpuPrune('prune', 'scored.safetensors', '--threshold', '100', '--out', 'zero.safetensors');
    await webgpuPrune('convert', 'scored.safetensors', '--out', 'same.safetensors', '--layout', 'csr');
    const info = async (file: string) => JSON.parse((await webgpuPrune('info', file, '--json')).stdout);
    const zero = await info('zero.safetensors');
    expect(zero.weights).toBe(0);
    expect(zero.metadata).toMatchObject({ keptEpoch: '3', keptWeights: '0' });
    expect(zero.metadata).not.toHaveProperty('testAccuracy');
    expect((await info('same.safetensors')).metadata).toMatchObject(metadata);

    // A real checkpoint, stopped a few batches into its first epoch.
    const train = takeSamples((await loadMnist()).train, 1_000);
    let asked = 0;
    const stopped = await runTraining(cpuTrainerAt(SMALL_SEED_RECIPE, train), SMALL_SEED_RECIPE, train.count, {}, { shouldStop: () => ++asked > 3, train });
    if (stopped.status !== 'interrupted') throw new Error(`the run was not stopped: ${stopped.status}`);
    writeFileSync(join(dir, 'run.ckpt'), encodeCheckpoint(stopped.checkpoint));
    await webgpuPrune('convert', 'run.ckpt', '--out', 'from-ckpt.safetensors');
    await webgpuPrune('prune', 'run.ckpt', '--sparsity', '0.5', '--out', 'pruned-ckpt.safetensors');
    for (const file of ['from-ckpt.safetensors', 'pruned-ckpt.safetensors']) {
      expect((await info(file)).metadata).not.toHaveProperty('checkpoint');
      expectOneLineError(await webgpuPrune('train', '--resume', file), new RegExp(`^webgpu-prune: ${file.replace('.', '\\.')}: not a training checkpoint`));
    }
  });

  it('info shows one shape where prune removed no neuron; eval, prune and convert show a file name safe for the terminal', async () => {
    await webgpuPrune('prune', 'seed.txt', '--sparsity', '0.5', '--out', 'half.safetensors');
    const first = (await webgpuPrune('info', 'half.safetensors')).stdout.split('\n')[0];
    expect(first).toMatch(/^half\.safetensors: safetensors, 784-100-100-10, /);
    expect(first).not.toContain('→');

    const odd = 'odd\x1b[2Jname.txt';
    writeFileSync(join(dir, odd), formatSeedText(initNetwork([784, 100, 100, 10], 1)));
    const shown = 'odd\\x1b[2Jname.txt';
    expect((await webgpuPrune('eval', odd, '--backend', 'cpu')).stdout.startsWith(`${shown}: 784-100-100-10, `)).toBe(true);
    expect((await webgpuPrune('prune', odd, '--sparsity', '0.5', '--out', `${odd}.safetensors`)).stdout.startsWith(`${shown} → ${shown}.safetensors (safetensors), `)).toBe(true);
    expect((await webgpuPrune('convert', odd, '--out', `${odd}.onnx`)).stdout.startsWith(`${shown} (seed-text) → ${shown}.onnx (onnx, logits out): `)).toBe(true);
  });

  it.skipIf(process.platform !== 'linux')("with no Vulkan driver, Dawn's complaints about it show only with --verbose", async () => {
    const quiet = await webgpuPruneWith(NO_VULKAN, 'eval', 'seed.txt', '--backend', 'gpu');
    expectOneLineError(quiet, /^webgpu-prune: no WebGPU adapter/);
    const verbose = await webgpuPruneWith(NO_VULKAN, 'eval', 'seed.txt', '--backend', 'gpu', '--verbose');
    expect(verbose.code).toBe(quiet.code);
    expect(verbose.stderr).toMatch(/^Warning: .*\n(.*\n)*webgpu-prune: no WebGPU adapter/);
  });

  it.skipIf(!gpu.context)(`a run on the GPU shows the driver's own messages only with --verbose ${gpu.label}`, async () => {
    const quiet = await webgpuPrune('eval', 'seed.txt', '--backend', 'gpu', '--json');
    const verbose = await webgpuPrune('eval', 'seed.txt', '--backend', 'gpu', '--json', '--verbose');
    expect(JSON.parse(quiet.stdout).correct).toBe(JSON.parse(verbose.stdout).correct);
    expect(quiet.stderr).toMatch(/^GPU: /);
    expect(quiet.stderr).not.toMatch(/^Warning: /m);
    // --verbose adds the driver's lines (lavapipe has two) and nothing else.
    expect(verbose.stderr.split('\n').filter((line) => !line.startsWith('Warning: '))).toEqual(quiet.stderr.split('\n'));
  });

  it('--help explains every command', async () => {
    const r = await webgpuPrune('--help');
    expect(r.code).toBe(0);
    for (const command of ['train', 'eval', 'info', 'devices', 'prune', 'convert', 'bench']) expect(r.stdout).toContain(command);
    expect((await webgpuPrune('train', '--help')).stdout).toMatch(/--final-sparsity/);
  });
});

describe('train --val and --keep', () => {
  interface TrainJson {
    epochs: { epoch: number; loss: number; validation: { accuracy: number; correct: number; loss: number } | null }[];
    keptEpoch: number;
    test: { correct: number; loss: number };
  }
  const trainJson = async (...args: string[]): Promise<TrainJson> => {
    const outcome = await webgpuPrune('train', '--backend', 'cpu', '--limit', '2600', '--epochs', '3', '--schedule', 'none', '--no-checkpoint', '--json', ...args);
    expect(outcome.stderr).not.toMatch(/\n\s+at /);
    expect(outcome.code).toBe(0);
    return JSON.parse(outcome.stdout) as TrainJson;
  };

  it('holds out the last N samples, scores every epoch on them and keeps the best epoch (the earliest on a tie)', async () => {
    const best = await trainJson('--val', '1000', '--keep', 'best', '--out', 'best.safetensors');
    const last = await trainJson('--val', '1000', '--out', 'last.safetensors');
    const correct = best.epochs.map((e) => e.validation!.correct);
    expect(best.keptEpoch).toBe(correct.indexOf(Math.max(...correct)) + 1);
    expect(last.keptEpoch).toBe(3);
    // The same run either way: the held-out samples are never trained on.
    const figures = (r: TrainJson): unknown => r.epochs.map(({ epoch, loss, validation }) => ({ epoch, loss, validation }));
    expect(figures(last)).toEqual(figures(best));
    for (const e of best.epochs) expect(e.loss > 0 && e.validation!.loss > 0).toBe(true);
    const evaluated = JSON.parse((await webgpuPrune('eval', 'best.safetensors', '--backend', 'cpu', '--json')).stdout) as { correct: number };
    expect(evaluated.correct).toBe(best.test.correct);
  }, 120_000);

  it('refuses --keep best without --val, and a --val that leaves less than a batch, in one line each', async () => {
    expectOneLineError(await webgpuPrune('train', '--keep', 'best'), /^webgpu-prune: --keep best needs --val N/);
    expectOneLineError(await webgpuPrune('train', '--backend', 'cpu', '--limit', '1000', '--val', '900'), /^webgpu-prune: --val 900 leaves less than one batch \(800\) of the 1000 training samples to train on$/);
  });
});
