/**
 * The `webgpu-prune` executable. A command that may open the GPU runs in a child process whose
 * stderr is cleared of the driver's own messages (driver-log.ts), unless --verbose asks for them.
 * Not on Windows, where a detached child would get a console window of its own.
 */
import { isFilteredChild, runFiltered, stopWithParent } from './driver-log';
import { mayOpenGpu } from './gpu';
import { parseCommandLine } from './recipe-file';

// A reader that stops early (`webgpu-prune … | head`) closes stdout: what follows is not shown,
// but the command goes on to its end (a training run still saves its network). Node reports
// the closed pipe as an error event on stdout, which would otherwise end the process with a stack trace.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code !== 'EPIPE' && err.code !== 'ERR_STREAM_DESTROYED') throw err;
});

const parsed = isFilteredChild() ? null : await parseCommandLine(process.argv.slice(2));
if (process.platform !== 'win32' && parsed?.kind === 'command' && !parsed.verbose && mayOpenGpu(parsed.command)) {
  process.exitCode = await runFiltered();
} else {
  if (isFilteredChild()) stopWithParent();
  await import('./main');
}
