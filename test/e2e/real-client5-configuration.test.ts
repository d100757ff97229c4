import { afterAll, beforeAll, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServeSite } from '../support/serve-site.js';
import type { ServeSite } from '../support/serve-site.js';
import {
  buildArtifact,
  DEFAULT_DEVICE_TYPE,
  installedPayloadMatches,
  waitForDeploymentResult,
} from '../support/mender-device/index.js';
import {
  assertMender5Usable,
  describeWithMender5,
  MENDER5_LOG,
  printLogsOnFailure,
  startMender5Device,
} from '../support/mender5-device/index.js';
import type { Mender5Device } from '../support/mender5-device/index.js';

const CONFIGURATION_PATH = '/api/devices/v1/deployments/download/configuration/';

/**
 * A configuration deployment (mender-configure) to a Mender 5.1 device through `serve`: its
 * download link points at the Mender server itself, signed with an HMAC in the query, and is
 * fetched without a JWT and without Range. The gateway rewrites the link to itself with path
 * and query byte-exact and relays the download, never through storage or the cache
 * (docs/protocol.md §4.7).
 */
describeWithMender5('configuration-deployment link of a Mender 5.1 device through serve', () => {
  let site: ServeSite;
  let workDir: string;
  let device: Mender5Device;

  beforeAll(async () => {
    assertMender5Usable();
    site = await startServeSite();
    workDir = await mkdtemp(join(tmpdir(), 'mgw-config5-e2e-'));
  });

  afterAll(async () => {
    await (device as Mender5Device | undefined)?.destroy();
    await (site as ServeSite | undefined)?.close();
    if ((workDir as string | undefined) !== undefined) await rm(workDir, { recursive: true, force: true });
  });

  it('relays the link on the upstream host to the device, which installs the configuration', async () => {
    printLogsOnFailure(() => [device]);
    const { upstream } = site;
    device = await startMender5Device({
      name: 'config5',
      servers: [site.url],
      serverCertificate: upstream.pki.ca.certPath,
      pollSeconds: { update: 300, inventory: 300, retry: 1 },
    });
    await device.waitForLog('auth', MENDER5_LOG.authenticated, 60_000);

    const payload = Buffer.from(`${JSON.stringify({ timezone: 'Europe/Oslo', mgw: 'configuration' })}\n`);
    const built = await buildArtifact({
      name: 'configuration-5',
      deviceType: DEFAULT_DEVICE_TYPE,
      payload,
      payloadName: 'mender-configure.json',
      outDir: workDir,
    });
    const artifact = upstream.addArtifact({
      name: 'configuration-5',
      deviceTypes: [DEFAULT_DEVICE_TYPE],
      data: built.data,
    });
    const deployment = upstream.createDeployment({ artifactId: artifact.id, configuration: true });
    device.checkUpdate();

    expect(await waitForDeploymentResult(upstream, device.mac, deployment.id, 120_000)).toBe('success');
    expect(await installedPayloadMatches(device.installedDir, built.payloadName, payload)).toBe(true);

    // The server itself saw one download with its signed query intact: no JWT, no Range.
    expect(upstream.state.configurationDownloads.length).toBe(1);
    const download = upstream.state.configurationDownloads[0]!;
    expect(download.status).toBe(200);
    expect(download.deploymentId).toBe(deployment.id);
    expect(download.deviceId).toBe(upstream.device(device.mac)!.id);
    expect(download.url).toMatch(/\?x-men-expire=[^&]+&x-men-signature=[^&]+&tenant_id=/);
    expect(download.headers.authorization).toBeUndefined();
    expect(download.headers.range).toBeUndefined();
    expect(download.headers.host).toBe(new URL(upstream.url).host);
    // The device fetched it from the gateway, whole; storage and the cache took no part.
    const relayed = site.serve.logs.lines.filter(
      (l) => l.msg === 'request' && String(l.path).startsWith(CONFIGURATION_PATH),
    );
    expect(relayed.map((l) => [l.status, l.bytes])).toEqual([[200, built.size]]);
    expect(upstream.state.storage.requests).toBe(0);
  }, 180_000);
});
