/**
 * The GPU driver's own messages, kept off the user's terminal. Dawn writes its log from native
 * code straight to the process's stderr (`Warning: maxDynamicUniformBuffersPerPipelineLayout
 * artificially reduced ...` on every run on lavapipe; `Warning: vkCreateInstance: Found no
 * drivers!` and a C++ source location on a machine without Vulkan), and Node cannot redirect a
 * native write to file descriptor 2. So a command that may open the GPU runs in a child process
 * whose stderr passes through `DriverLogFilter`; with --verbose it runs directly, messages and all.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { constants } from 'node:os';
import type { Readable } from 'node:stream';

/** Dawn's log lines are `<Severity>: <message>`; only warnings are dropped (Node's crashes print `Error: `). */
const MESSAGE_START = 'Warning: ';
/** A C++ source location that follows a message, e.g. `    at CheckVkSuccessImpl (…/VulkanError.cpp:106)`. */
const LOCATION_LINE = /^ +at .*:\d+\)$/;

/** Removes the driver's messages from a stream of text that arrives in arbitrary chunks. */
export class DriverLogFilter {
  /** The start of a line that may turn out to be the driver's, held until the line ends. */
  private held = '';
  /** Inside a line that is passed through (it was forwarded before its end arrived). */
  private passingLine = false;
  /** The last line dropped: a message, or a location (after which one blank line ends the message). */
  private dropped: 'message' | 'location' | null = null;

  /** The part of `chunk` to show. */
  push(chunk: string): string {
    let text = this.held + chunk;
    this.held = '';
    let shown = '';
    while (text.length > 0) {
      const newline = text.indexOf('\n');
      const end = newline < 0 ? text.length : newline + 1;
      if (this.passingLine) {
        shown += text.slice(0, end);
        this.passingLine = newline < 0;
      } else if (newline < 0) {
        if (this.mayBeDropped(text)) {
          this.held = text;
        } else {
          shown += text;
          this.passingLine = true;
          this.dropped = null;
        }
      } else if (!this.drops(text.slice(0, newline))) {
        shown += text.slice(0, end);
      }
      text = text.slice(end);
    }
    return shown;
  }

  /** What is left to show when the stream ends. */
  end(): string {
    const rest = this.held;
    this.held = '';
    return rest === '' || this.drops(rest) ? '' : rest;
  }

  private drops(line: string): boolean {
    if (line.startsWith(MESSAGE_START)) {
      this.dropped = 'message';
    } else if (this.dropped !== null && LOCATION_LINE.test(line)) {
      this.dropped = 'location';
    } else if (this.dropped === 'location' && line === '') {
      this.dropped = null;
    } else {
      this.dropped = null;
      return false;
    }
    return true;
  }

  /** Whether an unfinished line could still become one that `drops`. */
  private mayBeDropped(start: string): boolean {
    return MESSAGE_START.startsWith(start) || start.startsWith(MESSAGE_START) || (this.dropped !== null && start.startsWith(' '));
  }
}

/** Set in the child's environment: `tty` when the user's stderr is a terminal, else `pipe`. */
const FILTERED_STDERR = 'WEBGPU_PRUNE_FILTERED_STDERR';

/** Signals a user sends to the CLI, passed on to the child (which has its own session, so that a Ctrl-C reaches it once). */
const FORWARDED_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/** This process is the child of `runFiltered`. */
export function isFilteredChild(): boolean {
  return process.env[FILTERED_STDERR] !== undefined;
}

/** Whether stderr ends on a terminal, here or behind the filter (progress then redraws one line). */
export function stderrIsTerminal(): boolean {
  return Boolean(process.stderr.isTTY) || process.env[FILTERED_STDERR] === 'tty';
}

/**
 * Runs this command line again in a child process, shows its stdout as it is and its stderr
 * without the driver's messages, and passes on the signals the user sends. Resolves to the exit
 * code to end with (128 + the signal's number if the child was killed).
 */
export function runFiltered(): Promise<number> {
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    // stdout goes through here too, so that it stays in order with stderr on a shared terminal.
    stdio: ['inherit', 'pipe', 'pipe', 'ipc'],
    detached: true,
    env: { ...process.env, [FILTERED_STDERR]: process.stderr.isTTY ? 'tty' : 'pipe' },
  }) as ChildProcessByStdio<null, Readable, Readable>;
  const forward = (signal: NodeJS.Signals): void => {
    child.kill(signal);
  };
  for (const signal of FORWARDED_SIGNALS) process.on(signal, forward);
  child.stdout.on('data', (chunk: Buffer) => process.stdout.write(chunk));
  const filter = new DriverLogFilter();
  const show = (text: string): void => {
    if (text) process.stderr.write(text);
  };
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => show(filter.push(chunk)));
  child.stderr.on('end', () => show(filter.end()));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      for (const s of FORWARDED_SIGNALS) process.off(s, forward);
      resolve(code ?? 128 + (signal ? constants.signals[signal] : 0));
    });
  });
}

/** In the child: if the CLI process in front of it dies (its IPC channel closes), stop as on SIGTERM. */
export function stopWithParent(): void {
  process.channel?.unref();
  process.once('disconnect', () => process.kill(process.pid, 'SIGTERM'));
}
