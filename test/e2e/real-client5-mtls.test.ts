import { afterAll, beforeAll, expect, it } from 'vitest';
import { createPublicKey, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { issueCaFiles, issueDeviceFiles } from '../../src/core/pki/index.js';
import { DEFAULT_MANAGEMENT } from '../support/fake-upstream/index.js';
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
  expectGenuineAuth5,
  MENDER5_LOG,
  printLogsOnFailure,
  startMender5Device,
} from '../support/mender5-device/index.js';
import type { Mender5Device } from '../support/mender5-device/index.js';

const spki = (pem: string): string => createPublicKey(pem).export({ type: 'spki', format: 'pem' }).toString();

/**
 * mTLS auto-accept with the current client: a Mender 5.1 device presents a certificate from
 * `cert issue device` (`HttpsClient` in mender.conf) and is accepted without an operator, then
 * updates. 5.1 signs auth requests with its own `mender-agent.pem`, not the certificate key
 * (https://github.com/mendersoftware/mender/blob/5.1.0/src/mender-auth/cli/actions.cpp), so the
 * gateway must preauthorize the key of the auth request.
 */
describeWithMender5('mTLS auto-accept of a Mender 5.1 device through serve', () => {
  let site: ServeSite;
  let pki: string;
  let device: Mender5Device;

  beforeAll(async () => {
    assertMender5Usable();
    pki = await mkdtemp(join(tmpdir(), 'mgw-mtls5-e2e-'));
    const ca = (await issueCaFiles({ outDir: pki, commonName: 'Test Site Device CA' })).certificates[0]!;
    site = await startServeSite({
      upstream: { autoAcceptDevices: false },
      features: {
        mTLS: {
          Enabled: true,
          CACertificate: ca.certificatePath,
          MenderUsername: DEFAULT_MANAGEMENT.username,
          MenderPassword: DEFAULT_MANAGEMENT.password,
        },
      },
    });
    const mac = '02:00:00:00:5a:01';
    const issued = (
      await issueDeviceFiles({
        outDir: join(pki, 'device'),
        caCertificatePath: ca.certificatePath,
        caKeyPath: ca.keyPath,
        identity: `mac=${mac}`,
        keyType: 'ecdsa',
      })
    ).certificates[0]!;
    device = await startMender5Device({
      name: 'mtls5',
      mac,
      servers: [site.url],
      serverCertificate: site.upstream.pki.ca.certPath,
      clientCertificate: { certPath: issued.certificatePath, keyPath: issued.keyPath },
      pollSeconds: { update: 300, inventory: 300, retry: 1 },
    });
  });

  afterAll(async () => {
    await (device as Mender5Device | undefined)?.destroy();
    await (site as ServeSite | undefined)?.close();
    if ((pki as string | undefined) !== undefined) await rm(pki, { recursive: true, force: true });
  });

  it('is accepted without an operator and installs a deployment', async () => {
    printLogsOnFailure(() => [device]);
    const { upstream } = site;
    await device.waitForLog('auth', MENDER5_LOG.authenticated, 60_000);
    expect(upstream.state.managementLogins).toBe(1);
    expect(upstream.state.preauthorizations.length).toBe(1);
    const preauth = upstream.state.preauthorizations[0]!;
    expect(preauth.identity).toEqual({ mac: device.mac });
    expect(preauth.force).toBe(true);
    expect(spki(preauth.pubkey!)).toBe(spki(device.publicKeyPem));
    expect(upstream.device(device.mac)?.status).toBe('accepted');
    // Forwarded byte-exact after the preauthorization: the server verified the signature.
    expectGenuineAuth5(upstream, device);

    const payload = randomBytes(256 * 1024);
    const built = await buildArtifact({
      name: 'mtls5-release',
      deviceType: DEFAULT_DEVICE_TYPE,
      payload,
      outDir: pki,
    });
    const artifact = upstream.addArtifact({
      name: 'mtls5-release',
      deviceTypes: [DEFAULT_DEVICE_TYPE],
      data: built.data,
    });
    const deployment = upstream.createDeployment({ artifactId: artifact.id });
    device.checkUpdate();
    expect(await waitForDeploymentResult(upstream, device.mac, deployment.id, 120_000)).toBe('success');
    expect(await installedPayloadMatches(device.installedDir, built.payloadName, payload)).toBe(true);
    // 5.1 re-authenticates before the commit; the gateway's preauthorization still covers it.
    expect(upstream.state.managementLogins).toBe(1);
    expect(upstream.state.preauthorizations.length).toBe(1);
  }, 240_000);
});
