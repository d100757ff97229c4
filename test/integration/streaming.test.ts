import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { startLoopbackServer } from '../support/loopback-server.js';
import type { LoopbackServer } from '../support/loopback-server.js';
import { startServeProcess } from '../support/serve-process.js';
import type { ServeProcess } from '../support/serve-process.js';
import { patternSha256, patternStream } from '../support/pattern-stream.js';

const MiB = 1024 * 1024;
const SIZE = 100 * MiB;

/**
 * Relay requirement: bodies are streamed both ways, never buffered whole. The gateway runs as the
 * real `mender-gw serve` process so its memory can be read from /proc: its peak RSS
 * must not grow by anything near the 100 MiB that crosses it in each direction.
 */
describe('streaming through serve', () => {
  let upstream: LoopbackServer;
  let serve: ServeProcess;
  let dir: string;
  const uploads = new Map<string, { bytes: number; sha256: string }>();

  beforeAll(async () => {
    upstream = await startLoopbackServer((req, res) => {
      if (req.method === 'GET' && req.url === '/api/devices/v1/big') {
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': SIZE });
        patternStream(SIZE, 7).pipe(res);
        return;
      }
      const hash = createHash('sha256');
      let bytes = 0;
      req.on('data', (c: Buffer) => {
        bytes += c.length;
        hash.update(c);
      });
      req.on('end', () => {
        uploads.set(req.url ?? '', { bytes, sha256: hash.digest('hex') });
        res.writeHead(204).end();
      });
    });
    dir = await mkdtemp(join(tmpdir(), 'mgw-stream-'));
    const conf = join(dir, 'mender-gateway.conf');
    await writeFile(
      conf,
      JSON.stringify({
        HTTP: { Enabled: true, Listen: '127.0.0.1:0' },
        HTTPS: { Enabled: false },
        UpstreamServer: { URL: upstream.url },
      }),
    );
    serve = await startServeProcess(conf);
    // Warm up so the baseline includes the code paths (JIT, undici pool) a transfer uses.
    const warm = await request(`${serve.urls.http!}/api/devices/v1/warmup`, { method: 'PUT', body: 'x' });
    await warm.body.dump();
  });

  afterAll(async () => {
    await serve.stop();
    await upstream.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('relays a 100 MiB response and a 100 MiB request body with flat memory', async () => {
    const baseline = await serve.rss();

    const res = await request(`${serve.urls.http!}/api/devices/v1/big`);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-length']).toBe(String(SIZE));
    const hash = createHash('sha256');
    let received = 0;
    for await (const chunk of res.body) {
      received += (chunk as Buffer).length;
      hash.update(chunk as Buffer);
    }
    expect(received).toBe(SIZE);
    expect(hash.digest('hex')).toBe(await patternSha256(SIZE, 7));

    const up = await request(`${serve.urls.http!}/api/devices/v1/deployments/device/deployments/d1/log`, {
      method: 'PUT',
      body: patternStream(SIZE, 9),
    });
    await up.body.dump();
    expect(up.statusCode).toBe(204);
    expect(uploads.get('/api/devices/v1/deployments/device/deployments/d1/log')).toEqual({
      bytes: SIZE,
      sha256: await patternSha256(SIZE, 9),
    });

    const growth = (await serve.peakRss()) - baseline;
    console.info(`serve peak RSS grew by ${(growth / MiB).toFixed(1)} MiB while relaying 2 × 100 MiB`);
    // V8's young generation alone may take ~32 MiB under load; what matters is that
    // growth stays far below the 200 MiB that crossed the gateway.
    expect(growth).toBeLessThan(64 * MiB);
  });

  it('logs the transfer with its byte count', async () => {
    const line = await serve.logs.waitFor((l) => l.msg === 'request' && l.path === '/api/devices/v1/big');
    expect(line.bytes).toBe(SIZE);
    expect(line.status).toBe(200);
  });
});
