/**
 * SIGINT and SIGTERM in the CLI. By default either signal removes the temporary files of writes
 * in flight and ends the process at once (exit 130 or 143, as a shell reports a signal). A command
 * with a safe stopping point (training, between batches) defers them: the first signal then only
 * asks it to stop, and it ends with `Interrupted`; a second signal ends the process at once.
 */
import { removePendingTempFiles } from '../node/files';

type StopSignal = 'SIGINT' | 'SIGTERM';

const EXIT_CODES: Record<StopSignal, number> = { SIGINT: 130, SIGTERM: 143 };

/** A command stopped on request: its message is the one line the user reads. */
export class Interrupted extends Error {
  override name = 'Interrupted';

  constructor(
    message: string,
    readonly signal: StopSignal,
  ) {
    super(message);
  }

  get exitCode(): number {
    return EXIT_CODES[this.signal];
  }
}

export interface DeferredInterrupts {
  /** The signal received since `defer()`, or null. */
  readonly requested: StopSignal | null;
  /** Back to ending at once. */
  release(): void;
}

let deferred: { requested: StopSignal | null } | null = null;

function exitNow(signal: StopSignal): never {
  removePendingTempFiles();
  process.exit(EXIT_CODES[signal]);
}

/** Installs the handlers; call once, at start-up. */
export function handleInterrupts(): void {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (!deferred || deferred.requested) exitNow(signal);
      deferred.requested = signal;
    });
  }
}

/** Until `release()`, the first SIGINT/SIGTERM is only recorded for the caller to act on. */
export function deferInterrupts(): DeferredInterrupts {
  const state = { requested: null as StopSignal | null };
  deferred = state;
  return {
    get requested() {
      return state.requested;
    },
    release() {
      if (deferred === state) deferred = null;
    },
  };
}
