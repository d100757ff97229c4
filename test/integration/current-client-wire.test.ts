import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { startFakeUpstream } from '../support/fake-upstream/index.js';
import type { FakeUpstream } from '../support/fake-upstream/index.js';
import { SECRET } from '../support/cache-scenario.js';
import { mtlsGatewayConf } from '../support/mtls-gateway.js';
import { pollNext, SimulatedDevice } from '../support/simulated-device.js';
import { startTestGateway } from '../support/test-gateway.js';
import type { TestGateway } from '../support/test-gateway.js';
import { createTestPki } from '../support/test-pki.js';

/**
 * What current clients (Mender 4.x/5.x, C++) and servers put on the wire, relayed unchanged by
 * the gateway, with and without the features that intercept a path. Client behaviour from
 * https://github.com/mendersoftware/mender/blob/5.1.0/src/mender-update/deployments/deployments.cpp
 * and https://github.com/mendersoftware/mender/blob/5.1.0/src/mender-auth/api/auth/auth.cpp;
 * summarised in docs/protocol.md §8.4.
 */

const NEXT_V2 = '/api/devices/v2/deployments/device/deployments/next';
const INVENTORY = '/api/devices/v1/inventory/device/attributes';
const PROVIDES = { device_type: 'mgw-sim', artifact_name: 'release-0' };

/** A device whose auth body is 5.1's: compact, keys in order, `tier`, no trailing newline. */
class CurrentClientDevice extends SimulatedDevice {
  override authBody(): Buffer {
    return Buffer.from(
      JSON.stringify({
        id_data: JSON.stringify({ mac: this.mac }),
        pubkey: this.publicKeyPem,
        tenant_token: 'tenant-token-of-the-device',
        tier: 'standard',
      }),
    );
  }
}

/** Gateways to check each behaviour against: the plain relay, and every intercepting feature on. */
const GATEWAYS: [string, (cacheDir: string) => Record<string, unknown>][] = [
  ['the plain relay', () => ({})],
  [
    'ArtifactsProxy with the cache and DeviceSystem',
    (cacheDir) => ({
      Features: {
        ArtifactsProxy: {
          Enabled: true,
          GatewayURL: 'http://127.0.0.1:1',
          DomainWhitelist: ['127.0.0.2'],
          ArtifactsCache: { Enabled: true, Path: cacheDir, SignatureSecret: SECRET },
        },
        DeviceSystem: {
          Enabled: true,
          SystemID: 'site-5',
          DefaultInventory: [{ Name: 'region', Value: 'north' }],
        },
      },
    }),
  ],
];

describe.each(GATEWAYS)('current-client wire behaviour through %s', (_name, features) => {
  let upstream: FakeUpstream;
  let gw: TestGateway;
  let cacheDir: string;
  let device: CurrentClientDevice;

  beforeAll(async () => {
    upstream = await startFakeUpstream({ autoAcceptDevices: true });
    cacheDir = await mkdtemp(join(tmpdir(), 'mgw-wire-'));
    gw = await startTestGateway({
      UpstreamServer: { URL: upstream.url, CACertificate: upstream.pki.ca.certPath },
      ...features(cacheDir),
    });
    device = new CurrentClientDevice('02:00:00:00:51:01');
    expect(await device.authenticate(gw.url)).toBe(200);
  });

  afterAll(async () => {
    await gw.close();
    await upstream.close();
    await rm(cacheDir, { recursive: true, force: true });
  });

  /** Make the upstream answer one request path with a fixed response; returns the remover. */
  function upstreamAnswers(
    method: string,
    path: string | RegExp,
    status: number,
    headers: Record<string, string> = {},
  ): { remove: () => void; body: Buffer } {
    const body = Buffer.from(
      JSON.stringify({ error: `upstream says ${status}`, request_id: 'upstream-req-1' }),
    );
    const remove = upstream.intercept((req, res) => {
      const reqPath = (req.url ?? '/').split('?')[0]!;
      if (req.method !== method || !(typeof path === 'string' ? reqPath === path : path.test(reqPath)))
        return false;
      res.writeHead(status, {
        'content-type': 'application/json; charset=utf-8',
        'content-length': body.length,
        ...headers,
      });
      res.end(body);
      return true;
    });
    return { remove, body };
  }

  async function call(
    method: 'POST' | 'PUT' | 'GET',
    path: string,
    body?: string,
    auth = `Bearer ${device.jwt ?? ''}`,
  ): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
    const res = await request(`${gw.url}${path}`, {
      method,
      headers: { authorization: auth, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body }),
    });
    return { status: res.statusCode, headers: res.headers, body: Buffer.from(await res.body.arrayBuffer()) };
  }

  it('passes an auth body with the new fields (tier, tenant_token) byte-exact, so its signature holds', async () => {
    const other = new CurrentClientDevice('02:00:00:00:51:02');
    expect(await other.authenticate(gw.url)).toBe(200);
    const record = upstream.state.authRequests.find((r) => r.idData?.mac === other.mac)!;
    expect(record.rawBody.equals(other.authBody())).toBe(true);
    expect(record.signatureValid).toBe(true);
    expect(record.tenantToken).toBe('tenant-token-of-the-device');
  });

  it.each([404, 405, 501])(
    'answers POST v2 deployments/next with the upstream %i itself, never one of its own',
    async (status) => {
      const { remove, body } = upstreamAnswers('POST', NEXT_V2, status);
      try {
        const answer = await pollNext(gw.url, device, PROVIDES, 'v2-post');
        expect(answer.status).toBe(status);
        expect(answer.body.equals(body)).toBe(true);
        expect(answer.headers['x-men-requestid']).toBeDefined();
      } finally {
        remove();
      }
    },
  );

  it('lets a client fall back to v1 after an upstream 404 on v2 (open-source servers)', async () => {
    const v1only = await startFakeUpstream({ autoAcceptDevices: true, v2Next: false, pki: upstream.pki });
    const gw1 = await startTestGateway({
      UpstreamServer: { URL: v1only.url, CACertificate: v1only.pki.ca.certPath },
      ...features(cacheDir),
    });
    try {
      const d = new CurrentClientDevice('02:00:00:00:51:03');
      expect(await d.authenticate(gw1.url)).toBe(200);
      expect((await pollNext(gw1.url, d, PROVIDES, 'v2-post')).status).toBe(404);
      expect((await pollNext(gw1.url, d, PROVIDES, 'v1-get')).status).toBe(204);
      expect(v1only.state.nextRequests.map((r) => [r.variant, r.responseStatus])).toEqual([
        ['v2-post', 404],
        ['v1-get', 204],
      ]);
    } finally {
      await gw1.close();
      await v1only.close();
    }
  });

  it.each([
    ['POST', '/api/devices/v1/authentication/auth_requests'],
    ['POST', NEXT_V2],
    ['PUT', INVENTORY],
    ['PUT', '/api/devices/v1/deployments/device/deployments/d-1/status'],
  ] as const)('relays 429 with Retry-After for %s %s as it came', async (method, path) => {
    const { remove, body } = upstreamAnswers(method, path, 429, { 'retry-after': '120' });
    try {
      const payload =
        path === INVENTORY
          ? JSON.stringify([{ name: 'device_type', value: 'mgw-sim' }])
          : path === NEXT_V2
            ? JSON.stringify({ device_provides: PROVIDES })
            : JSON.stringify({ status: 'downloading' });
      const answer = await call(method, path, payload);
      expect(answer.status).toBe(429);
      expect(answer.headers['retry-after']).toBe('120');
      expect(answer.body.equals(body)).toBe(true);
    } finally {
      remove();
    }
  });

  it('relays 409 for a status report of an aborted deployment', async () => {
    const artifact = upstream.addArtifact({
      name: 'release-409',
      deviceTypes: ['mgw-sim'],
      data: Buffer.alloc(8192, 1),
    });
    const deployment = upstream.createDeployment({ artifactId: artifact.id, deviceIds: [device.mac] });
    expect((await pollNext(gw.url, device, PROVIDES, 'v2-post')).status).toBe(200);
    upstream.abortDeployment(deployment.id);
    const answer = await call(
      'PUT',
      `/api/devices/v1/deployments/device/deployments/${deployment.id}/status`,
      JSON.stringify({ status: 'installing' }),
    );
    expect(answer.status).toBe(409);
    expect(JSON.parse(answer.body.toString('utf8'))).toMatchObject({
      error: 'deployment: deployment aborted',
    });
  });

  it('relays 413 for deployment logs too large', async () => {
    const { remove, body } = upstreamAnswers('PUT', /\/deployments\/[^/]+\/log$/, 413);
    try {
      const messages = [
        { timestamp: new Date().toISOString(), level: 'error', message: 'x'.repeat(64 * 1024) },
      ];
      const answer = await call(
        'PUT',
        '/api/devices/v1/deployments/device/deployments/d-413/log',
        JSON.stringify({ messages }),
      );
      expect(answer.status).toBe(413);
      expect(answer.body.equals(body)).toBe(true);
    } finally {
      remove();
    }
  });
});

describe('current-client auth body through the mTLS auto-accept path', () => {
  it('forwards the 5.1 body byte-exact after preauthorizing its key', async () => {
    const upstream = await startFakeUpstream({ autoAcceptDevices: false });
    const devicePki = await createTestPki({ name: 'wire mTLS device CA' });
    const gw = await startTestGateway(await mtlsGatewayConf(upstream, devicePki.ca.certPath));
    const cert = await devicePki.issueClient('02:00:00:00:51:10');
    const agent = new Agent({
      connect: { ca: upstream.pki.ca.certPem, cert: cert.certPem, key: cert.keyPem },
    });
    try {
      const device = new CurrentClientDevice('02:00:00:00:51:10');
      expect(await device.authenticate(gw.httpsUrl!, agent)).toBe(200);
      const record = upstream.state.authRequests.find(
        (r) => r.idData?.mac === device.mac && r.responseStatus === 200,
      )!;
      expect(record.rawBody.equals(device.authBody())).toBe(true);
      expect(record.signatureValid).toBe(true);
      expect(upstream.state.preauthorizations).toHaveLength(1);
    } finally {
      await agent.close();
      await gw.close();
      await upstream.close();
      await devicePki.cleanup();
    }
  });
});

describe('DeviceSystem injection into the inventory of current clients', () => {
  let upstream: FakeUpstream;
  let gw: TestGateway;
  let device: CurrentClientDevice;

  beforeAll(async () => {
    upstream = await startFakeUpstream({ autoAcceptDevices: true });
    gw = await startTestGateway({
      UpstreamServer: { URL: upstream.url, CACertificate: upstream.pki.ca.certPath },
      Features: {
        DeviceSystem: {
          Enabled: true,
          SystemID: 'site-5',
          DefaultInventory: [{ Name: 'region', Value: 'north' }],
        },
      },
    });
    device = new CurrentClientDevice('02:00:00:00:51:20');
    expect(await device.authenticate(gw.url)).toBe(200);
  });

  afterAll(async () => {
    await gw.close();
    await upstream.close();
  });

  // 4.x/5.x send PUT with compact JSON sorted by name and string values; the microcontroller
  // client (mender-mcu) sends PATCH.
  it.each(['PUT', 'PATCH'] as const)('adds the system id and defaults to a %s', async (method) => {
    const before = upstream.state.inventoryRequests.length;
    const sent = [
      { name: 'artifact_name', value: 'release-0' },
      { name: 'device_type', value: 'mgw-sim' },
      { name: 'mender_client_version', value: '5.1.0' },
    ];
    const res = await request(`${gw.url}${INVENTORY}`, {
      method,
      headers: { authorization: `Bearer ${device.jwt ?? ''}`, 'content-type': 'application/json' },
      body: JSON.stringify(sent),
    });
    await res.body.dump();
    expect(res.statusCode).toBe(200);
    const record = upstream.state.inventoryRequests[before]!;
    expect(record.method).toBe(method);
    expect(record.contentLengthMatched).not.toBe(false);
    const received = JSON.parse(record.rawBody.toString('utf8')) as { name: string; value: unknown }[];
    expect(received).toEqual(
      expect.arrayContaining([
        ...sent,
        { name: 'mender_gateway_system_id', value: 'site-5' },
        { name: 'region', value: 'north' },
      ]),
    );
  });
});
