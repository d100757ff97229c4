import { createPublicKey, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { startFakeUpstream } from '../support/fake-upstream/index.js';
import type { FakeUpstream } from '../support/fake-upstream/index.js';
import {
  assertClientUsable,
  buildArtifact,
  CLIENT_LOG as LOG,
  DEFAULT_DEVICE_TYPE,
  describeWithRealClient,
  expectGenuineAuth,
  startMenderDevice,
} from '../support/mender-device/index.js';
import type { MenderDevice, MenderDeviceOptions } from '../support/mender-device/index.js';

/**
 * The harness itself, proven against the fake upstream with no gateway in between: the real
 * Mender 3.4 client authenticates, reports inventory and installs a deployment. Gateway tests
 * build on the same harness, so if this fails, look here first.
 */

describeWithRealClient('real Mender client harness (direct to the fake upstream)', () => {
  let workDir: string;
  let cleanups: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    workDir = await mkdtemp(join(tmpdir(), 'mgw-harness-e2e-'));
  });

  afterEach(async () => {
    // Devices first (reverse order), so no daemon is left talking to a closed server; every
    // cleanup runs even if an earlier one fails.
    const pending = cleanups.reverse();
    cleanups = [];
    const errors: unknown[] = [];
    for (const cleanup of pending) {
      try {
        await cleanup();
      } catch (error) {
        errors.push(error);
      }
    }
    if (errors.length > 0) throw errors[0];
  });

  afterAll(async () => {
    await rm(workDir, { recursive: true, force: true });
  });

  async function upstream(): Promise<FakeUpstream> {
    const server = await startFakeUpstream({ autoAcceptDevices: true });
    cleanups.push(() => server.close());
    return server;
  }

  async function device(
    server: FakeUpstream,
    options: Omit<MenderDeviceOptions, 'servers'>,
  ): Promise<MenderDevice> {
    const started = await startMenderDevice({
      servers: [server.url],
      serverCertificate: server.pki.ca.certPath,
      ...options,
    });
    cleanups.push(() => started.destroy());
    return started;
  }

  it('authenticates, reports inventory, then downloads and installs a deployment', async () => {
    assertClientUsable();
    const server = await upstream();
    const dev = await device(server, { name: 'full-cycle' });

    await dev.waitForLog(LOG.authenticated, 20_000);
    expectGenuineAuth(server, dev);
    const fakeDevice = server.device(dev.mac);
    expect(fakeDevice?.status).toBe('accepted');
    const deviceId = fakeDevice!.id;

    await dev.waitForLog(LOG.inventorySent, 20_000);
    expect(server.state.inventory.get(deviceId)).toEqual(
      expect.arrayContaining([
        { name: 'mgw_device_name', value: 'full-cycle' },
        { name: 'artifact_name', value: 'initial' },
        { name: 'device_type', value: DEFAULT_DEVICE_TYPE },
      ]),
    );

    // Random bytes: nothing in the path could compress or mangle them unnoticed.
    const payload = randomBytes(64 * 1024);
    const built = await buildArtifact({
      name: 'release-1',
      deviceType: DEFAULT_DEVICE_TYPE,
      payload,
      outDir: workDir,
    });
    const artifact = server.addArtifact({
      name: 'release-1',
      deviceTypes: [DEFAULT_DEVICE_TYPE],
      data: built.data,
    });
    const offset = await dev.logSize();
    const deployment = server.createDeployment({ artifactId: artifact.id });

    // One update poll (5 s) plus the cycle itself (~0.1 s here).
    await dev.waitForLog(LOG.deploymentReported, 30_000, offset);
    expect(deployment.devices.get(deviceId)).toBe('success');
    const installed = await readFile(join(dev.installedDir, built.payloadName));
    expect(installed.equals(payload)).toBe(true);
    const reported = server.state.statuses
      .filter((s) => s.deploymentId === deployment.id)
      .map((s) => s.status);
    expect(reported.filter((s, i) => s !== reported[i - 1])).toEqual([
      'downloading',
      'installing',
      'success',
    ]);

    // The inventory pass that follows the update carries the new artifact name.
    await dev.waitForLog(LOG.inventorySent, 15_000, offset);
    expect(server.state.inventory.get(deviceId)).toEqual(
      expect.arrayContaining([{ name: 'artifact_name', value: 'release-1' }]),
    );
  }, 90_000);

  it('authenticates two devices with different key types concurrently', async () => {
    assertClientUsable();
    const server = await upstream();
    const devices = await Promise.all([
      device(server, { name: 'rsa-device', keyType: 'rsa' }),
      device(server, { name: 'ed25519-device', keyType: 'ed25519' }),
    ]);
    await Promise.all(devices.map((d) => d.waitForLog(LOG.authenticated, 20_000)));

    const keyTypes = devices.map((d) => {
      const record = expectGenuineAuth(server, d);
      expect(server.device(d.mac)?.status).toBe('accepted');
      return createPublicKey(record.pubkey ?? '').asymmetricKeyType;
    });
    expect(keyTypes).toEqual(['rsa', 'ed25519']);
    expect(new Set(devices.map((d) => server.device(d.mac)?.id)).size).toBe(2);
  }, 60_000);
});
