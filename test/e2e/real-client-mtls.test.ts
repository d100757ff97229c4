import { afterAll, beforeAll, expect, it } from 'vitest';
import { X509Certificate, createPublicKey, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { issueCaFiles, issueDeviceFiles, issueServerFiles } from '../../src/core/pki/index.js';
import { DEFAULT_MANAGEMENT, startFakeUpstream } from '../support/fake-upstream/index.js';
import type { FakeUpstream } from '../support/fake-upstream/index.js';
import { freePort } from '../support/free-port.js';
import { startTestGateway } from '../support/test-gateway.js';
import type { TestGateway } from '../support/test-gateway.js';
import {
  assertClientUsable,
  buildArtifact,
  CLIENT_LOG,
  DEFAULT_DEVICE_TYPE,
  describeWithRealClient,
  startMenderDevice,
} from '../support/mender-device/index.js';
import type { MenderDevice } from '../support/mender-device/index.js';

const KEY_TYPES = [
  { keyType: 'rsa', mac: '02:00:00:00:aa:01' },
  { keyType: 'ecdsa', mac: '02:00:00:00:aa:02' },
  { keyType: 'ed25519', mac: '02:00:00:00:aa:03' },
] as const;

/**
 * mTLS acceptance: real Mender 3.4 clients presenting device certificates made by
 * `cert issue device` (RSA, P-256, Ed25519), signed by a CA from `cert issue ca`, are accepted
 * automatically through a gateway serving a certificate from `cert issue server`: one
 * management login, one preauthorization per device with its identity and auth key, then a
 * complete deployment.
 */
describeWithRealClient('mTLS auto-accept with real clients and cert issue certificates', () => {
  let upstream: FakeUpstream;
  let gw: TestGateway;
  let pki: string;
  let ca: { certificatePath: string; keyPath: string };
  let server: { certificatePath: string };
  const devices: MenderDevice[] = [];

  beforeAll(async () => {
    assertClientUsable();
    upstream = await startFakeUpstream({ autoAcceptDevices: false });
    pki = await mkdtemp(join(tmpdir(), 'mgw-mtls-e2e-'));
    ca = (await issueCaFiles({ outDir: pki, commonName: 'Test Site Device CA' })).certificates[0]!;
    server = (
      await issueServerFiles({
        outDir: pki,
        caCertificatePath: ca.certificatePath,
        caKeyPath: ca.keyPath,
        dns: ['gateway.site.test'],
        ip: ['127.0.0.1'],
      })
    ).certificates[0]!;
    const port = await freePort();
    gw = await startTestGateway({
      HTTP: { Enabled: false },
      HTTPS: {
        Enabled: true,
        Listen: `127.0.0.1:${port}`,
        ServerCertificate: server.certificatePath,
        ServerKey: join(pki, 'server.key'),
      },
      UpstreamServer: { URL: upstream.url, CACertificate: upstream.pki.ca.certPath },
      Features: {
        mTLS: {
          Enabled: true,
          CACertificate: ca.certificatePath,
          MenderUsername: DEFAULT_MANAGEMENT.username,
          MenderPassword: DEFAULT_MANAGEMENT.password,
        },
        ArtifactsProxy: {
          Enabled: true,
          GatewayURL: `https://127.0.0.1:${port}`,
          DomainWhitelist: ['127.0.0.2'],
          ArtifactsCache: {
            Enabled: true,
            Path: join(pki, 'cache'),
            SignatureSecret: randomBytes(32).toString('base64'),
          },
        },
      },
    });
  });

  afterAll(async () => {
    await Promise.all(devices.map((d) => d.destroy()));
    await (gw as TestGateway | undefined)?.close();
    await (upstream as FakeUpstream | undefined)?.close();
    await rm(pki, { recursive: true, force: true });
  });

  it('serves the certificate made by cert issue server', async () => {
    const served = await new Promise<X509Certificate>((resolve, reject) => {
      // No client certificate: the handshake is refused after the server sent its certificate.
      const socket = connect(
        {
          host: '127.0.0.1',
          port: Number(new URL(gw.httpsUrl!).port),
          rejectUnauthorized: false,
          servername: 'gateway.site.test',
        },
        () => {
          const cert = socket.getPeerX509Certificate();
          socket.destroy();
          if (cert === undefined) reject(new Error('no server certificate'));
          else resolve(cert);
        },
      );
      socket.on('error', reject);
    });
    const issued = new X509Certificate(await readFile(server.certificatePath));
    expect(served.fingerprint256).toBe(issued.fingerprint256);
  });

  it('accepts RSA, P-256 and Ed25519 devices automatically and updates them', async () => {
    for (const { keyType, mac } of KEY_TYPES) {
      const dir = join(pki, keyType);
      const issued = (
        await issueDeviceFiles({
          outDir: dir,
          caCertificatePath: ca.certificatePath,
          caKeyPath: ca.keyPath,
          identity: `mac=${mac}`,
          keyType,
          ...(keyType === 'rsa' ? { rsaBits: 2048 } : {}),
        })
      ).certificates[0]!;
      devices.push(
        await startMenderDevice({
          name: `mtls-${keyType}`,
          mac,
          servers: [gw.httpsUrl!],
          serverCertificate: ca.certificatePath,
          clientCertificate: { certPath: issued.certificatePath, keyPath: issued.keyPath },
        }),
      );
    }
    await Promise.all(devices.map((d) => d.waitForLog(CLIENT_LOG.authenticated, 60_000)));

    // No operator accepted anything: one login, one preauthorization per device, with the
    // device's identity and the key it signs auth requests with (here its certificate key).
    expect(upstream.state.managementLogins).toBe(1);
    expect(upstream.state.preauthorizations.length).toBe(3);
    for (const d of devices) {
      const preauth = upstream.state.preauthorizations.find(
        (p) => (p.identity as { mac?: string } | undefined)?.mac === d.mac,
      );
      expect(preauth?.force).toBe(true);
      expect(preauth?.xForwardedFor).toBe('127.0.0.1');
      expect(createPublicKey(preauth!.pubkey!).export({ type: 'spki', format: 'pem' })).toBe(
        createPublicKey(d.publicKeyPem).export({ type: 'spki', format: 'pem' }),
      );
      expect(upstream.device(d.mac)?.status).toBe('accepted');
    }
    const keyTypes = devices.map((d) => createPublicKey(d.publicKeyPem).asymmetricKeyType);
    expect(keyTypes).toEqual(['rsa', 'ec', 'ed25519']);

    const payload = randomBytes(128 * 1024);
    const built = await buildArtifact({
      name: 'mtls-release-1',
      deviceType: DEFAULT_DEVICE_TYPE,
      payload,
      outDir: pki,
    });
    const artifact = upstream.addArtifact({
      name: 'mtls-release-1',
      deviceTypes: [DEFAULT_DEVICE_TYPE],
      data: built.data,
    });
    const offsets = await Promise.all(devices.map((d) => d.logSize()));
    const deployment = upstream.createDeployment({ artifactId: artifact.id });
    await Promise.all(devices.map((d, i) => d.waitForLog(CLIENT_LOG.deploymentReported, 90_000, offsets[i])));
    for (const d of devices) {
      expect(deployment.devices.get(upstream.device(d.mac)!.id)).toBe('success');
      expect((await readFile(join(d.installedDir, built.payloadName))).equals(payload)).toBe(true);
    }
    // The mid-deployment re-authentication was served from the preauthorization cache.
    expect(upstream.state.managementLogins).toBe(1);
    expect(upstream.state.preauthorizations.length).toBe(3);
  }, 180_000);
});
