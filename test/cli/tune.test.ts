/**
 * `tune` on the command line: its options, and the cache as the other commands see it (the
 * bundled CLI in a child process, with XDG_CACHE_HOME in a temporary folder): `devices` shows
 * what is tuned, `eval` says which kernel choices it runs, and a broken cache costs one warning
 * line and nothing else.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseArgs } from '../../src/cli/parse';
import { formatSeedText } from '../../src/format/seed-text';
import type { AdapterDescription } from '../../src/gpu/device';
import { tuningKey } from '../../src/gpu/tuning-cache';
import { DEFAULT_TUNING } from '../../src/gpu/tuning';
import { initNetwork } from '../../src/model/network';
import { PACKAGE_VERSION } from '../../src/node/tuning-store';
import { testGpu } from '../helpers/gpu';
import { temporaryFolder } from '../helpers/temporary-folder';

const gpu = await testGpu();

describe('parseArgs tune', () => {
  it('measures the default adapter, printing a table', () => {
    expect(parseArgs(['tune'])).toMatchObject({ kind: 'command', command: { name: 'tune', quick: false, json: false } });
  });

  it('takes --quick, --json and the adapter selection', () => {
    const parsed = parseArgs(['tune', '--quick', '--json', '--adapter', 'llvmpipe', '--dawn-backend', 'vulkan']);
    expect(parsed).toMatchObject({ kind: 'command', command: { name: 'tune', quick: true, json: true, adapter: 'llvmpipe', dawnBackend: 'vulkan' } });
  });

  it('refuses an unknown option in one line', () => {
    const parsed = parseArgs(['tune', '--repeats', '3']);
    expect(parsed).toMatchObject({ kind: 'exit', code: 2 });
    if (parsed.kind === 'exit') expect(parsed.output).toMatch(/^webgpu-prune: Unknown arguments?: repeats\nRun 'webgpu-prune tune --help' for usage\.$/);
  });

  it('--help says the other commands use the cache and that nothing is tuned implicitly', () => {
    const help = parseArgs(['--help']);
    expect(help.kind === 'exit' && help.output).toMatch(/tune +Measure the kernel variants[^]*nothing is tuned implicitly/);
    const tuneHelp = parseArgs(['tune', '--help']);
    expect(tuneHelp.kind === 'exit' && tuneHelp.output).toMatch(/--quick/);
  });
});

const run = promisify(execFile);
const cli = join(process.cwd(), 'dist', 'cli.js');

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

async function webgpuPrune(cacheHome: string, ...args: string[]): Promise<Outcome> {
  try {
    const { stdout, stderr } = await run(process.execPath, [cli, ...args], { cwd: cacheHome, maxBuffer: 1 << 26, env: { ...process.env, XDG_CACHE_HOME: cacheHome } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe.skipIf(!gpu.context)(`the tuning cache from the CLI ${gpu.label}`, () => {
  beforeAll(async () => {
    await run(process.execPath, ['scripts/build.mjs']);
  }, 120_000);

  function cacheHome(): string {
    const dir = temporaryFolder('webgpu-prune-cache-');
    writeFileSync(join(dir, 'seed.txt'), formatSeedText(initNetwork([784, 100, 100, 10], 1337)));
    return dir;
  }

  function writeCache(dir: string, text: string): void {
    mkdirSync(join(dir, 'webgpu-prune'), { recursive: true });
    writeFileSync(join(dir, 'webgpu-prune', 'tuning.json'), text);
  }

  it('devices and eval: not tuned, then tuned from the cache, with the same accuracy', async () => {
    const dir = cacheHome();
    const before = await webgpuPrune(dir, 'devices', '--json');
    expect(before.code).toBe(0);
    const { adapters, tuningCache } = JSON.parse(before.stdout) as { adapters: (AdapterDescription & { tuning: unknown })[]; tuningCache: string };
    expect(tuningCache).toBe(join(dir, 'webgpu-prune', 'tuning.json'));
    expect(adapters.every((a) => a.tuning === 'not tuned')).toBe(true);
    const untuned = await webgpuPrune(dir, 'eval', 'seed.txt', '--backend', 'gpu', '--json');
    expect(untuned.stderr).toMatch(/^GPU: .*; default kernel choices \(not tuned/m);

    const tuning = { ...DEFAULT_TUNING, fewRowsMaxM: { 2: 32, 3: 16 }, sparseV1Below: 16, geometry: { matmul_v4: { V4_WG: 32, V4_ROWS: 1 } } };
    const entry = { key: tuningKey(adapters[0]!, PACKAGE_VERSION), tunedAt: '2026-11-30T02:00:00.000Z', tuning, decisions: [] };
    writeCache(dir, JSON.stringify({ format: 'webgpu-prune tuning', entries: [entry] }));
    const after = JSON.parse((await webgpuPrune(dir, 'devices', '--json')).stdout) as { adapters: { tuning: { tunedAt: string; summary: string } }[] };
    expect(after.adapters[0]!.tuning.tunedAt).toBe(entry.tunedAt);
    expect(after.adapters[0]!.tuning.summary).toMatch(/v4 up to 16 rows\); sparse v1 below batch 16, .*geometry matmul_v4 V4_WG 32 V4_ROWS 1/);
    const text = await webgpuPrune(dir, 'devices');
    expect(text.stdout).toMatch(/^ {4}tuned 2026-11-30: matmul v3/m);
    const tuned = await webgpuPrune(dir, 'eval', 'seed.txt', '--backend', 'gpu', '--json');
    expect(tuned.stderr).toMatch(/^GPU: .*; kernel choices tuned 2026-11-30$/m);
    expect(JSON.parse(tuned.stdout).correct).toBe(JSON.parse(untuned.stdout).correct);
  }, 120_000);

  it('a corrupt cache: one warning line, the defaults, and the command still succeeds', async () => {
    const dir = cacheHome();
    writeCache(dir, '{"format": "webgpu-prune tun');
    const outcome = await webgpuPrune(dir, 'eval', 'seed.txt', '--backend', 'gpu', '--json');
    expect(outcome.code).toBe(0);
    const warnings = outcome.stderr.split('\n').filter((line) => line.startsWith('webgpu-prune: '));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^webgpu-prune: ignoring the tuning cache .*tuning\.json: it is not valid JSON; running the default kernel choices/);
    expect(outcome.stderr).toMatch(/^GPU: .*; default kernel choices/m);
    expect(JSON.parse(outcome.stdout).total).toBe(10000);
  }, 120_000);
});
