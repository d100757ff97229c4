import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startFakeUpstream } from '../support/fake-upstream/index.js';
import type { FakeUpstream } from '../support/fake-upstream/index.js';
import { rawExchange } from '../support/raw-http.js';
import { startTestGateway } from '../support/test-gateway.js';
import type { TestGateway } from '../support/test-gateway.js';
import { SimulatedDevice } from '../support/simulated-device.js';

/**
 * Hostile request bodies. The gateway reads two kinds of body itself: inventory
 * updates with Features.DeviceSystem and auth requests with mTLS (those are covered in
 * hostile-tls.test.ts); both are bounded at 1 MiB and must keep arriving
 * (UpstreamServer.BodyIdleTimeout). Every other body streams through to upstream untouched, however
 * slowly it arrives: a satellite link is not an attack.
 *
 * Also covered elsewhere: 413 for a declared and for a chunked inventory body over 1 MiB
 * (device-system.test.ts).
 */

const INVENTORY = '/api/devices/v1/inventory/device/attributes';
const LOG_PATH = '/api/devices/v1/deployments/device/deployments/dep-1/log';
const IDLE_MS = 1_000;

describe('hostile bodies on intercepted and relayed endpoints', () => {
  let upstream: FakeUpstream;
  let gw: TestGateway;
  let device: SimulatedDevice;
  /** Bodies of deployment-log uploads as upstream received them. */
  const logUploads: string[] = [];

  beforeAll(async () => {
    upstream = await startFakeUpstream({ autoAcceptDevices: true });
    upstream.intercept(async (req, res) => {
      if (req.url !== LOG_PATH) return false;
      let body = '';
      for await (const chunk of req as AsyncIterable<Buffer>) body += chunk.toString('utf8');
      logUploads.push(body);
      res.writeHead(204);
      res.end();
      return true;
    });
    gw = await startTestGateway({
      UpstreamServer: {
        URL: upstream.url,
        CACertificate: upstream.pki.ca.certPath,
        BodyIdleTimeout: `${IDLE_MS}ms`,
      },
      Features: { DeviceSystem: { Enabled: true, SystemID: 'site-hostile' } },
    });
    device = new SimulatedDevice('02:00:00:00:7e:01');
    expect(await device.authenticate(gw.url)).toBe(200);
  });

  afterAll(async () => {
    await gw.close();
    await upstream.close();
  });

  const auth = (): string => `Authorization: Bearer ${device.jwt ?? ''}\r\n`;

  async function stillServes(): Promise<void> {
    const res = await request(`${gw.url}${INVENTORY}`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${device.jwt ?? ''}`, 'content-type': 'application/json' },
      body: JSON.stringify([{ name: 'still', value: 'served' }]),
    });
    expect(res.statusCode).toBe(200);
    await res.body.dump();
  }

  it('answers 413 at once to a declared 10 GiB inventory body, before a byte of it is sent', async () => {
    const before = upstream.state.inventoryRequests.length;
    const answer = await rawExchange(
      gw.url,
      `PUT ${INVENTORY} HTTP/1.1\r\nHost: gw\r\n${auth()}Content-Type: application/json\r\nContent-Length: 10737418240\r\n\r\n`,
      // The connection stays open for the body, which is drained if it comes; the answer is there first.
      { waitMs: 1_500 },
    );
    expect(answer.status).toBe(413);
    expect(JSON.parse(answer.body).error).toMatch(/larger than 1048576 bytes/);
    expect(upstream.state.inventoryRequests.length).toBe(before);
    const line = await gw.logs.waitFor((l) => l.msg === 'request' && l.status === 413);
    expect(line.level).toBe('warn');
    await stillServes();
  });

  it('forwards invalid JSON on inventory unchanged and lets upstream judge it (documented behaviour)', async () => {
    const garbage = Buffer.from('{"name": "not an array", \u0000 trailing');
    const res = await request(`${gw.url}${INVENTORY}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${device.jwt ?? ''}`, 'content-type': 'application/json' },
      body: garbage,
    });
    const body = await res.body.text();
    // Upstream's verdict, relayed as is.
    expect(res.statusCode).toBe(400);
    expect(body).toMatch(/expected an array of attributes/);
    const record = upstream.state.inventoryRequests.at(-1)!;
    expect(record.rawBody.equals(garbage)).toBe(true);
    expect(record.responseStatus).toBe(400);
    await gw.logs.waitFor((l) => l.msg === 'inventory body is not an attribute array: forwarded unchanged');
    await stillServes();
  });

  it.each(['PUT', 'PATCH'])(
    'answers 400 JSON to a deeply nested %s inventory body, relays nothing and counts no upstream failure',
    async (method) => {
      const depth = 100_000;
      const body = `[{"name":"deep","value":${'['.repeat(depth)}${']'.repeat(depth)}}]`;
      const before = upstream.state.inventoryRequests.length;
      const failures = (await gw.gateway.metrics.upstreamErrors.get()).values.length;
      const res = await request(`${gw.url}${INVENTORY}`, {
        method,
        headers: { authorization: `Bearer ${device.jwt ?? ''}`, 'content-type': 'application/json' },
        body,
      });
      expect(res.statusCode).toBe(400);
      expect(res.headers['content-type']).toMatch(/application\/json/);
      expect((await res.body.json()) as { error: string }).toMatchObject({
        error: expect.stringMatching(/nested deeper than 64/) as unknown,
      });
      expect(upstream.state.inventoryRequests.length).toBe(before);
      const line = await gw.logs.waitFor(
        (l) => l.msg === 'request' && l.status === 400 && l.method === method,
      );
      expect(line.path).toBe(INVENTORY);
      expect((await gw.gateway.metrics.upstreamErrors.get()).values.length).toBe(failures);
      await stillServes();
    },
  );

  it('still adds its attributes to an inventory body nested 64 levels deep', async () => {
    const value = JSON.parse(`${'['.repeat(62)}1${']'.repeat(62)}`) as unknown;
    const res = await request(`${gw.url}${INVENTORY}`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${device.jwt ?? ''}`, 'content-type': 'application/json' },
      body: JSON.stringify([{ name: 'nested', value }]),
    });
    expect(res.statusCode).toBe(200);
    await res.body.dump();
    const record = upstream.state.inventoryRequests.at(-1)!;
    expect(JSON.parse(record.rawBody.toString('utf8'))).toContainEqual({ name: 'nested', value });
  });

  it('cuts an inventory body that stops arriving with 408 after BodyIdleTimeout, closes the connection, and logs it', async () => {
    const before = upstream.state.inventoryRequests.length;
    const answer = await rawExchange(
      gw.url,
      `PUT ${INVENTORY} HTTP/1.1\r\nHost: gw\r\n${auth()}Content-Type: application/json\r\nContent-Length: 100\r\n\r\n[{"name":`,
      { waitMs: 10_000 },
    );
    expect(answer.status).toBe(408);
    expect(answer.closed).toBe(true);
    expect(JSON.parse(answer.body).error).toMatch(/request body idle for more than 1000 ms/);
    expect(answer.text.toLowerCase()).toContain('connection: close');
    const line = await gw.logs.waitFor((l) => l.msg === 'request' && l.status === 408);
    expect(line).toMatchObject({ level: 'warn', path: INVENTORY, ip: '127.0.0.1' });
    expect(String(line.error)).toMatch(/idle/);
    expect(upstream.state.inventoryRequests.length).toBe(before);
    await stillServes();
  });

  it('cuts a chunked inventory body that stalls between chunks the same way', async () => {
    const answer = await rawExchange(
      gw.url,
      `PATCH ${INVENTORY} HTTP/1.1\r\nHost: gw\r\n${auth()}Transfer-Encoding: chunked\r\n\r\n5\r\n[{"na\r\n`,
      { waitMs: 10_000 },
    );
    expect(answer.status).toBe(408);
    expect(answer.closed).toBe(true);
    await stillServes();
  });

  it('does not cut an inventory body that arrives slowly but keeps arriving', async () => {
    const json = JSON.stringify([{ name: 'slow', value: 'satellite' }]);
    const pieces = [
      `PATCH ${INVENTORY} HTTP/1.1\r\nHost: gw\r\n${auth()}Content-Type: application/json\r\nContent-Length: ${json.length}\r\nConnection: close\r\n\r\n`,
      ...json.match(/.{1,8}/g)!,
    ];
    // Total well over the idle timeout, every gap well under it.
    const answer = await rawExchange(gw.url, '', { pieces, pauseMs: IDLE_MS / 3, waitMs: 15_000 });
    expect(answer.status).toBe(200);
    expect(pieces.length * (IDLE_MS / 3)).toBeGreaterThan(IDLE_MS);
    const record = upstream.state.inventoryRequests.at(-1)!;
    expect(JSON.parse(record.rawBody.toString('utf8'))).toContainEqual({ name: 'slow', value: 'satellite' });
  });

  it('relays a slow, stalling deployment-log upload completely: relayed bodies are never cut by the gateway', async () => {
    const log = JSON.stringify({ messages: [{ level: 'info', message: 'x'.repeat(200) }] });
    const pieces = [
      `PUT ${LOG_PATH} HTTP/1.1\r\nHost: gw\r\n${auth()}Content-Type: application/json\r\nContent-Length: ${log.length}\r\nConnection: close\r\n\r\n`,
      log.slice(0, 50),
      log.slice(50, 100),
      log.slice(100),
    ];
    // Each gap is longer than BodyIdleTimeout: a link that stalls now and then.
    const answer = await rawExchange(gw.url, '', { pieces, pauseMs: IDLE_MS + 300, waitMs: 20_000 });
    expect(answer.status).toBe(204);
    expect(logUploads.at(-1)).toBe(log);
  });
});
