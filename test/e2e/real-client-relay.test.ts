import { afterAll, beforeAll, expect, it } from 'vitest';
import { startFakeUpstream } from '../support/fake-upstream/index.js';
import type { FakeUpstream } from '../support/fake-upstream/index.js';
import { startTestGateway } from '../support/test-gateway.js';
import { waitUntil } from '../support/wait-until.js';
import type { TestGateway } from '../support/test-gateway.js';
import {
  assertClientUsable,
  CLIENT_LOG,
  describeWithRealClient,
  expectGenuineAuth,
  startMenderDevice,
} from '../support/mender-device/index.js';
import type { MenderDevice } from '../support/mender-device/index.js';

/**
 * Relay acceptance: an unmodified Mender 3.4 client authenticates, reports inventory and
 * polls for deployments through `serve` over HTTPS, against the fake upstream, which must see
 * the byte-exact auth body with a valid signature.
 */
describeWithRealClient('real Mender client through the gateway over HTTPS', () => {
  let upstream: FakeUpstream;
  let gw: TestGateway;
  let device: MenderDevice;

  beforeAll(async () => {
    assertClientUsable();
    upstream = await startFakeUpstream({ autoAcceptDevices: false });
    const cert = await upstream.pki.issueServer('gateway.fake.test', {
      dns: ['gateway.fake.test'],
      ips: ['127.0.0.1'],
    });
    gw = await startTestGateway({
      HTTP: { Enabled: false },
      HTTPS: {
        Enabled: true,
        Listen: '127.0.0.1:0',
        ServerCertificate: cert.certPath,
        ServerKey: cert.keyPath,
        MinimumTLSVersion: '1.2',
      },
      UpstreamServer: { URL: upstream.url, CACertificate: upstream.pki.ca.certPath },
    });
  });

  afterAll(async () => {
    // Each may be missing when beforeAll failed early (e.g. no real client).
    const d = device as MenderDevice | undefined;
    const g = gw as TestGateway | undefined;
    const u = upstream as FakeUpstream | undefined;
    await d?.destroy();
    await g?.close();
    await u?.close();
  });

  it('authenticates (pending, then accepted), reports inventory and polls deployments/next through serve', async () => {
    device = await startMenderDevice({
      name: 'relay-e2e',
      servers: [gw.httpsUrl!],
      serverCertificate: upstream.pki.ca.certPath,
      keyType: 'ec',
    });
    // First request: unknown device → pending, 401 relayed unchanged (docs/protocol.md §3.1).
    const pending = await upstream.waitForDevice(device.mac, { status: 'pending', timeoutMs: 20_000 });
    expect(
      upstream.state.authRequests.some((r) => r.idData?.mac === device.mac && r.responseStatus === 401),
    ).toBe(true);

    upstream.acceptDevice(pending.id);
    await device.waitForLog(CLIENT_LOG.authenticated, 30_000);
    const auth = expectGenuineAuth(upstream, device);
    // Relayed with the device IP appended, Host rewritten to the upstream host.
    expect(auth.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(auth.headers.host).toBe(new URL(upstream.url).host);

    await device.waitForLog(CLIENT_LOG.inventorySent, 30_000);
    const inventory = upstream.state.inventory.get(pending.id) ?? [];
    expect(inventory.map((a) => a.name)).toEqual(
      expect.arrayContaining(['device_type', 'artifact_name', 'mgw_device_name']),
    );
    // 3.4 sends inventory chunked; it arrived whole.
    const put = upstream.state.inventoryRequests.find(
      (r) => r.deviceId === pending.id && r.responseStatus === 200,
    );
    expect(put?.method).toBe('PUT');

    await waitUntil(
      'a deployments/next poll',
      () => upstream.state.nextRequests.some((r) => r.deviceId === pending.id),
      20_000,
    );
    const polls = upstream.state.nextRequests.filter((r) => r.deviceId === pending.id);
    expect(polls.length).toBeGreaterThan(0);
    expect(polls.every((p) => p.responseStatus === 204)).toBe(true);

    // Every call crossed the gateway: one access line each, nothing at error level.
    expect(
      gw.logs.lines.filter(
        (l) => l.msg === 'request' && l.path === '/api/devices/v1/authentication/auth_requests',
      ).length,
    ).toBeGreaterThanOrEqual(2);
    expect(gw.logs.lines.filter((l) => l.level === 'error')).toEqual([]);
  }, 90_000);
});
