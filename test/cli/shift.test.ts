/**
 * `--shift N` as train parses it (flag, recipe-file key, help, refusals), then `train --shift 1`
 * through the bundled CLI on a generated IDX set (3 classes of 4×5 pixels) on the JS reference:
 * the recipe and the saved file record the shift, and `--recipe MODEL` reruns it bit for bit.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseArgs } from '../../src/cli/parse';
import { SEED_RECIPE } from '../../src/train/recipe';
import { runCli, toyDataFolder, trainRecipe, type CliOutcome } from '../helpers/cli';

let dir = '';

const webgpuPrune = (...args: string[]): Promise<CliOutcome> => runCli(dir, args);

const RUN = ['train', '--data', 'toy', '--backend', 'cpu', '--sizes', '20,7,3', '--epochs', '4', '--batch-size', '30', '--lr', '0.002', '--schedule', 'none'];

beforeAll(async () => {
  await promisify(execFile)(process.execPath, ['scripts/build.mjs']);
  dir = toyDataFolder('webgpu-prune-shift-');
}, 120_000);

describe('the --shift option', () => {
  it('is absent from the seed recipe, set by the flag or a recipe file, and 0 leaves it out', () => {
    expect(trainRecipe(parseArgs(['train']))).toEqual(SEED_RECIPE);
    expect(trainRecipe(parseArgs(['train', '--shift', '2'])).shift).toBe(2);
    expect(trainRecipe(parseArgs(['train'], { file: 'r.json', options: { shift: 1 } })).shift).toBe(1);
    expect('shift' in trainRecipe(parseArgs(['train', '--shift', '0'], { file: 'r.json', options: { shift: 1 } }))).toBe(false);
  });

  it('is refused in one line when it is not a whole number of pixels up to 8, and has its help text', () => {
    for (const bad of ['9', '1.5', '-1']) {
      expect(parseArgs(['train', '--shift', bad])).toMatchObject({ kind: 'exit', code: 2, output: expect.stringContaining(`--shift must be a whole number of pixels from 0 to 8, got ${bad}`) });
    }
    const help = parseArgs(['train', '--help']);
    const text = help.kind === 'exit' ? help.output.replace(/\s+/g, ' ') : '';
    expect(text).toContain('--shift Augmentation: every epoch each training image moves by up to this many pixels in x and y');
  });
});

describe('train --shift on the JS reference (3 classes of 4×5 pixels)', () => {
  it('trains on shifted images, records the shift, and --recipe MODEL reruns it bit for bit', async () => {
    const shifted = await webgpuPrune(...RUN, '--shift', '1', '--json', '--out', 'shifted.safetensors');
    expect(shifted.code, shifted.stderr).toBe(0);
    const plain = await webgpuPrune(...RUN, '--json', '--out', 'plain.safetensors');
    const [s, p] = [JSON.parse(shifted.stdout), JSON.parse(plain.stdout)];
    expect(s.recipe.shift).toBe(1);
    expect('shift' in p.recipe).toBe(false);
    expect(readFileSync(join(dir, 'shifted.safetensors')).equals(readFileSync(join(dir, 'plain.safetensors')))).toBe(false);

    const rerun = await webgpuPrune('train', '--data', 'toy', '--backend', 'cpu', '--recipe', 'shifted.safetensors', '--out', 'rerun.safetensors');
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(rerun.stdout).toContain('images shifted by up to 1 px');
    expect(readFileSync(join(dir, 'rerun.safetensors')).equals(readFileSync(join(dir, 'shifted.safetensors')))).toBe(true);
  });
});
