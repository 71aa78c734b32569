import { GpuUnavailableError } from '../gpu/device';
import { KernelError } from '../gpu/program';
import { UserError } from '../util/errors';
import { printable } from '../util/format';
import { runCommand } from './commands';
import { handleInterrupts, Interrupted } from './interrupt';
import { processIo } from './io';
import { parseCommandLine } from './recipe-file';

async function main(): Promise<number> {
  const parsed = await parseCommandLine(process.argv.slice(2));
  if (parsed.kind === 'exit') {
    (parsed.code === 0 ? processIo.out : processIo.err)(parsed.output);
    return parsed.code;
  }
  handleInterrupts();
  try {
    await runCommand(parsed.command, processIo);
    return 0;
  } catch (err) {
    if (err instanceof Interrupted) {
      processIo.err(`webgpu-prune: ${err.message}`);
      return err.exitCode;
    }
    if (err instanceof UserError || err instanceof GpuUnavailableError || err instanceof KernelError) {
      processIo.err(`webgpu-prune: ${printable(err.message)}`);
      return 1;
    }
    throw err;
  }
}

// Dawn keeps the event loop alive while its instance exists, so the process exits explicitly.
main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
