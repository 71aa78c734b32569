/**
 * The app's Web Worker: it owns the GPU device, the data and the training, so the page never
 * waits on them. Requests arrive as messages (src/web/protocol.ts) and run one after another,
 * except pause, resume and stop, which act at once on the run in progress (training, or a race).
 */
import type { FromWorker, Request, WorkerEvent } from './protocol';
import { WebSession } from './session';
import { IndexedDbTuningStore } from './tuning-store';

/** What this file uses of the worker's global scope (the project's types are the page's, DOM). */
const scope = self as unknown as {
  postMessage(message: FromWorker, transfer: Transferable[]): void;
  onmessage: ((message: MessageEvent<Request>) => void) | null;
};

const post = (message: FromWorker, transfer: Transferable[] = []): void => scope.postMessage(message, transfer);

const emit = (event: WorkerEvent): void => post({ type: 'event', event });
const session = new WebSession(
  {
    gpu: 'gpu' in navigator ? navigator.gpu : undefined,
    fetch: (input, init) => fetch(input, init),
    caches: 'caches' in globalThis ? caches : undefined,
    tuningStore: 'indexedDB' in globalThis ? new IndexedDbTuningStore(indexedDB, (line) => emit({ kind: 'tune-log', line })) : undefined,
  },
  emit,
);

/** Typed arrays in a result travel without a copy. */
function buffersOf(value: unknown, found: Set<ArrayBuffer> = new Set()): Set<ArrayBuffer> {
  if (ArrayBuffer.isView(value) && value.buffer instanceof ArrayBuffer) found.add(value.buffer);
  else if (value && typeof value === 'object') for (const v of Object.values(value)) buffersOf(v, found);
  return found;
}

const IMMEDIATE = new Set<Request['method']>(['pause', 'resume', 'stop']);
let queue: Promise<void> = Promise.resolve();

async function answer(request: Request): Promise<void> {
  try {
    const result = await session.handle(request);
    post({ type: 'reply', id: request.id, ok: true, result }, [...buffersOf(result)]);
  } catch (err) {
    post({ type: 'reply', id: request.id, ok: false, error: err instanceof Error ? err.message : String(err) });
  }
}

scope.onmessage = (message: MessageEvent<Request>) => {
  const request = message.data;
  if (IMMEDIATE.has(request.method)) void answer(request);
  else queue = queue.then(() => answer(request));
};
