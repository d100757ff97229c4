import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { startCacheScenario, DEVICE_TYPE } from '../support/cache-scenario.js';
import type { CacheScenario } from '../support/cache-scenario.js';
import { pollNext } from '../support/simulated-device.js';
import type { SimulatedDevice } from '../support/simulated-device.js';
import { startLoopbackServer } from '../support/loopback-server.js';
import type { LoopbackServer } from '../support/loopback-server.js';
import { startServeProcess } from '../support/serve-process.js';
import type { ServeProcess } from '../support/serve-process.js';

const MiB = 1024 * 1024;
const provides = { device_type: DEVICE_TYPE, artifact_name: 'initial' };
const INVENTORY = '/api/devices/v1/inventory/device/attributes';
const AUTH = '/api/devices/v1/authentication/auth_requests';

async function call(
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; headers: Record<string, unknown>; text: string }> {
  const res = await request(url, init);
  return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
}

/** The status a WebSocket upgrade request gets (mender-connect's tunnel). */
function upgradeStatus(base: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${base}/api/devices/v1/deviceconnect/connect`, {
      headers: {
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-version': '13',
        'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
        authorization: 'Bearer x',
      },
    });
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('upgrade', (_res, socket) => {
      socket.destroy();
      resolve(101);
    });
    req.on('error', reject);
    req.end();
  });
}

/**
 * A draining gateway sends devices away: the current Mender client moves to the next server of
 * its `Servers` list only when it authenticates, which it does after a 401 (docs/protocol.md
 * §8.4), so device calls get 401 and auth requests 503. Health endpoints still answer, downloads
 * go on, and nothing counts as an upstream failure.
 */
describe('draining gateway (in process)', () => {
  let s: CacheScenario;
  let device: SimulatedDevice;

  beforeAll(async () => {
    s = await startCacheScenario({ cache: false });
    device = await s.newDevice();
  });
  afterAll(async () => {
    await (s as CacheScenario | undefined)?.close();
  });

  it('answers 401 / 503 + Retry-After, keeps health and downloads, and blames no upstream', async () => {
    const { artifact, sha256 } = s.addArtifact('drain-1', 32 * MiB);
    const next = await pollNext(s.gw.url, device, provides);
    expect(next.status).toBe(200);
    const uri = next.json!.artifact.source.uri;

    // A download under way: the first bytes are read, the rest waits on backpressure.
    const download = await request(uri);
    expect(download.statusCode).toBe(200);
    const hash = createHash('sha256');
    const chunks = download.body[Symbol.asyncIterator]();
    const first = await chunks.next();
    expect(first.done).toBe(false);
    hash.update(first.value as Buffer);

    const relayedBefore = s.upstream.state.requests.length;
    void s.gw.gateway.drain();
    expect(s.gw.gateway.draining).toBe(true);

    const poll = await pollNext(s.gw.url, device, provides);
    expect(poll.status).toBe(401);
    // No body: the 5.1 client reads none on a 401 and aborts on one it did not read.
    expect(poll.body.length).toBe(0);
    expect(poll.headers['content-length']).toBe('0');
    expect(poll.headers['x-men-requestid']).toEqual(expect.any(String));
    expect(poll.headers.connection).toBe('close');

    const inventory = await call(`${s.gw.url}${INVENTORY}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${device.jwt!}`, 'content-type': 'application/json' },
      body: '[]',
    });
    expect(inventory.status).toBe(401);

    const auth = await call(`${s.gw.url}${AUTH}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-men-signature': device.signature(device.authBody()) },
      body: device.authBody().toString(),
    });
    expect(auth.status).toBe(503);
    expect(auth.headers['retry-after']).toBe('30'); // Drain.Period's default
    expect(JSON.parse(auth.text)).toMatchObject({ request_id: expect.any(String) as unknown });

    expect(await upgradeStatus(s.gw.url)).toBe(503);

    const alive = await call(`${s.gw.url}/api/internal/v1/gateway/alive`);
    expect(alive.status).toBe(204);
    const ready = await call(`${s.gw.url}/api/internal/v1/gateway/ready`);
    expect(ready.status).toBe(503);
    const report = JSON.parse(ready.text) as { upstream: Record<string, unknown> };
    expect(report).toMatchObject({ ready: false, draining: true, upstream: { reachable: true } });
    // No upstream failure was recorded for the refusals (JSON leaves an undefined lastError out).
    expect(report.upstream.lastError).toBeUndefined();

    // A new download (a device in the middle of an update) is still served.
    const part = await call(uri, { headers: { range: 'bytes=0-99' } });
    expect(part.status).toBe(206);

    // None of the refused calls reached upstream (the readiness probe may have).
    expect(
      s.upstream.state.requests
        .slice(relayedBefore)
        .filter((r) => r.host === 'api' && !(r.method === 'GET' && r.path.endsWith('/deployments/next'))),
    ).toEqual([]);

    // The download that was under way completes, byte for byte.
    for (let chunk = await chunks.next(); chunk.done !== true; chunk = await chunks.next())
      hash.update(chunk.value as Buffer);
    expect(hash.digest('hex')).toBe(sha256);
    expect(s.upstream.state.storage.perArtifact.get(artifact.id)?.fullDownloadsStarted).toBe(1);

    expect((await s.gw.gateway.metrics.upstreamErrors.get()).values).toEqual([]);
    const requests = (await s.gw.gateway.metrics.requests.get()).values;
    expect(requests.filter((v) => v.labels.code === '401').length).toBeGreaterThan(0);
    expect(
      s.gw.logs.lines.filter((l) => l.msg === 'draining: devices are sent to authenticate again elsewhere'),
    ).toHaveLength(1);
  });
});

describe('draining serve on signals', () => {
  let upstream: LoopbackServer;
  const cleanup: (() => Promise<unknown>)[] = [];

  beforeAll(async () => {
    // Every device call would be answered 204; the readiness probe needs an answer below 500.
    upstream = await startLoopbackServer((_req, res) => {
      res.writeHead(204);
      res.end();
    });
  });
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });
  afterAll(async () => {
    await (upstream as LoopbackServer | undefined)?.close();
  });

  async function start(extra: Record<string, unknown>): Promise<ServeProcess> {
    const dir = await mkdtemp(join(tmpdir(), 'mgw-drain-'));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    const conf = join(dir, 'mender-gateway.conf');
    await writeFile(
      conf,
      JSON.stringify({
        HTTP: { Enabled: true, Listen: '127.0.0.1:0' },
        HTTPS: { Enabled: false },
        UpstreamServer: { URL: upstream.url },
        ...extra,
      }),
    );
    const serve = await startServeProcess(conf);
    cleanup.push(() => serve.stop('SIGKILL'));
    return serve;
  }

  const draining = (serve: ServeProcess) =>
    serve.logs.waitFor((l) => l.msg === 'draining: devices are sent to authenticate again elsewhere');
  const messages = (serve: ServeProcess) =>
    serve.logs.lines
      .map((l) => l.msg)
      .filter((m) => /^(draining|drain period over|shutting down|stopped)/.test(m))
      .map((m) => m.split(':')[0]);

  it('with Drain.Enabled, SIGTERM drains for Drain.Period, then shuts down and exits 0', async () => {
    const serve = await start({ Drain: { Enabled: true, Period: '3s' } });
    const base = serve.urls.http!;
    expect((await call(`${base}${INVENTORY}`, { method: 'PUT', body: '[]' })).status).toBe(204);

    void serve.stop('SIGTERM');
    await draining(serve);
    expect((await call(`${base}${INVENTORY}`, { method: 'PUT', body: '[]' })).status).toBe(401);
    const auth = await call(`${base}${AUTH}`, { method: 'POST', body: '{}' });
    expect(auth.status).toBe(503);
    expect(auth.headers['retry-after']).toBe('3');
    expect((await call(`${base}/api/internal/v1/gateway/ready`)).status).toBe(503);

    expect(await serve.exited).toBe(0);
    expect(messages(serve)).toEqual(['draining', 'drain period over', 'shutting down', 'stopped']);
  });

  it('a second SIGTERM during the drain shuts down at once', async () => {
    const serve = await start({ Drain: { Enabled: true, Period: '1h' } });
    void serve.stop('SIGTERM');
    await draining(serve);
    void serve.stop('SIGTERM');
    expect(await serve.exited).toBe(0);
    expect(messages(serve)).toEqual(['draining', 'shutting down', 'stopped']);
  });

  it('without Drain.Enabled, SIGTERM shuts down as before', async () => {
    const serve = await start({});
    void serve.stop('SIGTERM');
    expect(await serve.exited).toBe(0);
    expect(messages(serve)).toEqual(['shutting down', 'stopped']);
  });

  it('SIGUSR2 drains without exiting when Drain.Period is over; SIGTERM then stops at once', async () => {
    const serve = await start({ Drain: { Period: '0' } });
    const base = serve.urls.http!;
    serve.child.kill('SIGUSR2');
    await serve.logs.waitFor((l) => l.msg === 'drain period over');
    // Still running and still draining.
    expect((await call(`${base}${INVENTORY}`, { method: 'PUT', body: '[]' })).status).toBe(401);
    const ready = await call(`${base}/api/internal/v1/gateway/ready`);
    expect(ready.status).toBe(503);
    expect(JSON.parse(ready.text)).toMatchObject({ draining: true, upstream: { reachable: true } });
    expect((await call(`${base}/api/internal/v1/gateway/alive`)).status).toBe(204);

    void serve.stop('SIGTERM');
    expect(await serve.exited).toBe(0);
    expect(messages(serve)).toEqual(['draining', 'drain period over', 'shutting down', 'stopped']);
  });
});
