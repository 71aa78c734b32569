/**
 * The dev server answers loopback host names only: a page whose own host name resolves to
 * 127.0.0.1 (DNS rebinding) must not read it as same-origin.
 */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../scripts/serve.mjs';

let server: RunningServer;

beforeAll(async () => {
  server = await startServer({ port: 0 });
});

afterAll(async () => {
  await server?.close();
});

function statusFor(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: server.port, path: '/', headers: { host } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('dev server Host check', () => {
  it('serves 127.0.0.1, localhost and [::1] with or without the port', async () => {
    for (const host of [`127.0.0.1:${server.port}`, '127.0.0.1', `localhost:${server.port}`, 'LOCALHOST', `[::1]:${server.port}`]) {
      expect(await statusFor(host), host).toBe(200);
    }
  });

  it('refuses any other host name with 403', async () => {
    for (const host of [`evil.example:${server.port}`, 'attacker.test', '127.0.0.1.evil.example', 'localhost.evil.example', '10.0.0.1']) {
      expect(await statusFor(host), host).toBe(403);
    }
  });
});
