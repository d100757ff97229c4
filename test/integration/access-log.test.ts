import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startLoopbackServer } from '../support/loopback-server.js';
import type { LoopbackServer } from '../support/loopback-server.js';
import { startTestGateway } from '../support/test-gateway.js';
import type { TestGateway } from '../support/test-gateway.js';

/** The access line's `bytes` is what the device received, whoever wrote the body. */
describe('access-log bytes', () => {
  let upstream: LoopbackServer;
  let gw: TestGateway;

  beforeAll(async () => {
    upstream = await startLoopbackServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"relayed":true}');
    });
    gw = await startTestGateway({ UpstreamServer: { URL: upstream.url } });
  });
  afterAll(async () => {
    await gw.close();
    await upstream.close();
  });

  for (const [what, path, status] of [
    ['a gateway-generated 404', '/api/management/v1/useradm/users', 404],
    ['a gateway-generated 400', '/api/devices/v1/a%5cb', 400],
    ['a relayed answer', '/api/devices/v1/deviceconfig/configuration', 200],
  ] as const) {
    it(`counts the body of ${what}`, async () => {
      const res = await request(`${gw.url}${path}`);
      const body = Buffer.from(await res.body.arrayBuffer());
      expect(res.statusCode).toBe(status);
      expect(body.length).toBeGreaterThan(0);
      const line = await gw.logs.waitFor((l) => l.msg === 'request' && l.path === path);
      expect(line.status).toBe(status);
      expect(line.bytes).toBe(body.length);
    });
  }
});
