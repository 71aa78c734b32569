/** Hostile inputs at the command line's edge: flags and files that must fail with one line, text that must not reach the terminal raw. */
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { runInfo } from '../../src/cli/commands/info';
import { parseArgs } from '../../src/cli/parse';
import { encodeSafetensors } from '../../src/format/safetensors';
import { initNetwork } from '../../src/model/network';
import { temporaryFolder } from '../helpers/temporary-folder';

const run = promisify(execFile);
const cli = join(process.cwd(), 'dist', 'cli.js');
let dir = '';

/** Control characters a terminal acts on; a tab is harmless, everything else must arrive escaped. */
const RAW_CONTROL = /[\x00-\x08\x0a-\x1f\x7f-\x9f]/;

async function webgpuPrune(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    return { code: 0, ...(await run(process.execPath, [cli, ...args], { cwd: dir })) };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

beforeAll(async () => {
  await run(process.execPath, ['scripts/build.mjs']);
  dir = temporaryFolder('cli-inputs-test-');
});

describe('--sizes', () => {
  it('refuses a network over the weight limit before anything is allocated', () => {
    const result = parseArgs(['train', '--sizes', '784,100000000,10']);
    expect(result).toMatchObject({ kind: 'exit' });
    if (result.kind !== 'exit') return;
    expect(result.code).not.toBe(0);
    expect(result.output).toContain(
      '--sizes: layer sizes 784-100000000-10 make 79,400,000,000 weights, more than the limit of 100,000,000',
    );
  });

  it('accepts a large network under the limit', () => {
    expect(parseArgs(['train', '--sizes', '784,4096,4096,10'])).toMatchObject({ kind: 'command' });
  });
});

describe('files that are not regular files', () => {
  it('info /dev/zero fails at once with one line', async () => {
    if (process.platform === 'win32') return;
    const r = await webgpuPrune('info', '/dev/zero');
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('webgpu-prune: cannot read /dev/zero: it is a device, not a regular file\n');
  });
});

describe('text from files reaches the terminal escaped', () => {
  it('info escapes metadata keys and values', async () => {
    const path = join(dir, 'notes.safetensors');
    const metadata = { 'note\x1b[2J': 'line one\nline two\x1b]0;title\x07', plain: 'tab\tand \u202eright-to-left' };
    writeFileSync(path, encodeSafetensors(initNetwork([2, 2], 1), { metadata }));
    const lines: string[] = [];
    await runInfo({ name: 'info', model: path, json: false }, { out: (text) => lines.push(text), err: () => {}, interactive: false });
    expect(lines).toContain('note\\x1b[2J: line one\\nline two\\x1b]0;title\\x07');
    expect(lines).toContain('plain: tab\\tand \\u202eright-to-left');
    expect(lines.join('')).not.toMatch(RAW_CONTROL);
  });

  it('the final error line is escaped whatever the message', async () => {
    // A file name is the user's own text, but it reaches the terminal through the final error line.
    const r = await webgpuPrune('info', 'missing\x1b[2J.safetensors');
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('webgpu-prune: cannot read missing\\x1b[2J.safetensors: no such file\n');
  });
});
