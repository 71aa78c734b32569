/** The page's side of the worker protocol: typed calls that resolve with the worker's reply, and its events. */
import type { FromWorker, Method, WorkerApi, WorkerEvent } from './protocol';

export class WorkerClient {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private readonly listeners = new Set<(event: WorkerEvent) => void>();

  constructor(private readonly worker: Worker) {
    worker.onmessage = (message: MessageEvent<FromWorker>) => {
      const data = message.data;
      if (data.type === 'event') {
        for (const listener of this.listeners) listener(data.event);
        return;
      }
      const waiting = this.pending.get(data.id);
      this.pending.delete(data.id);
      if (data.ok) waiting?.resolve(data.result);
      else waiting?.reject(new Error(data.error));
    };
    worker.onerror = (event) => {
      const error = new Error(`the worker failed: ${event.message || 'it could not start'}`);
      for (const waiting of this.pending.values()) waiting.reject(error);
      this.pending.clear();
    };
  }

  call<M extends Method>(method: M, args: WorkerApi[M]['args'], transfer: Transferable[] = []): Promise<WorkerApi[M]['result']> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.worker.postMessage({ id, method, args }, transfer);
    });
  }

  onEvent(listener: (event: WorkerEvent) => void): void {
    this.listeners.add(listener);
  }
}
