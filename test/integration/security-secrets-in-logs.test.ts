import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mtlsGatewayConf } from '../support/mtls-gateway.js';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import type { Dispatcher } from 'undici';
import { DEFAULT_MANAGEMENT, startFakeUpstream } from '../support/fake-upstream/index.js';
import type { FakeUpstream } from '../support/fake-upstream/index.js';
import { freePort } from '../support/free-port.js';
import type { LogLine } from '../support/log-capture.js';
import { createTestPki } from '../support/test-pki.js';
import type { CertPair, TestPki } from '../support/test-pki.js';
import { startTestGateway } from '../support/test-gateway.js';
import type { TestGateway } from '../support/test-gateway.js';
import { SimulatedDevice, pollNext } from '../support/simulated-device.js';

/**
 * No secret in the logs: across a realistic session — mTLS auto-accept
 * (management login with the password, preauthorizations with the management JWT), device JWTs,
 * inventory with Device System, deployments/next rewritten to signed cache links, cache fills
 * (one broken by storage), hits, Range resumes, status and log reports, a forged link, revoked
 * management and device tokens, and a second gateway with a wrong password — no line above
 * debug level carries the management password, a management or device JWT, the
 * SignatureSecret (in any encoding), a presigned storage signature (X-Amz-Signature) or a
 * gateway link signature. The gateway logs at debug level here so every line is produced.
 */

const DEVICE_TYPE = 'mgw-secrets';
const PASSWORD = `pw-${randomBytes(12).toString('hex')}`;
const WRONG_PASSWORD = `wrong-${randomBytes(12).toString('hex')}`;
const SECRET_BYTES = randomBytes(32);
const SECRET = SECRET_BYTES.toString('base64');

describe('no secret in the logs across a realistic session', () => {
  let upstream: FakeUpstream;
  let devicePki: TestPki;
  let gw: TestGateway;
  let wrongGw: TestGateway | undefined;
  let gatewayUrl: string;
  let server: CertPair;
  let cacheDir: string;
  const agents: Agent[] = [];
  const secrets = new Map<string, string>();

  const note = (what: string, value: string | undefined): void => {
    if (value !== undefined && value.length >= 8 && !secrets.has(value)) secrets.set(value, what);
  };

  function agentFor(cert: CertPair): Agent {
    const agent = new Agent({
      connect: { ca: upstream.pki.ca.certPem, cert: cert.certPem, key: cert.keyPem },
    });
    agents.push(agent);
    return agent;
  }

  async function download(
    url: string,
    dispatcher: Dispatcher,
    headers: Record<string, string> = {},
  ): Promise<number> {
    const res = await request(url, { dispatcher, headers });
    await res.body.dump().catch(() => undefined);
    return res.statusCode;
  }

  beforeAll(async () => {
    upstream = await startFakeUpstream({
      autoAcceptDevices: false,
      management: { username: DEFAULT_MANAGEMENT.username, password: PASSWORD },
    });
    devicePki = await createTestPki({ name: 'secrets device CA' });
    server = await upstream.pki.issueServer('gateway.test', { dns: ['gateway.test'], ips: ['127.0.0.1'] });
    cacheDir = await mkdtemp(join(tmpdir(), 'mgw-secrets-cache-'));
    const port = await freePort();
    gatewayUrl = `https://127.0.0.1:${port}`;
    gw = await startTestGateway(
      {
        UpstreamServer: { URL: upstream.url, CACertificate: upstream.pki.ca.certPath },
        HTTP: { Enabled: false },
        HTTPS: {
          Enabled: true,
          Listen: `127.0.0.1:${port}`,
          ServerCertificate: server.certPath,
          ServerKey: server.keyPath,
        },
        Features: {
          mTLS: {
            Enabled: true,
            CACertificate: devicePki.ca.certPath,
            MenderUsername: DEFAULT_MANAGEMENT.username,
            // In the file, where a careless loader would echo it.
            MenderPassword: PASSWORD,
          },
          ArtifactsProxy: {
            Enabled: true,
            GatewayURL: gatewayUrl,
            DomainWhitelist: ['127.0.0.2'],
            ArtifactsCache: { Enabled: true, Path: cacheDir, SignatureSecret: SECRET },
          },
          DeviceSystem: { Enabled: true, SystemID: 'site-secret' },
        },
      },
      { logLevel: 'debug' },
    );
  });

  afterAll(async () => {
    await Promise.all(agents.map((a) => a.close()));
    await wrongGw?.close();
    await gw.close();
    await upstream.close();
    await devicePki.cleanup();
    await rm(cacheDir, { recursive: true, force: true });
  });

  it('runs the session', async () => {
    note('management password', PASSWORD);
    note('management password (wrong, second gateway)', WRONG_PASSWORD);
    note('SignatureSecret (base64)', SECRET);
    note('SignatureSecret (base64url)', SECRET_BYTES.toString('base64url'));
    note('SignatureSecret (hex)', SECRET_BYTES.toString('hex'));

    // 1. A certified device is auto-accepted: management login, preauthorization.
    const certA = await devicePki.issueClient('02:00:00:00:5e:a1');
    const agentA = agentFor(certA);
    const deviceA = new SimulatedDevice('02:00:00:00:5e:a1');
    expect(await deviceA.authenticate(gatewayUrl, agentA)).toBe(200);
    note('device JWT (A)', deviceA.jwt);
    const auth = { authorization: `Bearer ${deviceA.jwt ?? ''}` };

    // 2. Inventory through Device System.
    const inventory = await request(`${gatewayUrl}/api/devices/v1/inventory/device/attributes`, {
      method: 'PATCH',
      dispatcher: agentA,
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify([{ name: 'device_type', value: DEVICE_TYPE }]),
    });
    expect(inventory.statusCode).toBe(200);
    await inventory.body.dump();

    // 3. A deployment: signed cache link, full download (fill), hit, Range resume.
    const provides = { device_type: DEVICE_TYPE, artifact_name: 'release-0' };
    const artifact = upstream.addArtifact({
      name: 'secret-1',
      deviceTypes: [DEVICE_TYPE],
      data: randomBytes(256 * 1024),
    });
    const deployment = upstream.createDeployment({ artifactId: artifact.id });
    const next = await pollNext(gatewayUrl, deviceA, provides, 'v2-post', {}, agentA);
    expect(next.status).toBe(200);
    const link = new URL(next.json!.artifact.source.uri);
    note('gateway link signature', link.searchParams.get('x-men-signature') ?? undefined);
    note(
      'gateway link origin (carries the presigned URL)',
      link.searchParams.get('x-men-origin') ?? undefined,
    );
    const presigned = new URL(Buffer.from(link.searchParams.get('x-men-origin')!, 'base64url').toString());
    note('X-Amz-Signature', presigned.searchParams.get('X-Amz-Signature') ?? undefined);
    note('X-Amz-Credential', presigned.searchParams.get('X-Amz-Credential') ?? undefined);
    note('presigned query', presigned.search.slice(1));
    expect(await download(link.href, agentA)).toBe(200);
    expect(await download(link.href, agentA)).toBe(200);
    expect(await download(link.href, agentA, { range: 'bytes=1000-' })).toBe(206);

    // 4. Status and log reports.
    const base = `${gatewayUrl}/api/devices/v1/deployments/device/deployments/${deployment.id}`;
    for (const [path, body] of [
      ['status', { status: 'downloading' }],
      ['log', { messages: [{ timestamp: new Date().toISOString(), level: 'info', message: 'fine' }] }],
      ['status', { status: 'failure' }],
    ] as const) {
      const res = await request(`${base}/${path}`, {
        method: 'PUT',
        dispatcher: agentA,
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      expect(res.statusCode).toBe(204);
      await res.body.dump();
    }

    // 5. Storage breaks a fill: warnings and errors are logged, never the presigned URL.
    upstream.storageFaults.abortAfterBytes = 10_000;
    upstream.storageFaults.abortTimes = 1;
    const broken = upstream.addArtifact({
      name: 'secret-2',
      deviceTypes: [DEVICE_TYPE],
      data: randomBytes(128 * 1024),
    });
    upstream.abortDeployment(deployment.id);
    upstream.createDeployment({ artifactId: broken.id });
    const brokenNext = await pollNext(gatewayUrl, deviceA, provides, 'v2-post', {}, agentA);
    const brokenLink = new URL(brokenNext.json!.artifact.source.uri);
    const brokenOrigin = new URL(
      Buffer.from(brokenLink.searchParams.get('x-men-origin')!, 'base64url').toString(),
    );
    note('X-Amz-Signature (second link)', brokenOrigin.searchParams.get('X-Amz-Signature') ?? undefined);
    note('gateway link signature (second link)', brokenLink.searchParams.get('x-men-signature') ?? undefined);
    await download(brokenLink.href, agentA).catch(() => 0);
    delete upstream.storageFaults.abortAfterBytes;
    expect(await download(brokenLink.href, agentA)).toBe(200);

    // 6. A forged link (403 at warn level).
    const forged = new URL(brokenLink);
    forged.searchParams.set('x-men-signature', 'A'.repeat(43));
    expect(await download(forged.href, agentA)).toBe(403);

    // 7. Upstream revokes the management token: the gateway logs in again for the next device.
    note(
      'management JWT',
      (upstream.state.preauthorizations.at(-1)?.headers.authorization ?? '').replace(/^Bearer /, ''),
    );
    upstream.revokeManagementTokens();
    const certB = await devicePki.issueClient('02:00:00:00:5e:b2');
    const deviceB = new SimulatedDevice('02:00:00:00:5e:b2');
    expect(await deviceB.authenticate(gatewayUrl, agentFor(certB))).toBe(200);
    note('device JWT (B)', deviceB.jwt);
    note(
      'management JWT (after re-login)',
      (upstream.state.preauthorizations.at(-1)?.headers.authorization ?? '').replace(/^Bearer /, ''),
    );
    expect(upstream.state.managementLogins).toBeGreaterThanOrEqual(2);

    // 8. A revoked device token: 401 at warn level, then re-authentication.
    upstream.revokeDeviceTokens('02:00:00:00:5e:a1');
    expect((await pollNext(gatewayUrl, deviceA, provides, 'v2-post', {}, agentA)).status).toBe(401);
    expect(await deviceA.authenticate(gatewayUrl, agentA)).toBe(200);
    note('device JWT (A, renewed)', deviceA.jwt);

    // 9. A second gateway configured with a wrong password: its refused login is logged too.
    wrongGw = await startTestGateway(
      await mtlsGatewayConf(upstream, devicePki.ca.certPath, { MenderPassword: undefined }),
      { logLevel: 'debug', env: { MTLS_MENDER_PASSWORD: WRONG_PASSWORD } },
    );
    const certC = await devicePki.issueClient('02:00:00:00:5e:c3');
    const deviceC = new SimulatedDevice('02:00:00:00:5e:c3');
    expect(await deviceC.authenticate(wrongGw.httpsUrl!, agentFor(certC))).toBeGreaterThanOrEqual(500);
    expect(wrongGw.logs.lines.some((l) => l.level === 'warn' || l.level === 'error')).toBe(true);
  });

  /** Every (line, secret) pair where the secret appears in the line's JSON. */
  function leaks(lines: readonly LogLine[], raw: readonly string[]): { what: string; line: string }[] {
    const found: { what: string; line: string }[] = [];
    lines.forEach((line, i) => {
      const text = raw[i] ?? JSON.stringify(line);
      for (const [value, what] of secrets) {
        // Also the JSON-escaped spelling (a base64 "/" stays "/", but be strict about escapes).
        if (text.includes(value) || text.includes(JSON.stringify(value).slice(1, -1)))
          found.push({ what, line: text });
      }
    });
    return found;
  }

  it('collected the secrets to look for', () => {
    const kinds = [...secrets.values()];
    for (const kind of [
      'management password',
      'device JWT (A)',
      'device JWT (B)',
      'management JWT',
      'management JWT (after re-login)',
      'SignatureSecret (base64)',
      'X-Amz-Signature',
      'X-Amz-Signature (second link)',
      'gateway link signature',
    ]) {
      expect(kinds).toContain(kind);
    }
    expect(gw.logs.lines.some((l) => l.level === 'warn')).toBe(true);
    expect(gw.logs.lines.some((l) => l.msg === 'cache fill finished')).toBe(true);
    // Positive control: the search does find a secret inside a log line.
    for (const [value, what] of secrets) {
      const line = JSON.stringify({ level: 'warn', msg: 'control', url: `https://x/?a=${value}` });
      expect(leaks([JSON.parse(line) as LogLine], [line]).map((l) => l.what)).toContain(what);
    }
  });

  it('logs none of them at info, warn or error level', () => {
    const above = (logs: TestGateway['logs']): { lines: LogLine[]; raw: string[] } => {
      const keep = logs.lines.map((l) => l.level !== 'debug');
      return { lines: logs.lines.filter((_, i) => keep[i]), raw: logs.raw.filter((_, i) => keep[i]) };
    };
    const main = above(gw.logs);
    expect(main.lines.length).toBeGreaterThan(20);
    expect(leaks(main.lines, main.raw)).toEqual([]);
    if (wrongGw !== undefined) {
      const second = above(wrongGw.logs);
      expect(leaks(second.lines, second.raw)).toEqual([]);
    }
  });

  it('logs none of them at debug level either', () => {
    expect(leaks(gw.logs.lines, gw.logs.raw)).toEqual([]);
  });
});
