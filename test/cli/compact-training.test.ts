/**
 * `train` goes on with the smaller network after the pruning pass by default; on the JS
 * reference that is a pure speed change: the saved file is byte for byte the one
 * `--no-compact-training` saves, and the epoch table is the same (the seed's recipe on a subset,
 * and Adam shuffled). Through the bundled CLI in a child process, as a user runs it.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { temporaryFolder } from '../helpers/temporary-folder';

const cli = join(process.cwd(), 'dist', 'cli.js');

async function trainJson(dir: string, args: string[]): Promise<{ trainedSizes: number[] | null; epochs: Record<string, unknown>[] }> {
  const { stdout } = await promisify(execFile)(process.execPath, [cli, 'train', '--backend', 'cpu', '--no-checkpoint', '--json', ...args], { cwd: dir, maxBuffer: 1 << 26 });
  return JSON.parse(stdout) as { trainedSizes: number[] | null; epochs: Record<string, unknown>[] };
}

const withoutTimes = (epochs: Record<string, unknown>[]) => epochs.map(({ seconds: _seconds, ...rest }) => rest);

describe('train: the pruned network trained as the smaller one (JS reference)', () => {
  for (const { label, args, out } of [
    { label: "the seed's recipe on 4 000 samples, saved in the seed's text format", args: ['--limit', '4000', '--epochs', '6', '--prune-epoch', '3'], out: 'net.txt' },
    {
      label: 'adam, shuffled, pruned to 90% sparsity',
      args: ['--limit', '2000', '--batch-size', '100', '--sizes', '784,32,24,10', '--epochs', '4', '--optimizer', 'adam', '--shuffle', '--sparsity', '0.9', '--prune-epoch', '2'],
      out: 'net.safetensors',
    },
  ]) {
    it(`${label}: the same file and table as --no-compact-training`, async () => {
      const dir = temporaryFolder('webgpu-prune-compact-');
      const [compact, full] = await Promise.all([
        trainJson(dir, [...args, '--out', `compact-${out}`]),
        trainJson(dir, [...args, '--out', `full-${out}`, '--no-compact-training']),
      ]);
      expect(full.trainedSizes).toBeNull();
      expect(compact.trainedSizes).not.toBeNull();
      const [inputs, ...rest] = compact.trainedSizes!;
      expect(inputs).toBeLessThan(784);
      expect(rest.at(-1)).toBe(10);
      expect(withoutTimes(compact.epochs)).toEqual(withoutTimes(full.epochs));
      expect(readFileSync(join(dir, `compact-${out}`)).equals(readFileSync(join(dir, `full-${out}`)))).toBe(true);
    });
  }
});
