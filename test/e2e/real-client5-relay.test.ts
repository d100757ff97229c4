import { afterAll, beforeAll, expect, it } from 'vitest';
import { startServeSite } from '../support/serve-site.js';
import type { ServeSite } from '../support/serve-site.js';
import { waitUntil } from '../support/wait-until.js';
import {
  assertMender5Usable,
  describeWithMender5,
  expectGenuineAuth5,
  MENDER5_LOG,
  printLogsOnFailure,
  startMender5Device,
} from '../support/mender5-device/index.js';
import type { Mender5Device } from '../support/mender5-device/index.js';

/**
 * The current Mender client (5.1, C++) through the built `serve` over HTTPS: it authenticates
 * (pending, then accepted), reports inventory and polls deployments/next. Everything it sends
 * passes mender-auth's local forwarder, on a new TLS connection per call.
 */
describeWithMender5('Mender 5.1 client through serve: auth and inventory', () => {
  let site: ServeSite;
  let device: Mender5Device;

  beforeAll(async () => {
    assertMender5Usable();
    site = await startServeSite({ upstream: { autoAcceptDevices: false } });
  });

  afterAll(async () => {
    await (device as Mender5Device | undefined)?.destroy();
    await (site as ServeSite | undefined)?.close();
  });

  it('authenticates with a byte-exact signed body, reports inventory and polls deployments/next', async () => {
    printLogsOnFailure(() => [device]);
    const { upstream } = site;
    device = await startMender5Device({
      name: 'relay5',
      servers: [site.url],
      serverCertificate: upstream.pki.ca.certPath,
      pollSeconds: { update: 2, inventory: 2, retry: 1 },
    });
    // Unknown device: pending, and the upstream 401 reaches the client unchanged.
    const pending = await upstream.waitForDevice(device.mac, { status: 'pending', timeoutMs: 30_000 });
    expect(
      upstream.state.authRequests.some((r) => r.idData?.mac === device.mac && r.responseStatus === 401),
    ).toBe(true);

    upstream.acceptDevice(pending.id);
    await device.waitForLog('auth', MENDER5_LOG.authenticated, 60_000);
    const auth = expectGenuineAuth5(upstream, device);
    // The new field of current clients, inside the signed bytes.
    expect(JSON.parse(auth.rawBody.toString('utf8'))).toMatchObject({ tier: 'standard' });
    expect(auth.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(auth.headers.host).toBe(new URL(upstream.url).host);

    await waitUntil(
      'an accepted inventory update',
      () =>
        upstream.state.inventoryRequests.some((r) => r.deviceId === pending.id && r.responseStatus === 200),
      60_000,
    );
    const put = upstream.state.inventoryRequests.find(
      (r) => r.deviceId === pending.id && r.responseStatus === 200,
    )!;
    expect(put.method).toBe('PUT');
    const attributes = new Map(
      (upstream.state.inventory.get(pending.id) ?? []).map((a) => [a.name, a.value]),
    );
    expect(attributes.get('device_type')).toBe('mgw-test-device');
    expect(attributes.get('artifact_name')).toBe('initial');
    expect(attributes.get('mgw_device_name')).toBe('relay5');
    expect(attributes.get('mender_client_version')).toBe('5.1.0');

    const before = upstream.state.nextRequests.length;
    device.checkUpdate();
    await waitUntil(
      'a deployments/next poll after SIGUSR1',
      () => upstream.state.nextRequests.slice(before).some((r) => r.deviceId === pending.id),
      30_000,
    );
    const poll = upstream.state.nextRequests.slice(before).find((r) => r.deviceId === pending.id)!;
    expect(poll.variant).toBe('v2-post');
    expect(poll.provides).toMatchObject({ artifact_name: 'initial', device_type: 'mgw-test-device' });
    expect(poll.responseStatus).toBe(204);

    expect(site.serve.logs.lines.filter((l) => l.level === 'error')).toEqual([]);
  }, 150_000);
});

/**
 * Against an open-source server (no v2 deployments/next) and with DeviceSystem on: 5.1 falls
 * back to v1 only because the gateway relays the upstream 404 (a 405 or 501 would fail its
 * check), and its inventory PUT reaches upstream with the gateway's attributes added.
 */
describeWithMender5('Mender 5.1 client through serve: v1 fallback and DeviceSystem', () => {
  let site: ServeSite;
  let device: Mender5Device;

  beforeAll(async () => {
    assertMender5Usable();
    site = await startServeSite({
      upstream: { v2Next: false },
      features: {
        DeviceSystem: {
          Enabled: true,
          SystemID: 'site-5',
          DefaultInventory: [{ Name: 'region', Value: 'north' }],
        },
      },
    });
  });

  afterAll(async () => {
    await (device as Mender5Device | undefined)?.destroy();
    await (site as ServeSite | undefined)?.close();
  });

  it('polls v1 after the upstream 404 on v2, and its inventory carries the system id', async () => {
    printLogsOnFailure(() => [device]);
    const { upstream } = site;
    device = await startMender5Device({
      name: 'relay5-oss',
      servers: [site.url],
      serverCertificate: upstream.pki.ca.certPath,
      pollSeconds: { update: 300, inventory: 300, retry: 1 },
    });
    await device.waitForLog('auth', MENDER5_LOG.authenticated, 60_000);
    const id = (await upstream.waitForDevice(device.mac, { status: 'accepted' })).id;

    await waitUntil(
      'an accepted inventory update',
      () => upstream.state.inventoryRequests.some((r) => r.deviceId === id && r.responseStatus === 200),
      60_000,
    );
    const put = upstream.state.inventoryRequests.find((r) => r.deviceId === id && r.responseStatus === 200)!;
    expect(put.method).toBe('PUT');
    const attributes = new Map((upstream.state.inventory.get(id) ?? []).map((a) => [a.name, a.value]));
    expect(attributes.get('mender_gateway_system_id')).toBe('site-5');
    expect(attributes.get('region')).toBe('north');
    expect(attributes.get('mender_client_version')).toBe('5.1.0');

    const before = upstream.state.nextRequests.length;
    device.checkUpdate();
    await waitUntil(
      'the v1 poll after the v2 404',
      () =>
        upstream.state.nextRequests.slice(before).some((r) => r.deviceId === id && r.variant === 'v1-get'),
      30_000,
    );
    const polls = upstream.state.nextRequests.slice(before).filter((r) => r.deviceId === id);
    expect(polls.slice(0, 2).map((r) => [r.variant, r.responseStatus])).toEqual([
      ['v2-post', 404],
      ['v1-get', 204],
    ]);
    expect(polls[1]!.provides).toMatchObject({ artifact_name: 'initial', device_type: 'mgw-test-device' });
  }, 150_000);
});
