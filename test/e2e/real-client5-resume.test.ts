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

const CUT_AFTER = 256 * 1024;

/**
 * A Mender 5.1 download cut mid-way resumes through `serve`. After a cut the client waits a
 * fixed 60 s, then asks the same link with a closed range `bytes=N-(length-1)` and accepts only
 * a 206 with that exact Content-Range:
 * https://github.com/mendersoftware/mender/blob/5.1.0/src/common/http/http_resumer.cpp
 * The cache is off here (proxy mode), so the range the device sent is what storage receives.
 */
describeWithMender5('Mender 5.1 resuming a cut download through serve', () => {
  let site: ServeSite;
  let workDir: string;
  let device: Mender5Device;

  beforeAll(async () => {
    assertMender5Usable();
    site = await startServeSite({ cache: false });
    workDir = await mkdtemp(join(tmpdir(), 'mgw-resume5-e2e-'));
  });

  afterAll(async () => {
    await (device as Mender5Device | undefined)?.destroy();
    await (site as ServeSite | undefined)?.close();
    if ((workDir as string | undefined) !== undefined) await rm(workDir, { recursive: true, force: true });
  });

  it('resumes with Range bytes=N-(length-1) after the cut and installs the update', async () => {
    printLogsOnFailure(() => [device]);
    const { upstream } = site;
    device = await startMender5Device({
      name: 'resume5',
      servers: [site.url],
      serverCertificate: upstream.pki.ca.certPath,
      pollSeconds: { update: 300, inventory: 300, retry: 1 },
    });
    await device.waitForLog('auth', MENDER5_LOG.authenticated, 60_000);

    const payload = randomBytes(2 * 1024 * 1024);
    const built = await buildArtifact({
      name: 'release-resume5',
      deviceType: DEFAULT_DEVICE_TYPE,
      payload,
      outDir: workDir,
    });
    const artifact = upstream.addArtifact({
      name: 'release-resume5',
      deviceTypes: [DEFAULT_DEVICE_TYPE],
      data: built.data,
    });
    // Storage drops the first response after CUT_AFTER body bytes; the gateway must pass the cut on.
    upstream.storageFaults.abortAfterBytes = CUT_AFTER;
    upstream.storageFaults.abortTimes = 1;
    const deployment = upstream.createDeployment({ artifactId: artifact.id });
    const offset = await device.logSize('update');
    device.checkUpdate();

    await device.waitForLog('update', /msg="Resuming download after \d+ seconds/, 60_000, offset);
    // The fixed 60 s wait of the client, plus the install.
    expect(await waitForDeploymentResult(upstream, device.mac, deployment.id, 150_000)).toBe('success');
    expect(await installedPayloadMatches(device.installedDir, built.payloadName, payload)).toBe(true);

    const gets = upstream.state.requests.filter(
      (r) => r.host === 'storage' && r.method === 'GET' && r.path.endsWith(`/${artifact.id}`),
    );
    expect(gets.map((r) => r.status)).toEqual([200, 206]);
    expect(gets[0]!.headers.range).toBeUndefined();
    const range = /^bytes=(\d+)-(\d+)$/.exec(String(gets[1]!.headers.range));
    expect(range).not.toBeNull();
    const [start, end] = [Number(range![1]), Number(range![2])];
    expect(end).toBe(built.size - 1);
    expect(start).toBeGreaterThan(0);
    expect(start).toBeLessThanOrEqual(CUT_AFTER);
    const storage = upstream.state.storage.perArtifact.get(artifact.id)!;
    expect(storage.fullDownloadsStarted).toBe(1);
    expect(storage.rangeRequests).toBe(1);
    // The gateway answered the resume itself with 206 for exactly the remaining bytes.
    const resumed = site.serve.logs.lines.find(
      (l) =>
        l.msg === 'request' &&
        String(l.path).startsWith('/api/devices/v1/gateway/artifacts/') &&
        l.status === 206,
    );
    expect(resumed?.bytes).toBe(built.size - start);
  }, 240_000);
});
