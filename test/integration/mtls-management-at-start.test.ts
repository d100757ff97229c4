import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startFakeUpstream } from '../support/fake-upstream/index.js';
import type { FakeUpstream } from '../support/fake-upstream/index.js';
import { mtlsGatewayConf } from '../support/mtls-gateway.js';
import { startTestGateway } from '../support/test-gateway.js';
import type { TestGateway } from '../support/test-gateway.js';

interface Ready {
  ready: boolean;
  management?: { loggedIn: boolean; lastError?: string };
}

/**
 * With mTLS, the gateway logs in to the management API once at start: wrong credentials show as a
 * warning and in /ready before the first device needs auto-accept, without stopping the gateway.
 */
describe('mTLS management login at start', () => {
  let upstream: FakeUpstream;
  const gateways: TestGateway[] = [];

  beforeAll(async () => {
    upstream = await startFakeUpstream();
  });
  afterAll(async () => {
    for (const gw of gateways) await gw.close();
    await upstream.close();
  });

  async function start(mtls: Record<string, unknown>): Promise<TestGateway> {
    const conf = await mtlsGatewayConf(upstream, upstream.pki.ca.certPath, mtls, {
      HTTP: { Enabled: true, Listen: '127.0.0.1:0' },
    });
    const gw = await startTestGateway(conf);
    gateways.push(gw);
    return gw;
  }

  async function ready(gw: TestGateway): Promise<{ status: number; body: Ready }> {
    const res = await request(`${gw.httpUrl!}/api/internal/v1/gateway/ready`);
    return { status: res.statusCode, body: (await res.body.json()) as Ready };
  }

  it('right credentials: logged in before any device, shown in /ready', async () => {
    const gw = await start({});
    await gw.logs.waitFor((l) => l.msg === 'logged in to the management API');
    const { status, body } = await ready(gw);
    expect(status).toBe(200);
    expect(body.management).toEqual({ loggedIn: true });
  });

  it('a wrong password: a warning at start and the reason in /ready; the gateway stays up and ready', async () => {
    const gw = await start({ MenderPassword: 'not-the-password' });
    const warning = await gw.logs.waitFor((l) => l.msg.startsWith('mTLS: management login failed at start'));
    expect(warning.level).toBe('warn');
    expect(JSON.stringify(warning)).not.toContain('not-the-password');
    const { status, body } = await ready(gw);
    expect(status).toBe(200);
    expect(body.management?.loggedIn).toBe(false);
    expect(body.management?.lastError).toMatch(/management login as the configured user failed with 401/);
  });
});
