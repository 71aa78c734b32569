/**
 * Where a command writes. Results go to stdout (one JSON object with --json); progress and
 * notices go to stderr, as a redrawn bar on a terminal and as plain lines otherwise.
 */
import { stderrIsTerminal } from './driver-log';

export interface CommandIo {
  out(text: string): void;
  err(text: string): void;
  /** stderr is a terminal: progress may redraw one line. */
  interactive: boolean;
}

export const processIo: CommandIo = {
  out: (text) => process.stdout.write(text + '\n'),
  err: (text) => process.stderr.write(text + '\n'),
  interactive: stderrIsTerminal(),
};

export class Progress {
  private lastLength = 0;

  constructor(
    private readonly io: CommandIo,
    private readonly label: string,
    private readonly total: number,
  ) {}

  update(done: number, detail: string): void {
    if (!this.io.interactive) {
      this.io.err(`${this.label} ${done}/${this.total}: ${detail}`);
      return;
    }
    const width = 24;
    const filled = Math.round((width * done) / this.total);
    const line = `${this.label} ${String(done).padStart(String(this.total).length)}/${this.total} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${detail}`;
    process.stderr.write('\r' + line.padEnd(this.lastLength));
    this.lastLength = line.length;
  }

  finish(): void {
    if (this.io.interactive && this.lastLength > 0) process.stderr.write('\r' + ' '.repeat(this.lastLength) + '\r');
    this.lastLength = 0;
  }
}
