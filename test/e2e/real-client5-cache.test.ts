import { afterAll, beforeAll, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
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

/**
 * Three Mender 5.1 devices take one deployment through the built `serve` with the artifact
 * cache on: storage serves the artifact once, every device reports success and holds the
 * payload. 5.1 downloads without keep-alive and with its own TLS handshake per call.
 */
describeWithMender5('Mender 5.1 clients updating through the artifact cache of serve', () => {
  let site: ServeSite;
  let workDir: string;
  const devices: Mender5Device[] = [];

  beforeAll(async () => {
    assertMender5Usable();
    site = await startServeSite();
    workDir = await mkdtemp(join(tmpdir(), 'mgw-cache5-e2e-'));
  });

  afterAll(async () => {
    await Promise.all(devices.map((d) => d.destroy()));
    await (site as ServeSite | undefined)?.close();
    if ((workDir as string | undefined) !== undefined) await rm(workDir, { recursive: true, force: true });
  });

  it('three devices, one deployment, exactly one storage download, all report success', async () => {
    printLogsOnFailure(() => devices);
    const { upstream } = site;
    for (const name of ['cache5-dev-1', 'cache5-dev-2', 'cache5-dev-3']) {
      devices.push(
        await startMender5Device({
          name,
          servers: [site.url],
          serverCertificate: upstream.pki.ca.certPath,
          // Long update interval: the deployment is picked up on SIGUSR1, not by a poll.
          pollSeconds: { update: 300, inventory: 300, retry: 1 },
        }),
      );
    }
    await Promise.all(devices.map((d) => d.waitForLog('auth', MENDER5_LOG.authenticated, 60_000)));

    const payload = randomBytes(1024 * 1024);
    const built = await buildArtifact({
      name: 'release-cache5-1',
      deviceType: DEFAULT_DEVICE_TYPE,
      payload,
      outDir: workDir,
    });
    const artifact = upstream.addArtifact({
      name: 'release-cache5-1',
      deviceTypes: [DEFAULT_DEVICE_TYPE],
      data: built.data,
    });
    const deployment = upstream.createDeployment({ artifactId: artifact.id });
    for (const d of devices) d.checkUpdate();

    const results = await Promise.all(
      devices.map((d) => waitForDeploymentResult(upstream, d.mac, deployment.id, 120_000)),
    );
    expect(results).toEqual(['success', 'success', 'success']);
    for (const d of devices) {
      expect(await installedPayloadMatches(d.installedDir, built.payloadName, payload)).toBe(true);
      // The client's own view of the end of the deployment.
      await d.waitForLog('update', MENDER5_LOG.deploymentFinished, 30_000);
      expect((await d.log('update')).match(MENDER5_LOG.deploymentFinished)?.[1]).toBe('Success');
    }
    const storage = upstream.state.storage.perArtifact.get(artifact.id)!;
    expect(storage.fullDownloadsStarted).toBe(1);
    expect(storage.rangeRequests).toBe(0);
    expect(storage.bytesSent).toBe(built.size);
    // Each device fetched the artifact from the gateway: one 200 download each, whole.
    const downloads = site.serve.logs.lines.filter(
      (l) => l.msg === 'request' && String(l.path).startsWith('/api/devices/v1/gateway/artifacts/'),
    );
    expect(downloads.filter((l) => l.status === 200 && l.bytes === built.size).length).toBe(3);
  }, 240_000);
});
