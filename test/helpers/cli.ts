/** The bundled CLI (dist/cli.js, from scripts/build.mjs) run as a user runs it, in a child process. */
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'vitest';
import type { ParseResult } from '../../src/cli/parse';
import type { Network } from '../../src/model/network';
import type { Recipe } from '../../src/train/recipe';
import { idxClassificationSet } from './fixtures';
import { temporaryFolder } from './temporary-folder';

export interface CliOutcome {
  code: number;
  stdout: string;
  stderr: string;
}

const cli = join(process.cwd(), 'dist', 'cli.js');

/** `webgpu-prune ...args` in the folder `cwd`; a non-zero exit is an outcome, not an error. */
export async function runCli(cwd: string, args: readonly string[]): Promise<CliOutcome> {
  try {
    return { code: 0, ...(await promisify(execFile)(process.execPath, [cli, ...args], { cwd, maxBuffer: 1 << 26 })) };
  } catch (err) {
    const e = err as CliOutcome;
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** A new temporary folder (removed when the test file ends) holding `toy/`: a generated IDX set of 3 classes of 4×5 pixels (600 training, 150 test samples). */
export function toyDataFolder(prefix: string): string {
  const dir = temporaryFolder(prefix);
  mkdirSync(join(dir, 'toy'));
  const train = idxClassificationSet(600, 4, 5, 3, 1);
  const test = idxClassificationSet(150, 4, 5, 3, 2);
  writeFileSync(join(dir, 'toy', 'train-images-idx3-ubyte'), train.images);
  writeFileSync(join(dir, 'toy', 'train-labels-idx1-ubyte'), train.labels);
  writeFileSync(join(dir, 'toy', 't10k-images-idx3-ubyte'), test.images);
  writeFileSync(join(dir, 'toy', 't10k-labels-idx1-ubyte'), test.labels);
  return dir;
}

/** The recipe of a parsed train command. */
export function trainRecipe(result: ParseResult): Recipe {
  if (result.kind !== 'command' || result.command.name !== 'train') throw new Error(`not a train command: ${JSON.stringify(result)}`);
  return result.command.recipe;
}

/**
 * The same `train --json` command on the GPU and on the JS reference, with the networks they
 * saved: the same recipe, train accuracy every epoch and test count, and weights within 1e-4 of
 * each layer's largest (float32 sums in another order).
 */
export function expectGpuTrainsAsReference(onGpu: CliOutcome, onCpu: CliOutcome, gpuNet: Network, reference: Network): void {
  expect(onGpu.code, onGpu.stderr).toBe(0);
  expect(onCpu.code, onCpu.stderr).toBe(0);
  const [g, c] = [JSON.parse(onGpu.stdout), JSON.parse(onCpu.stdout)];
  expect(g.backend).toBe('gpu');
  expect(g.recipe).toEqual(c.recipe);
  expect(g.epochs.map((e: { trainAccuracy: number }) => e.trainAccuracy)).toEqual(c.epochs.map((e: { trainAccuracy: number }) => e.trainAccuracy));
  expect(g.test.correct).toBe(c.test.correct);
  expect(gpuNet.sizes).toEqual(reference.sizes);
  reference.weights.forEach((ref, l) => {
    const scale = ref.reduce((m, w) => Math.max(m, Math.abs(w)), 0);
    const worst = ref.reduce((m, w, k) => Math.max(m, Math.abs(w - gpuNet.weights[l]![k]!)), 0);
    expect(worst / scale, `layer ${l}`).toBeLessThan(1e-4);
  });
}
