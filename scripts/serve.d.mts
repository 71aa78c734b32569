/** Types of scripts/serve.mjs for the TypeScript tests. */
export interface RunningServer {
  /** `http://127.0.0.1:PORT/`, the page. */
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Starts the dev server on 127.0.0.1 (`port` 0 picks a free one; default 8080). */
export function startServer(options?: { port?: number }): Promise<RunningServer>;
