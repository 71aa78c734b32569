/**
 * writeFileAtomic's temporary file: created exclusively under a name no one can guess (so a
 * symlink planted beside the output is never followed), and removed when the process exits in
 * the middle of a write.
 */
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { beforeEach, describe, expect, it } from 'vitest';
import { writeFileAtomic } from '../../src/node/files';
import { temporaryFolder } from '../helpers/temporary-folder';

let dir = '';

beforeEach(() => {
  dir = temporaryFolder('webgpu-prune-write-');
});

describe('writeFileAtomic', () => {
  it('follows no symlink planted where a temporary file might go', async () => {
    const outside = join(temporaryFolder('webgpu-prune-outside-'), 'precious');
    writeFileSync(outside, 'precious');
    const out = join(dir, 'model.safetensors');
    // Names anyone could guess: `OUT.tmp-PID` (what a pid-based scheme would pick) and the like.
    const planted = [`${out}.tmp-${process.pid}`, `${out}.tmp`, `${out}.tmp-0`, join(dir, '.model.safetensors.tmp')];
    for (const link of planted) symlinkSync(outside, link);
    await writeFileAtomic(out, 'new content');
    await writeFileAtomic(out, 'newer content');
    expect(readFileSync(outside, 'utf8')).toBe('precious');
    expect(readFileSync(out, 'utf8')).toBe('newer content');
    expect(readdirSync(dir).sort()).toEqual(['model.safetensors', ...planted.map((p) => p.slice(dir.length + 1))].sort());
  });

  it('leaves no temporary file when the process exits in the middle of a write', async () => {
    const out = join(dir, 'big.bin');
    writeFileSync(out, 'old');
    // A process that exits once the write has started (its temporary file has bytes in it) and
    // long before 64 MiB are written: exit code 3. Code 4 would mean the write finished first.
    const script = join(dir, 'write.mjs');
    await build({
      stdin: {
        contents: `
          import { readdirSync, statSync } from 'node:fs';
          import { join } from 'node:path';
          import { writeFileAtomic } from './src/node/files';
          const [dir, out] = process.argv.slice(2);
          void writeFileAtomic(out, new Uint8Array(64 << 20)).then(() => process.exit(4));
          const poll = () => {
            const temporary = readdirSync(dir).find((name) => name.startsWith('big.bin.'));
            if (temporary && statSync(join(dir, temporary)).size > 0) process.exit(3);
            setImmediate(poll);
          };
          poll();
        `,
        resolveDir: process.cwd(),
        loader: 'ts',
      },
      bundle: true,
      platform: 'node',
      format: 'esm',
      outfile: script,
      logLevel: 'warning',
    });
    const exit = await promisify(execFile)(process.execPath, [script, dir, out]).then(
      () => 0,
      (error: { code: number }) => error.code,
    );
    expect(exit).toBe(3);
    expect(readdirSync(dir).sort()).toEqual(['big.bin', 'write.mjs']);
    expect(readFileSync(out, 'utf8')).toBe('old');
  });
});
