/**
 * `webgpu-prune web`: serves the built browser app (`npm run build:web` → dist/web) on
 * 127.0.0.1. Loopback only, twice over: the socket listens on 127.0.0.1, and a request whose
 * `Host` header is not a loopback name is refused, so that a web page elsewhere cannot point a
 * name of its own at 127.0.0.1 (DNS rebinding) and read what this server serves. WebGPU needs a
 * secure context, which `http://127.0.0.1` and `http://localhost` are.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { dirname, extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UserError } from '../../util/errors';
import type { CommandIo } from '../io';
import type { WebCommand } from '../parse';

export const WEB_HOST = '127.0.0.1';

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.wasm': 'application/wasm',
  // The MNIST files stay compressed on the wire and are inflated by the page (DecompressionStream):
  // no Content-Encoding, or the browser would inflate them first.
  '.gz': 'application/gzip',
};

/**
 * Whether a `Host` header names this machine's loopback: `localhost` or a name under it,
 * 127.0.0.0/8, or `[::1]`, with or without a port. Anything else (a DNS name, another address,
 * no header) is refused.
 */
export function isLoopbackHost(host: string | undefined): boolean {
  if (!host) return false;
  const name = host.toLowerCase().replace(/:\d+$/, '');
  if (name === '[::1]') return true;
  if (name === 'localhost' || name.endsWith('.localhost')) return true;
  const octets = name.split('.');
  return octets.length === 4 && octets[0] === '127' && octets.every((o) => /^\d{1,3}$/.test(o) && Number(o) <= 255);
}

export interface StaticServer {
  /** `http://127.0.0.1:PORT/`. */
  url: string;
  port: number;
  close(): Promise<void>;
}

/** The file under `root` that `urlPath` names (a folder means its index.html), or null when it leaves `root`. */
function fileFor(root: string, urlPath: string): string | null {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  if (decoded.includes('\0')) return null;
  const file = resolve(root, `.${decoded.endsWith('/') ? `${decoded}index.html` : decoded}`);
  return file === root || file.startsWith(root + sep) ? file : null;
}

function refuse(response: ServerResponse, status: number, message: string): void {
  response.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff' }).end(`${message}\n`);
}

/** Serves the files under `root` on 127.0.0.1 (`port` 0 picks a free one). */
export async function startStaticServer(root: string, port: number): Promise<StaticServer> {
  const base = resolve(root);
  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    if (!isLoopbackHost(request.headers.host)) {
      refuse(response, 403, `refused: Host "${request.headers.host ?? ''}" is not this machine's loopback (open http://${WEB_HOST}:${actualPort}/)`);
      return;
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.setHeader('allow', 'GET, HEAD');
      refuse(response, 405, `${request.method} is not served here`);
      return;
    }
    const path = new URL(request.url ?? '/', 'http://localhost').pathname;
    const file = fileFor(base, path);
    const info = file ? await stat(file).catch(() => null) : null;
    if (!file || !info?.isFile()) {
      refuse(response, 404, `not found: ${path}`);
      return;
    }
    response.writeHead(200, {
      'content-type': CONTENT_TYPES[extname(file)] ?? 'application/octet-stream',
      'content-length': info.size,
      'cache-control': 'no-cache',
      'x-content-type-options': 'nosniff',
    });
    if (request.method === 'HEAD') response.end();
    else createReadStream(file).pipe(response);
  };
  const server = createServer((request, response) => {
    handle(request, response).catch((err: Error) => {
      if (!response.headersSent) refuse(response, 500, err.message);
      else response.destroy();
    });
  });
  await new Promise<void>((done, fail) => {
    server.once('error', fail);
    server.listen(port, WEB_HOST, () => done());
  });
  const address = server.address();
  const actualPort = typeof address === 'object' && address ? address.port : port;
  return {
    url: `http://${WEB_HOST}:${actualPort}/`,
    port: actualPort,
    close: async () => {
      server.closeAllConnections();
      await new Promise((done) => server.close(done));
    },
  };
}

/** dist/web beside the bundled CLI (dist/cli.js). */
function builtAppDir(): string {
  return join(dirname(fileURLToPath(import.meta.url)), 'web');
}

export async function runWeb(cmd: WebCommand, io: CommandIo): Promise<void> {
  const root = cmd.dir ?? builtAppDir();
  const index = await stat(join(root, 'index.html')).catch(() => null);
  if (!index?.isFile()) {
    throw new UserError(cmd.dir ? `${cmd.dir} has no index.html: give the folder \`npm run build:web\` writes (dist/web)` : `the browser app is not built (${root} has no index.html): run \`npm run build:web\``);
  }
  let server: StaticServer;
  try {
    server = await startStaticServer(root, cmd.port);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new UserError(`port ${cmd.port} on ${WEB_HOST} is in use: pick another with --port (0 picks a free one)`);
    throw err;
  }
  io.out(`Serving the browser app at ${server.url} (Ctrl+C stops)`);
  // Runs until the process is interrupted.
  await new Promise<never>(() => {});
}
