import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mtlsGatewayConf } from '../support/mtls-gateway.js';
import { createPublicKey, verify } from 'node:crypto';
import { Agent, request } from 'undici';
import { DEFAULT_MANAGEMENT, startFakeUpstream } from '../support/fake-upstream/index.js';
import type { FakeUpstream } from '../support/fake-upstream/index.js';
import { createTestPki } from '../support/test-pki.js';
import type { CertPair, TestPki } from '../support/test-pki.js';
import { startTestGateway } from '../support/test-gateway.js';
import type { TestGateway } from '../support/test-gateway.js';
import { SimulatedDevice } from '../support/simulated-device.js';

/**
 * mTLS auto-accept (docs/protocol.md §3.7): a device whose client certificate chains to
 * Features.mTLS.CACertificate is preauthorized through the management API and accepted on its
 * very first auth request; repeats are served from the preauthorization cache.
 */

function spkiDer(pem: string): string {
  return createPublicKey(pem).export({ type: 'spki', format: 'der' }).toString('hex');
}

describe('mTLS auto-accept', () => {
  let upstream: FakeUpstream;
  let devicePki: TestPki;
  let gw: TestGateway;
  let httpsUrl: string;
  let deviceCert: CertPair;
  const agents: Agent[] = [];

  function mtlsAgent(cert: CertPair, options: { connections?: number } = {}): Agent {
    const agent = new Agent({
      connect: { ca: upstream.pki.ca.certPem, cert: cert.certPem, key: cert.keyPem },
      ...(options.connections === undefined ? {} : { connections: options.connections }),
    });
    agents.push(agent);
    return agent;
  }

  function managementCalls(): number {
    return upstream.state.requests.filter((r) => r.path.startsWith('/api/management/')).length;
  }

  async function pollNext(device: SimulatedDevice, dispatcher: Agent): Promise<number> {
    const res = await request(`${httpsUrl}/api/devices/v2/deployments/device/deployments/next`, {
      method: 'POST',
      dispatcher,
      headers: { authorization: `Bearer ${device.jwt ?? ''}`, 'content-type': 'application/json' },
      body: JSON.stringify({ device_provides: { device_type: 'qemux86-64', artifact_name: 'release-1' } }),
    });
    await res.body.dump();
    return res.statusCode;
  }

  beforeAll(async () => {
    upstream = await startFakeUpstream({ autoAcceptDevices: false });
    devicePki = await createTestPki({ name: 'mTLS device CA' });
    deviceCert = await devicePki.issueClient('02:00:00:00:aa:01');
    gw = await startTestGateway(
      await mtlsGatewayConf(upstream, devicePki.ca.certPath, { MenderPassword: undefined }),
      // The password from the environment, as docs/mtls.md recommends.
      { env: { MTLS_MENDER_PASSWORD: DEFAULT_MANAGEMENT.password } },
    );
    httpsUrl = gw.httpsUrl!;
  });

  afterAll(async () => {
    await Promise.all(agents.map((a) => a.close()));
    await gw.close();
    await upstream.close();
    await devicePki.cleanup();
  });

  it('accepts a certified device on its first auth request: one login, one forced preauthorization, byte-exact forward', async () => {
    const device = new SimulatedDevice('02:00:00:00:aa:01');
    // The auth key is not the TLS key: since Mender Gateway 2.0.0 they may differ (§3.2).
    expect(spkiDer(device.publicKeyPem)).not.toBe(spkiDer(deviceCert.certPem));
    const agent = mtlsAgent(deviceCert);

    expect(await device.authenticate(httpsUrl, agent)).toBe(200);
    expect(device.jwt).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);

    expect(upstream.state.managementLogins).toBe(1);
    expect(upstream.state.preauthorizations).toHaveLength(1);
    const preauth = upstream.state.preauthorizations[0]!;
    expect(preauth.responseStatus).toBe(201);
    expect(preauth.identity).toEqual({ mac: '02:00:00:00:aa:01' });
    expect(preauth.force).toBe(true);
    expect(preauth.pubkey).toBeDefined();
    expect(spkiDer(preauth.pubkey!)).toBe(spkiDer(device.publicKeyPem));
    expect(preauth.xForwardedFor).toBe('127.0.0.1');
    // The one login is the gateway's own check at start: no device address to forward.
    expect(upstream.state.managementLoginAttempts[0]?.xForwardedFor).toBeUndefined();

    // The auth request reached upstream after the preauthorization, unchanged.
    expect(upstream.state.authRequests).toHaveLength(1);
    const forwarded = upstream.state.authRequests[0]!;
    expect(forwarded.rawBody.equals(device.authBody())).toBe(true);
    const signature = forwarded.headers['x-men-signature'];
    expect(typeof signature).toBe('string');
    expect(
      verify('sha256', device.authBody(), device.publicKeyPem, Buffer.from(signature as string, 'base64')),
    ).toBe(true);
    expect(forwarded.signatureValid).toBe(true);
    expect(forwarded.responseStatus).toBe(200);
    expect(forwarded.at.getTime()).toBeGreaterThanOrEqual(preauth.at.getTime());
    expect(upstream.device('02:00:00:00:aa:01')?.status).toBe('accepted');

    // Later traffic costs no management call: polls, and a renewed auth request (cache, §3.5).
    const before = managementCalls();
    expect(await pollNext(device, agent)).toBe(204);
    expect(await device.authenticate(httpsUrl, agent)).toBe(200);
    expect(await pollNext(device, agent)).toBe(204);
    expect(await device.authenticate(httpsUrl, mtlsAgent(deviceCert))).toBe(200);
    expect(managementCalls()).toBe(before);
    expect(upstream.state.preauthorizations).toHaveLength(1);
    expect(upstream.state.authRequests).toHaveLength(3);
  });

  it('preauthorizes the new pair after a key rotation (new auth key, new certificate)', async () => {
    const mac = '02:00:00:00:aa:02';
    const first = new SimulatedDevice(mac);
    expect(await first.authenticate(httpsUrl, mtlsAgent(await devicePki.issueClient(mac)))).toBe(200);
    const preauths = upstream.state.preauthorizations.length;

    const rotated = new SimulatedDevice(mac);
    expect(await rotated.authenticate(httpsUrl, mtlsAgent(await devicePki.issueClient(mac)))).toBe(200);
    expect(upstream.state.preauthorizations).toHaveLength(preauths + 1);
    expect(spkiDer(upstream.state.preauthorizations.at(-1)!.pubkey!)).toBe(spkiDer(rotated.publicKeyPem));
    const sets = upstream.device(mac)!.authSets;
    expect(sets).toHaveLength(2);
    // The server keeps one accepted set per device: the rotated key's (MEN-9058).
    expect(sets.find((s) => s.status === 'accepted')?.pubkey).toBe(
      createPublicKey(rotated.publicKeyPem).export({ type: 'spki', format: 'pem' }).toString(),
    );
  });

  it.each(['rsa', 'ed25519'] as const)('accepts a %s client certificate and auth key', async (keyType) => {
    const mac = `02:00:00:00:ab:${keyType === 'rsa' ? '01' : '02'}`;
    const device = new SimulatedDevice(mac, keyType);
    const cert = await devicePki.issueClient(mac, { keyType });
    expect(await device.authenticate(httpsUrl, mtlsAgent(cert))).toBe(200);
    expect(upstream.device(mac)?.status).toBe('accepted');
  });

  it('passes the auth request tier on to the preauthorization (Enterprise, §3.5)', async () => {
    const device = new SimulatedDevice('02:00:00:00:aa:06');
    const body = Buffer.from(
      JSON.stringify({
        id_data: JSON.stringify({ mac: device.mac }),
        pubkey: device.publicKeyPem,
        tenant_token: '',
        tier: 'micro',
      }),
    );
    const res = await request(`${httpsUrl}/api/devices/v1/authentication/auth_requests`, {
      method: 'POST',
      dispatcher: mtlsAgent(deviceCert),
      headers: { 'content-type': 'application/json', 'x-men-signature': device.signature(body) },
      body,
    });
    expect(res.statusCode).toBe(200);
    await res.body.dump();
    const preauth = upstream.state.preauthorizations.at(-1)!;
    expect(JSON.parse(preauth.rawBody.toString('utf8'))).toMatchObject({
      identity_data: { mac: device.mac },
      force: true,
      tier: 'micro',
    });
    expect(upstream.state.authRequests.at(-1)?.rawBody.equals(body)).toBe(true);
  });

  it('preauthorizes again after upstream refused a cached device (an operator rejected it)', async () => {
    const mac = '02:00:00:00:aa:04';
    const device = new SimulatedDevice(mac);
    const agent = mtlsAgent(deviceCert);
    expect(await device.authenticate(httpsUrl, agent)).toBe(200);
    upstream.rejectDevice(mac);
    const preauths = upstream.state.preauthorizations.length;
    // From the cache: no preauthorization, upstream refuses, the gateway forgets the pair…
    expect(await device.authenticate(httpsUrl, agent)).toBe(401);
    expect(upstream.state.preauthorizations).toHaveLength(preauths);
    expect(
      gw.logs.find(
        (l) =>
          l.msg === 'upstream refused a preauthorized device' && (l.identity as { mac?: string }).mac === mac,
      ),
    ).toBeDefined();
    // …so the next request preauthorizes (force) and the device is back: only the blacklist keeps it out (§3.8).
    expect(await device.authenticate(httpsUrl, agent)).toBe(200);
    expect(upstream.state.preauthorizations).toHaveLength(preauths + 1);
  });

  it('never logs the management password, the management token or device tokens, even at debug level', async () => {
    const device = new SimulatedDevice('02:00:00:00:aa:05');
    const agent = mtlsAgent(deviceCert);
    expect(await device.authenticate(httpsUrl, agent)).toBe(200);
    expect(await pollNext(device, agent)).toBe(204);
    // A refused request too: its warning is logged with the request's details.
    const refused = await request(`${httpsUrl}/api/devices/v1/authentication/auth_requests`, {
      method: 'POST',
      dispatcher: agent,
      headers: {
        'content-type': 'application/json',
        'x-men-signature': 'AAAA',
        authorization: `Bearer ${device.jwt ?? ''}`,
      },
      body: device.authBody(),
    });
    expect(refused.statusCode).toBe(401);
    await refused.body.dump();

    const managementTokens = upstream.state.preauthorizations.map((p) =>
      String(p.headers.authorization).replace(/^Bearer /, ''),
    );
    const secrets = [
      DEFAULT_MANAGEMENT.password,
      Buffer.from(`${DEFAULT_MANAGEMENT.username}:${DEFAULT_MANAGEMENT.password}`).toString('base64'),
      ...new Set(managementTokens),
      device.jwt!,
    ];
    expect(managementTokens.length).toBeGreaterThan(0);
    expect(gw.logs.lines.some((l) => l.level === 'debug')).toBe(true);
    const infoOrAbove = gw.logs.raw.filter((raw) => (JSON.parse(raw) as { level: string }).level !== 'debug');
    expect(infoOrAbove.length).toBeGreaterThan(0);
    for (const secret of secrets) {
      for (const raw of infoOrAbove) expect(raw).not.toContain(secret);
      // Debug lines are no place for them either.
      for (const raw of gw.logs.raw) expect(raw).not.toContain(secret);
    }
  });

  it('logs in again once when upstream rejects the management token, and retries the preauthorization', async () => {
    const logins = upstream.state.managementLogins;
    const preauths = upstream.state.preauthorizations.length;
    upstream.revokeManagementTokens();
    const device = new SimulatedDevice('02:00:00:00:aa:03');
    expect(await device.authenticate(httpsUrl, mtlsAgent(deviceCert))).toBe(200);
    expect(upstream.state.managementLogins).toBe(logins + 1);
    expect(upstream.state.preauthorizations.slice(preauths).map((p) => p.responseStatus)).toEqual([401, 201]);
  });
});

describe('mTLS auto-accept under load', () => {
  let upstream: FakeUpstream;
  let devicePki: TestPki;
  let gw: TestGateway;
  const agents: Agent[] = [];

  beforeAll(async () => {
    // Plain HTTP upstream: this test is about the device side. With an upstream CA configured,
    // each new upstream connection re-parses the whole trust store (about 140 roots), which
    // dominates a burst like this one on a small CI machine.
    upstream = await startFakeUpstream({ autoAcceptDevices: false, tls: false });
    devicePki = await createTestPki({ name: 'mTLS device CA' });
    const server = await upstream.pki.issueServer('gateway.test', { ips: ['127.0.0.1'] });
    gw = await startTestGateway(
      {
        UpstreamServer: { URL: upstream.url },
        HTTP: { Enabled: false },
        HTTPS: {
          Enabled: true,
          Listen: '127.0.0.1:0',
          ServerCertificate: server.certPath,
          ServerKey: server.keyPath,
        },
        Features: {
          mTLS: {
            Enabled: true,
            CACertificate: devicePki.ca.certPath,
            MenderUsername: DEFAULT_MANAGEMENT.username,
            MenderPassword: DEFAULT_MANAGEMENT.password,
          },
        },
      },
      { logLevel: 'info' },
    );
  });

  afterAll(async () => {
    await Promise.all(agents.map((a) => a.close()));
    await gw.close();
    await upstream.close();
    await devicePki.cleanup();
  });

  it('accepts 500 concurrent first auth requests with one login and one preauthorization each', async () => {
    const httpsUrl = gw.httpsUrl!;
    // A few certificates shared by many devices: the identity comes from the auth body (§3.8).
    const certs = await Promise.all([1, 2, 3, 4].map((n) => devicePki.issueClient(`batch-cert-${n}`)));
    const dispatchers = certs.map((c) => {
      // One connection per device, as in the field; 500 handshakes at once can take longer than
      // undici's default 10 s connect timeout on a busy 2-core runner.
      const agent = new Agent({
        connect: { ca: upstream.pki.ca.certPem, cert: c.certPem, key: c.keyPem, timeout: 60_000 },
      });
      agents.push(agent);
      return agent;
    });
    const via = (i: number): Agent => dispatchers[i % dispatchers.length]!;
    const devices = Array.from(
      { length: 500 },
      (_, i) =>
        new SimulatedDevice(
          `02:00:01:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}`,
        ),
    );

    const started = performance.now();
    const statuses = await Promise.all(devices.map((d, i) => d.authenticate(httpsUrl, via(i))));
    const elapsed = performance.now() - started;
    console.log(`mTLS: 500 concurrent first auth requests answered in ${Math.round(elapsed)} ms`);

    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    expect(upstream.state.managementLogins).toBe(1);
    expect(upstream.state.managementLoginAttempts).toHaveLength(1);
    expect(upstream.state.preauthorizations).toHaveLength(500);
    expect(upstream.state.preauthorizations.every((p) => p.responseStatus === 201 && p.force)).toBe(true);
    expect(new Set(upstream.state.preauthorizations.map((p) => JSON.stringify(p.identity))).size).toBe(500);
    expect(upstream.state.devices.filter((d) => d.status === 'accepted')).toHaveLength(500);
    expect(gw.logs.lines.filter((l) => l.level === 'error' || l.level === 'fatal')).toEqual([]);

    const managementCalls = (): number =>
      upstream.state.requests.filter((r) => r.path.startsWith('/api/management/')).length;
    const before = managementCalls();
    const polls = await Promise.all(
      devices.map(async (d, i) => {
        const res = await request(
          `${httpsUrl}/api/devices/v1/deployments/device/deployments/next?device_type=qemux86-64&artifact_name=r1`,
          {
            dispatcher: via(i),
            headers: { authorization: `Bearer ${d.jwt ?? ''}` },
          },
        );
        await res.body.dump();
        return res.statusCode;
      }),
    );
    const renewals = await Promise.all(devices.map((d, i) => d.authenticate(httpsUrl, via(i))));
    expect(polls.filter((s) => s !== 204)).toEqual([]);
    expect(renewals.filter((s) => s !== 200)).toEqual([]);
    expect(managementCalls()).toBe(before);
  });
});
