/** The bundled CLI (dist/cli.js, from scripts/build.mjs) run as a user runs it, in a child process. */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

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
