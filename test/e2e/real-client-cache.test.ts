import { afterAll, beforeAll, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startCacheScenario } from '../support/cache-scenario.js';
import type { CacheScenario } from '../support/cache-scenario.js';
import { BIN } from '../support/serve-process.js';
import {
  assertClientUsable,
  buildArtifact,
  CLIENT_LOG,
  DEFAULT_DEVICE_TYPE,
  describeWithRealClient,
  installedPayloadMatches,
  startMenderDevice,
  waitForDeploymentResult,
} from '../support/mender-device/index.js';
import type { MenderDevice } from '../support/mender-device/index.js';

const run = promisify(execFile);

/**
 * Artifact cache acceptance: three real Mender 3.4 clients update from one deployment through the
 * cache with exactly one storage download; after a gateway restart a fourth updates from the
 * cache with zero new storage bytes; `cache ls` shows the artifact by name with its hits.
 */
describeWithRealClient('real Mender clients updating through the artifact cache', () => {
  let s: CacheScenario;
  let workDir: string;
  const devices: MenderDevice[] = [];

  beforeAll(async () => {
    assertClientUsable();
    s = await startCacheScenario({ tls: true });
    workDir = await mkdtemp(join(tmpdir(), 'mgw-cache-e2e-'));
  });

  afterAll(async () => {
    await Promise.all(devices.map((d) => d.destroy()));
    await (s as CacheScenario | undefined)?.close();
    await rm(workDir, { recursive: true, force: true });
  });

  async function device(name: string): Promise<MenderDevice> {
    const d = await startMenderDevice({
      name,
      servers: [s.gatewayUrl],
      serverCertificate: s.upstream.pki.ca.certPath,
      deviceType: DEFAULT_DEVICE_TYPE,
    });
    devices.push(d);
    return d;
  }

  async function expectUpdated(
    d: MenderDevice,
    deploymentId: string,
    payload: Buffer,
    payloadName: string,
  ): Promise<void> {
    expect(await waitForDeploymentResult(s.upstream, d.mac, deploymentId, 60_000)).toBe('success');
    expect(await installedPayloadMatches(d.installedDir, payloadName, payload)).toBe(true);
  }

  it('three devices, one storage download; after a restart a fourth device costs no storage bytes', async () => {
    const first = await Promise.all(['cache-dev-1', 'cache-dev-2', 'cache-dev-3'].map((n) => device(n)));
    await Promise.all(first.map((d) => d.waitForLog(CLIENT_LOG.authenticated, 30_000)));

    const payload = randomBytes(1024 * 1024);
    const built = await buildArtifact({
      name: 'release-cache-1',
      deviceType: DEFAULT_DEVICE_TYPE,
      payload,
      outDir: workDir,
    });
    const artifact = s.upstream.addArtifact({
      name: 'release-cache-1',
      deviceTypes: [DEFAULT_DEVICE_TYPE],
      data: built.data,
    });
    const deployment = s.upstream.createDeployment({ artifactId: artifact.id });

    await Promise.all(first.map((d) => expectUpdated(d, deployment.id, payload, built.payloadName)));
    const storage = s.upstream.state.storage.perArtifact.get(artifact.id)!;
    expect(storage.fullDownloadsStarted).toBe(1);
    expect(storage.rangeRequests).toBe(0);
    const bytesAfterThree = storage.bytesSent;
    expect(bytesAfterThree).toBe(built.size);

    await s.restartGateway();
    const fourth = await device('cache-dev-4');
    await expectUpdated(fourth, deployment.id, payload, built.payloadName);
    expect(s.upstream.state.storage.perArtifact.get(artifact.id)!.bytesSent).toBe(bytesAfterThree);
    expect(s.upstream.state.storage.perArtifact.get(artifact.id)!.fullDownloadsStarted).toBe(1);

    // The operator's view, from the CLI, while serve runs...
    const ls = async (): Promise<{ artifactName: string; hits: number; state: string }[]> => {
      const { stdout } = await run(process.execPath, [BIN, 'cache', 'ls', '--path', s.cacheDir, '--json']);
      return (JSON.parse(stdout) as { entries: { artifactName: string; hits: number; state: string }[] })
        .entries;
    };
    expect((await ls()).find((e) => e.artifactName === 'release-cache-1')?.state).toBe('complete');
    // ...and after a stop, which flushes the hit counters the gateway keeps in memory.
    await s.gw.gateway.close();
    const entry = (await ls()).find((e) => e.artifactName === 'release-cache-1');
    expect(entry?.hits).toBeGreaterThanOrEqual(1);
  }, 180_000);
});
