/**
 * The servers of the browser app answer loopback host names only, so a page whose own host name
 * resolves to 127.0.0.1 (DNS rebinding) cannot read them as same-origin: the Vite dev server
 * (`npm run serve`) and `webgpu-prune web`'s static server. The static server also keeps to its
 * folder and sends the MNIST files compressed, as the page inflates them itself.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { createServer, type ViteDevServer } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isLoopbackHost, runWeb, startStaticServer, type StaticServer } from '../../src/cli/commands/web';
import { temporaryFolder } from '../helpers/temporary-folder';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function get(port: number, path: string, host: string, method = 'GET'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers: { host } }, (res) => {
      let body = '';
      res.setEncoding('latin1');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

const LOOPBACK = ['127.0.0.1', 'LOCALHOST', 'app.localhost', '127.1.2.3', '[::1]'];
const FOREIGN = ['evil.example', 'attacker.test', '127.0.0.1.evil.example', 'localhost.evil.example', '10.0.0.1', '127.0.0.256'];

describe('isLoopbackHost', () => {
  it('accepts loopback names with or without a port and refuses the rest', () => {
    for (const host of LOOPBACK) expect([isLoopbackHost(host), isLoopbackHost(`${host}:8080`)], host).toEqual([true, true]);
    for (const host of FOREIGN) expect(isLoopbackHost(host), host).toBe(false);
    for (const host of [undefined, '']) expect(isLoopbackHost(host)).toBe(false);
  });
});

describe('webgpu-prune web: the static server', () => {
  let root: string;
  let server: StaticServer;

  beforeAll(async () => {
    // The served folder sits inside the temporary one, so a file can lie just outside it.
    const base = temporaryFolder('webgpu-prune-web-');
    root = join(base, 'site');
    await mkdir(join(root, 'data'), { recursive: true });
    await writeFile(join(root, 'index.html'), '<!doctype html><title>app</title>');
    await writeFile(join(root, 'data', 'labels.gz'), Buffer.from([0x1f, 0x8b, 8, 0]));
    await writeFile(join(base, 'outside.txt'), 'secret');
    server = await startStaticServer(root, 0);
  });

  afterAll(async () => {
    await server?.close();
  });

  it('serves 127.0.0.1:PORT with the folder index and refuses foreign Host headers with 403', async () => {
    expect(server.url).toBe(`http://127.0.0.1:${server.port}/`);
    for (const host of LOOPBACK) expect((await get(server.port, '/', `${host}:${server.port}`)).status, host).toBe(200);
    for (const host of FOREIGN) {
      const reply = await get(server.port, '/', host);
      expect(reply.status, host).toBe(403);
      expect(reply.body).toContain(`open http://127.0.0.1:${server.port}/`);
    }
  });

  it('sends .gz as application/gzip bytes with no Content-Encoding', async () => {
    const reply = await get(server.port, '/data/labels.gz', '127.0.0.1');
    expect(reply.status).toBe(200);
    expect(reply.headers['content-type']).toBe('application/gzip');
    expect(reply.headers['content-encoding']).toBeUndefined();
    expect(Buffer.from(reply.body, 'latin1')).toEqual(Buffer.from([0x1f, 0x8b, 8, 0]));
  });

  it('webgpu-prune web refuses a folder with no built app and a port in use, in one line each', async () => {
    const io = { out: () => {}, err: () => {} } as unknown as Parameters<typeof runWeb>[1];
    await expect(runWeb({ name: 'web', port: 0, dir: join(root, 'data') }, io)).rejects.toThrow(/^.*data has no index\.html: give the folder `npm run build:web` writes \(dist\/web\)$/);
    await expect(runWeb({ name: 'web', port: server.port, dir: root }, io)).rejects.toThrow(`port ${server.port} on 127.0.0.1 is in use: pick another with --port (0 picks a free one)`);
  });

  it('keeps to its folder and to GET and HEAD', async () => {
    for (const path of ['/../outside.txt', '/%2e%2e/outside.txt', '/missing.js', '/%E0%A4%A']) expect((await get(server.port, path, '127.0.0.1')).status, path).toBe(404);
    expect((await get(server.port, '/', '127.0.0.1', 'POST')).status).toBe(405);
    expect((await get(server.port, '/', '127.0.0.1', 'HEAD')).status).toBe(200);
  });
});

describe('npm run serve: the Vite dev server', () => {
  let vite: ViteDevServer;
  let port: number;

  beforeAll(async () => {
    vite = await createServer({ configFile: new URL('../../scripts/vite.config.ts', import.meta.url).pathname, server: { port: 0 }, logLevel: 'silent' });
    await vite.listen();
    const address = vite.httpServer!.address();
    port = typeof address === 'object' && address ? address.port : 0;
  });

  afterAll(async () => {
    await vite?.close();
  });

  it('serves the page and the gzip’d MNIST files to loopback hosts only', async () => {
    const page = await get(port, '/', `127.0.0.1:${port}`);
    expect(page.status).toBe(200);
    expect(page.body).toContain('webgpu-prune');
    const labels = await get(port, '/data/t10k-labels-idx1-ubyte.gz', `localhost:${port}`);
    expect(labels.status).toBe(200);
    expect(labels.headers['content-type']).toBe('application/gzip');
    expect([labels.body.charCodeAt(0), labels.body.charCodeAt(1)]).toEqual([0x1f, 0x8b]);
    for (const host of FOREIGN) expect((await get(port, '/', host)).status, host).toBe(403);
  });
});
