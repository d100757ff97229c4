import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mtlsGatewayConf } from '../support/mtls-gateway.js';
import type { ServerResponse } from 'node:http';
import { Agent, request } from 'undici';
import { DEFAULT_MANAGEMENT, startFakeUpstream } from '../support/fake-upstream/index.js';
import type { FakeUpstream } from '../support/fake-upstream/index.js';
import { createTestPki } from '../support/test-pki.js';
import type { CertPair, TestPki } from '../support/test-pki.js';
import { startTestGateway } from '../support/test-gateway.js';
import type { TestGateway } from '../support/test-gateway.js';
import { SimulatedDevice } from '../support/simulated-device.js';

/**
 * Failures of the management API while auto-accepting (docs/protocol.md §3.4, §3.7 step 6): the
 * device gets 503 + Retry-After or 502, never a crash, and the gateway does not hammer upstream.
 */

const PREAUTH_PATH = '/api/management/v2/devauth/devices';
const LOGIN_PATH = '/api/management/v1/useradm/auth/login';

async function startMtlsGateway(
  upstream: FakeUpstream,
  devicePki: TestPki,
  password: string,
  extra: Record<string, unknown> = {},
): Promise<TestGateway> {
  return startTestGateway(
    await mtlsGatewayConf(upstream, devicePki.ca.certPath, { MenderPassword: password, ...extra }),
  );
}

/** Auth request with the answer's headers, which SimulatedDevice.authenticate does not return. */
async function authenticate(
  url: string,
  device: SimulatedDevice,
  dispatcher: Agent,
): Promise<{ status: number; retryAfter: string | undefined; error: string | undefined }> {
  const body = device.authBody();
  const res = await request(`${url}/api/devices/v1/authentication/auth_requests`, {
    method: 'POST',
    dispatcher,
    headers: { 'content-type': 'application/json', 'x-men-signature': device.signature(body) },
    body,
  });
  const text = await res.body.text();
  if (res.statusCode === 200) device.jwt = text;
  const retryAfter = res.headers['retry-after'];
  return {
    status: res.statusCode,
    retryAfter: typeof retryAfter === 'string' ? retryAfter : undefined,
    error: res.statusCode === 200 ? undefined : (JSON.parse(text) as { error: string }).error,
  };
}

describe('mTLS: the management API rate-limits preauthorization', () => {
  let upstream: FakeUpstream;
  let devicePki: TestPki;
  let gw: TestGateway;
  let cert: CertPair;
  let agent: Agent;

  beforeAll(async () => {
    upstream = await startFakeUpstream({ autoAcceptDevices: false });
    devicePki = await createTestPki({ name: 'mTLS device CA' });
    gw = await startMtlsGateway(upstream, devicePki, DEFAULT_MANAGEMENT.password);
    cert = await devicePki.issueClient('02:00:00:00:cc:01');
    agent = new Agent({ connect: { ca: upstream.pki.ca.certPem, cert: cert.certPem, key: cert.keyPem } });
  });

  afterAll(async () => {
    await agent.close();
    await gw.close();
    await upstream.close();
    await devicePki.cleanup();
  });

  it('answers 503 with Retry-After, backs off without calling upstream, and recovers', async () => {
    const preauthCalls = (): number => upstream.state.requests.filter((r) => r.path === PREAUTH_PATH).length;
    const removeFault = upstream.intercept((req, res: ServerResponse) => {
      if (req.url !== PREAUTH_PATH) return false;
      req.resume();
      res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '1' });
      res.end(JSON.stringify({ error: 'too many requests' }));
      return true;
    });
    const device = new SimulatedDevice('02:00:00:00:cc:01');
    const first = await authenticate(gw.httpsUrl!, device, agent);
    expect(first.status).toBe(503);
    expect(first.retryAfter).toBe('1');
    expect(first.error).toMatch(/preauthorization answered 429/);
    expect(preauthCalls()).toBe(1);
    expect(upstream.state.authRequests).toHaveLength(0);

    // During the back-off other devices are answered at once, without a management call.
    const other = await authenticate(gw.httpsUrl!, new SimulatedDevice('02:00:00:00:cc:02'), agent);
    expect(other.status).toBe(503);
    expect(Number(other.retryAfter)).toBeGreaterThanOrEqual(1);
    expect(preauthCalls()).toBe(1);

    removeFault();
    const alive = await request(`${gw.httpsUrl!}/api/internal/v1/gateway/alive`, { dispatcher: agent });
    expect(alive.statusCode).toBe(204);
    await alive.body.dump();

    // Retry as a device would once the back-off is over (Retry-After: 1 s).
    const deadline = Date.now() + 10_000;
    let answer = await authenticate(gw.httpsUrl!, device, agent);
    while (answer.status === 503 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, Number(answer.retryAfter ?? 1) * 250));
      answer = await authenticate(gw.httpsUrl!, device, agent);
    }
    expect(answer.status).toBe(200);
    expect(preauthCalls()).toBe(2);
    expect(upstream.state.preauthorizations.at(-1)?.responseStatus).toBe(201);
    expect(gw.logs.find((l) => l.level === 'warn' && l.code === 'MGW_UPSTREAM_BUSY')).toBeDefined();
  });
});

describe('mTLS: wrong management credentials', () => {
  const wrongPassword = 'not-the-Password-42';
  let upstream: FakeUpstream;
  let devicePki: TestPki;
  let gw: TestGateway;
  let agent: Agent;

  beforeAll(async () => {
    upstream = await startFakeUpstream({ autoAcceptDevices: false });
    devicePki = await createTestPki({ name: 'mTLS device CA' });
    gw = await startMtlsGateway(upstream, devicePki, wrongPassword);
    const cert = await devicePki.issueClient('02:00:00:00:cc:10');
    agent = new Agent({ connect: { ca: upstream.pki.ca.certPem, cert: cert.certPem, key: cert.keyPem } });
  });

  afterAll(async () => {
    await agent.close();
    await gw.close();
    await upstream.close();
    await devicePki.cleanup();
  });

  it('answers 502, names the problem in the log, and never logs the password', async () => {
    const answer = await authenticate(gw.httpsUrl!, new SimulatedDevice('02:00:00:00:cc:10'), agent);
    expect(answer.status).toBe(502);
    expect(answer.error).toMatch(/management login .* failed with 401/);
    // The check at start, then the device's: a failed check does not make devices wait.
    expect(upstream.state.managementLoginAttempts).toHaveLength(2);
    expect(upstream.state.managementLoginAttempts[1]).toMatchObject({
      username: DEFAULT_MANAGEMENT.username,
      ok: false,
    });
    expect(
      upstream.state.requests.filter(
        (r) => r.path === PREAUTH_PATH || r.path === '/api/devices/v1/authentication/auth_requests',
      ),
    ).toEqual([]);

    const line = gw.logs.find((l) => l.code === 'MGW_MANAGEMENT_LOGIN');
    expect(line?.level).toBe('warn');
    expect(line?.msg).toMatch(/management login as the configured user failed with 401/);

    const basic = Buffer.from(`${DEFAULT_MANAGEMENT.username}:${wrongPassword}`).toString('base64');
    for (const raw of gw.logs.raw) {
      expect(raw).not.toContain(wrongPassword);
      expect(raw).not.toContain(basic);
    }
    expect(upstream.state.requests.filter((r) => r.path === LOGIN_PATH)).toHaveLength(2);
  });

  it('backs off after a refused login: the next devices get 503 with Retry-After, no new login attempt', async () => {
    const answers = await Promise.all(
      ['02:00:00:00:cc:11', '02:00:00:00:cc:12', '02:00:00:00:cc:13'].map((mac) =>
        authenticate(gw.httpsUrl!, new SimulatedDevice(mac), agent),
      ),
    );
    for (const answer of answers) {
      expect(answer.status).toBe(503);
      expect(answer.error).toMatch(/backing off/);
    }
    // The check at start and the first device's login; none since.
    expect(upstream.state.managementLoginAttempts).toHaveLength(2);
  });
});

describe('mTLS with EnableCache: false', () => {
  let upstream: FakeUpstream;
  let devicePki: TestPki;
  let gw: TestGateway;
  let agent: Agent;

  beforeAll(async () => {
    upstream = await startFakeUpstream({ autoAcceptDevices: false });
    devicePki = await createTestPki({ name: 'mTLS device CA' });
    gw = await startMtlsGateway(upstream, devicePki, DEFAULT_MANAGEMENT.password, { EnableCache: false });
    const cert = await devicePki.issueClient('02:00:00:00:cc:20');
    agent = new Agent({ connect: { ca: upstream.pki.ca.certPem, cert: cert.certPem, key: cert.keyPem } });
  });

  afterAll(async () => {
    await agent.close();
    await gw.close();
    await upstream.close();
    await devicePki.cleanup();
  });

  it('preauthorizes on every auth request, still with a single login', async () => {
    const device = new SimulatedDevice('02:00:00:00:cc:20');
    for (let i = 0; i < 3; i++) expect((await authenticate(gw.httpsUrl!, device, agent)).status).toBe(200);
    expect(upstream.state.preauthorizations).toHaveLength(3);
    expect(upstream.state.managementLogins).toBe(1);
  });
});
