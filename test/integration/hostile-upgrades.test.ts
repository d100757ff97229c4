import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCacheScenario, DEVICE_TYPE } from '../support/cache-scenario.js';
import type { CacheScenario } from '../support/cache-scenario.js';
import { rawExchange } from '../support/raw-http.js';
import { GATEWAY_ARTIFACTS } from '../support/device-answer.js';
import type { SimulatedDevice } from '../support/simulated-device.js';

/**
 * `Upgrade` headers on a request that is not a WebSocket endpoint. They used to send any such
 * request down the tunnel path, past every interceptor: deployments/next came back with the raw
 * presigned storage link even in cache mode, and no access line was written. Only
 * /api/devices/v1/deviceconnect/connect may be upgraded; anything else is an ordinary request
 * (RFC 9110 §7.8 lets a server ignore Upgrade) or, with a body, refused.
 */
describe('Upgrade headers never skip the interceptors', () => {
  let s: CacheScenario;
  let device: SimulatedDevice;
  const query = new URLSearchParams({ device_type: DEVICE_TYPE, artifact_name: 'initial' }).toString();

  beforeAll(async () => {
    s = await startCacheScenario();
    s.addArtifact('upgraded', 64 * 1024);
    device = await s.newDevice();
  });
  afterAll(async () => {
    await s.close();
  });

  for (const upgrade of ['websocket', 'h2c']) {
    it(`deployments/next with Upgrade: ${upgrade} gets the gateway's signed link, and an access line`, async () => {
      const path = '/api/devices/v1/deployments/device/deployments/next';
      const answer = await rawExchange(
        s.gw.url,
        `GET ${path}?${query} HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer ${device.jwt ?? ''}\r\n` +
          `Connection: Upgrade\r\nUpgrade: ${upgrade}\r\n\r\n`,
      );
      expect(answer.status).toBe(200);
      const uri = (JSON.parse(answer.body) as { artifact: { source: { uri: string } } }).artifact.source.uri;
      expect(uri.startsWith(`${s.gatewayUrl}${GATEWAY_ARTIFACTS}`)).toBe(true);
      await s.gw.logs.waitFor((l) => l.msg === 'request' && l.path === path && l.status === 200);
    });
  }

  it('an Upgrade request with a body to a non-WebSocket path is refused with 400, never relayed', async () => {
    const path = '/api/devices/v1/inventory/device/attributes';
    const body = '[{"name":"x","value":"y"}]';
    const answer = await rawExchange(
      s.gw.url,
      `PUT ${path} HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer ${device.jwt ?? ''}\r\n` +
        `Connection: Upgrade\r\nUpgrade: websocket\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${String(body.length)}\r\n\r\n${body}`,
    );
    expect(answer.status).toBe(400);
    expect(JSON.parse(answer.body)).toMatchObject({ error: `${path} cannot be upgraded` });
    await s.gw.logs.waitFor((l) => l.msg === 'request' && l.path === path && l.status === 400);
  });

  for (const [method, upgrade, status] of [
    ['HEAD', 'websocket', 405],
    ['POST', 'websocket', 405],
    ['GET', 'h2c', 400],
  ] as const) {
    it(`${method} with Upgrade: ${upgrade} on the WebSocket endpoint is the device's ${String(status)}, never a question for upstream`, async () => {
      const before = s.upstream.state.requests.length;
      const answer = await rawExchange(
        s.gw.url,
        `${method} /api/devices/v1/deviceconnect/connect HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer ${device.jwt ?? ''}\r\n` +
          `Connection: Upgrade\r\nUpgrade: ${upgrade}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`,
      );
      expect(answer.status).toBe(status);
      expect(s.upstream.state.requests.length).toBe(before);
    });
  }
});
