import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IncomingHttpHeaders } from 'node:http';
import { connect as netConnect } from 'node:net';
import { request } from 'undici';
import { startLoopbackServer } from '../support/loopback-server.js';
import type { LoopbackServer } from '../support/loopback-server.js';
import { rawExchange } from '../support/raw-http.js';
import { startTestGateway } from '../support/test-gateway.js';
import type { TestGateway } from '../support/test-gateway.js';
import { freePort } from '../support/free-port.js';

/**
 * Request headers a device controls that are not its to set: `Expect: 100-continue` (curl and
 * other stacks send it for large bodies such as deployment logs), which undici refuses to send,
 * and headers that claim a client address or the original host, which upstream would trust.
 */
describe('device headers that are not relayed as sent', () => {
  let upstream: LoopbackServer;
  let gw: TestGateway;
  let metricsUrl: string;
  const seen: { url: string; headers: IncomingHttpHeaders; body: Buffer }[] = [];

  beforeAll(async () => {
    upstream = await startLoopbackServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        seen.push({ url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) });
        res.writeHead(204);
        res.end();
      });
    });
    const metricsPort = await freePort();
    metricsUrl = `http://127.0.0.1:${String(metricsPort)}/metrics`;
    gw = await startTestGateway({
      UpstreamServer: { URL: upstream.url },
      Metrics: { Enabled: true, Listen: `127.0.0.1:${String(metricsPort)}` },
    });
  });
  afterAll(async () => {
    await gw.close();
    await upstream.close();
  });

  async function upstreamErrorCount(): Promise<number> {
    const res = await request(metricsUrl);
    const text = await res.body.text();
    return text
      .split('\n')
      .filter((l) => l.startsWith('mender_gw_upstream_errors_total{'))
      .reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
  }

  it('Expect: 100-continue: the device gets 100 Continue, the body reaches upstream, nothing is blamed on upstream', async () => {
    const path = '/api/devices/v1/deployments/device/deployments/d1/log';
    const body = JSON.stringify({
      messages: [{ timestamp: '2026-12-07T00:00:00Z', level: 'info', message: 'x' }],
    });
    const errorsBefore = await upstreamErrorCount();
    const head =
      `PUT ${path} HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer jwt\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${String(body.length)}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n`;
    // The body follows once the gateway said 100 Continue, as curl does.
    const answer = await rawExchange(gw.url, '', { pieces: [head, body], pauseMs: 100 });
    expect(answer.text).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 204 /);
    const call = seen.find((s) => s.url === path);
    expect(call?.body.toString()).toBe(body);
    expect(call?.headers.expect).toBeUndefined();
    expect(await upstreamErrorCount()).toBe(errorsBefore);
    const ready = await request(`${gw.url}/api/internal/v1/gateway/ready`);
    const report = (await ready.body.json()) as { upstream: { lastError: string | undefined } };
    expect(report.upstream.lastError).toBeUndefined();
  });

  it('an expectation undici cannot send is the device’s 417, not an upstream 502', async () => {
    const errorsBefore = await upstreamErrorCount();
    const answer = await rawExchange(
      gw.url,
      'GET /api/devices/v1/deviceconfig/configuration HTTP/1.1\r\nHost: gw\r\nExpect: something-else\r\nConnection: close\r\n\r\n',
    );
    expect(answer.status).toBe(417);
    expect(await upstreamErrorCount()).toBe(errorsBefore);
  });

  it('client-address and original-host headers from a device never reach upstream; the gateway sets the device address', async () => {
    const path = '/api/devices/v1/inventory/device/attributes';
    const res = await request(`${gw.url}${path}`, {
      method: 'GET',
      headers: {
        'x-forwarded-for': '10.9.9.9',
        'x-real-ip': '10.9.9.9',
        forwarded: 'for=10.9.9.9;host=evil.example',
        'true-client-ip': '10.9.9.9',
        'x-client-ip': '10.9.9.9',
        'cf-connecting-ip': '10.9.9.9',
        'x-forwarded-host': 'evil.example',
        'x-forwarded-proto': 'https',
        'x-forwarded-port': '443',
      },
    });
    await res.body.dump();
    const call = seen.find((s) => s.url === path);
    expect(call?.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(call?.headers['x-real-ip']).toBe('127.0.0.1');
    for (const name of [
      'forwarded',
      'true-client-ip',
      'x-client-ip',
      'cf-connecting-ip',
      'x-forwarded-host',
      'x-forwarded-proto',
      'x-forwarded-port',
    ])
      expect(call?.headers[name], name).toBeUndefined();
  });

  it('a device that resets in the middle of a relayed body is never counted as an upstream failure', async () => {
    const errorsBefore = await upstreamErrorCount();
    const { port } = new URL(gw.url);
    for (let i = 0; i < 100; i++) {
      await new Promise<void>((resolve) => {
        const socket = netConnect(Number(port), '127.0.0.1', () => {
          socket.write(
            'PUT /api/devices/v1/deployments/device/deployments/d2/log HTTP/1.1\r\nHost: gw\r\n' +
              'Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"messages":[',
          );
          // Reset once the gateway had time to start the upstream request, or at once.
          if (i % 2 === 0) setImmediate(() => socket.resetAndDestroy());
          else setTimeout(() => socket.resetAndDestroy(), i % 10);
        });
        socket.on('error', () => undefined);
        socket.on('close', () => resolve());
      });
    }
    // Every upstream request of those has ended one way or another before we look.
    await expect
      .poll(() => gw.gateway.metrics.registry.getSingleMetricAsString('mender_gateway_http_requests_total'))
      .toContain('code=');
    const ready = await request(`${gw.url}/api/internal/v1/gateway/ready`);
    const report = (await ready.body.json()) as { upstream: { lastError: string | undefined } };
    expect(report.upstream.lastError).toBeUndefined();
    expect(await upstreamErrorCount()).toBe(errorsBefore);
  });
});
