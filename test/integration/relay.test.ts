import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Readable } from 'node:stream';
import { request } from 'undici';
import type { IncomingHttpHeaders } from 'node:http';
import { startLoopbackServer, closedPort } from '../support/loopback-server.js';
import { nodeRequest } from '../support/node-request.js';
import type { LoopbackServer } from '../support/loopback-server.js';
import { startTestGateway } from '../support/test-gateway.js';
import type { TestGateway } from '../support/test-gateway.js';

interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  rawHeaders: string[];
  body: Buffer;
}

describe('device API relay', () => {
  let upstream: LoopbackServer;
  let gw: TestGateway;
  const seen: Seen[] = [];

  beforeAll(async () => {
    upstream = await startLoopbackServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        seen.push({
          method: req.method ?? '',
          url: req.url ?? '',
          headers: req.headers,
          rawHeaders: req.rawHeaders,
          body: Buffer.concat(chunks),
        });
        if (req.url?.startsWith('/api/devices/v1/slow')) return; // never answers: the gateway must time out
        res.writeHead(req.url?.includes('status') ? 204 : 200, {
          'content-type': 'application/json',
          'x-men-requestid': 'req-123',
          connection: 'keep-alive, x-upstream-private',
          'x-upstream-private': 'hop',
          'keep-alive': 'timeout=5',
        });
        res.end(req.url?.includes('status') ? undefined : JSON.stringify({ ok: true, path: req.url }));
      });
    });
    gw = await startTestGateway({
      UpstreamServer: { URL: upstream.url, ResponseTimeout: '500ms' },
    });
  });

  afterAll(async () => {
    await gw.close();
    await upstream.close();
  });

  it('relays a device call with Host rewritten, X-Forwarded-For set to the device address and hop-by-hop headers removed', async () => {
    const res = await nodeRequest(`${gw.url}/api/devices/v1/deviceconfig/configuration?x=1`, {
      headers: {
        authorization: 'Bearer device-jwt',
        host: 'gateway.local',
        'x-forwarded-for': '10.9.9.9',
        connection: 'keep-alive, x-device-private',
        'x-device-private': 'secret-hop',
        'x-men-custom': 'kept',
      },
    });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body.toString())).toEqual({
      ok: true,
      path: '/api/devices/v1/deviceconfig/configuration?x=1',
    });
    // Upstream response headers relayed, hop-by-hop ones dropped (RFC 9110 §7.6.1).
    expect(res.headers['x-men-requestid']).toBe('req-123');
    expect(res.headers['x-upstream-private']).toBeUndefined();

    const call = seen.find((s) => s.url.startsWith('/api/devices/v1/deviceconfig'))!;
    expect(call.headers.host).toBe(new URL(upstream.url).host);
    expect(call.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(call.headers.authorization).toBe('Bearer device-jwt');
    expect(call.headers['x-men-custom']).toBe('kept');
    expect(call.headers['x-device-private']).toBeUndefined();
  });

  it('streams request bodies byte-exact, chunked or with a length', async () => {
    const body = Buffer.from('{"id_data":"{\\"mac\\":\\"00:11\\"}","tenant_token":"","pubkey":"KEY"}\n');
    const res = await request(`${gw.url}/api/devices/v1/authentication/auth_requests`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-men-signature': 'c2ln',
        'content-length': String(body.length),
      },
      body,
    });
    await res.body.dump();
    const call = seen.find((s) => s.url === '/api/devices/v1/authentication/auth_requests')!;
    expect(call.body.equals(body)).toBe(true);
    expect(call.headers['content-length']).toBe(String(body.length));
    expect(call.headers['x-men-signature']).toBe('c2ln');

    // 3.x clients send every other body chunked (mender-client-notes).
    const chunked = Readable.from([Buffer.from('[{"name":"a",'), Buffer.from('"value":"b"}]')]);
    const put = await request(`${gw.url}/api/devices/v1/inventory/device/attributes`, {
      method: 'PUT',
      body: chunked,
    });
    await put.body.dump();
    const inv = seen.find((s) => s.url === '/api/devices/v1/inventory/device/attributes')!;
    expect(inv.body.toString()).toBe('[{"name":"a","value":"b"}]');
  });

  it('answers liveness with 204 without calling upstream', async () => {
    const before = seen.length;
    const res = await request(`${gw.url}/api/internal/v1/gateway/alive`);
    expect(res.statusCode).toBe(204);
    await res.body.dump();
    expect(seen.length).toBe(before);
  });

  it.each([
    '/',
    '/api/management/v1/useradm/auth/login',
    '/ui/',
    '/api/internal/v1/other',
    '/api/devicesX/v1',
  ])('answers 404 JSON for %s and never relays it', async (path) => {
    const before = seen.length;
    const res = await request(`${gw.url}${path}`, { method: path.includes('login') ? 'POST' : 'GET' });
    expect(res.statusCode).toBe(404);
    expect(res.headers['content-type']).toMatch(/application\/json/);
    const body = (await res.body.json()) as { error: string; request_id: string };
    expect(body.error).toMatch(/not found/);
    expect(body.request_id).toMatch(/[0-9a-f-]{36}/);
    expect(seen.length).toBe(before);
  });

  it.each([
    '/api/devices/../management/v1/useradm/users',
    '/api/devices/v1/%2e%2e/%2E%2E/management/v1/useradm/users',
    '/api/devices/v1%2f..%2f..%2fmanagement',
    '/api/devices/v1/%zz',
  ])('refuses the traversal %s with 400 and never relays it', async (path) => {
    const before = seen.length;
    // node:http sends the target as is; undici would normalise the dots away first.
    const res = await nodeRequest(`${gw.url}${path}`);
    expect(res.status).toBe(400);
    expect(seen.length).toBe(before);
  });

  it('answers 502 with a JSON error when the upstream is unreachable', async () => {
    const port = await closedPort();
    const down = await startTestGateway({ UpstreamServer: { URL: `http://127.0.0.1:${port}` } });
    try {
      const res = await request(`${down.url}/api/devices/v1/deployments/device/deployments/next`);
      expect(res.statusCode).toBe(502);
      const body = (await res.body.json()) as { error: string };
      expect(body.error).toMatch(/unreachable \(ECONNREFUSED\)/);
      const line = await down.logs.waitFor((l) => l.msg === 'request' && l.status === 502);
      expect(line.level).toBe('error');
    } finally {
      await down.close();
    }
  });

  it('answers 504 when the upstream does not answer in time, and other requests are unaffected', async () => {
    const slow = request(`${gw.url}/api/devices/v1/slow`);
    const fast = request(`${gw.url}/api/devices/v1/deviceconfig/configuration`);
    const [slowRes, fastRes] = await Promise.all([slow, fast]);
    expect(fastRes.statusCode).toBe(200);
    await fastRes.body.dump();
    expect(slowRes.statusCode).toBe(504);
    expect(((await slowRes.body.json()) as { error: string }).error).toMatch(/did not answer in time/);
  });

  it('writes one access line per request with method, path without query, status, bytes, duration and IP', async () => {
    const res = await request(
      `${gw.url}/api/devices/v1/deviceconfig/configuration?X-Amz-Signature=topsecret`,
    );
    const text = await res.body.text();
    const line = await gw.logs.waitFor(
      (l) =>
        l.msg === 'request' &&
        l.path === '/api/devices/v1/deviceconfig/configuration' &&
        l.bytes === Buffer.byteLength(text),
    );
    expect(line).toMatchObject({ level: 'info', method: 'GET', status: 200, ip: '127.0.0.1' });
    expect(typeof line.durationMs).toBe('number');
    expect(gw.logs.raw.join('\n')).not.toContain('topsecret');
  });
});
