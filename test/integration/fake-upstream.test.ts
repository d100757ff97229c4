import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { Readable } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import { gunzipSync } from 'node:zlib';
import { Agent, request } from 'undici';
import type { Dispatcher } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { CONNECT_PATH, DEFAULT_MANAGEMENT, startFakeUpstream } from '../support/fake-upstream/index.js';
import type { FakeUpstream } from '../support/fake-upstream/index.js';

const AUTH_PATH = '/api/devices/v1/authentication/auth_requests';
const INVENTORY_PATH = '/api/devices/v1/inventory/device/attributes';
const NEXT_V1 = '/api/devices/v1/deployments/device/deployments/next';
const NEXT_V2 = '/api/devices/v2/deployments/device/deployments/next';
const LOGIN_PATH = '/api/management/v1/useradm/auth/login';
const PREAUTH_PATH = '/api/management/v2/devauth/devices';

type KeyType = 'rsa' | 'ec' | 'ed25519';

/** A device that signs its auth requests like the real clients (docs/protocol.md §2.1). */
class TestDevice {
  readonly privateKey: KeyObject;
  readonly publicKeyPem: string;
  jwt = '';

  constructor(
    readonly mac: string,
    keyType: KeyType = 'ec',
  ) {
    const pair =
      keyType === 'rsa'
        ? generateKeyPairSync('rsa', { modulusLength: 2048 })
        : keyType === 'ed25519'
          ? generateKeyPairSync('ed25519')
          : generateKeyPairSync('ec', { namedCurve: 'P-256' });
    this.privateKey = pair.privateKey;
    this.publicKeyPem = pair.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  }

  /** 3.x layout: `id_data, tenant_token, pubkey` and a trailing newline. */
  body(): Buffer {
    const idData = JSON.stringify({ mac: this.mac });
    return Buffer.from(
      `${JSON.stringify({ id_data: idData, tenant_token: '', pubkey: this.publicKeyPem })}\n`,
    );
  }

  sign(body: Buffer): string {
    return sign(
      this.privateKey.asymmetricKeyType === 'ed25519' ? null : 'sha256',
      body,
      this.privateKey,
    ).toString('base64');
  }
}

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

async function call(
  dispatcher: Dispatcher,
  url: string,
  options: {
    method?: Dispatcher.HttpMethod;
    headers?: Record<string, string>;
    body?: string | Buffer | Readable;
  } = {},
): Promise<Reply> {
  const res = await request(url, {
    dispatcher,
    method: options.method ?? 'GET',
    headers: options.headers ?? {},
    ...(options.body === undefined ? {} : { body: options.body }),
  });
  return { status: res.statusCode, headers: res.headers, body: Buffer.from(await res.body.arrayBuffer()) };
}

function json(reply: Reply): unknown {
  const text = reply.headers['content-encoding'] === 'gzip' ? gunzipSync(reply.body) : reply.body;
  return JSON.parse(text.toString('utf8'));
}

async function authenticate(
  dispatcher: Dispatcher,
  upstream: FakeUpstream,
  device: TestDevice,
  body = device.body(),
): Promise<Reply> {
  const reply = await call(dispatcher, `${upstream.url}${AUTH_PATH}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-men-signature': device.sign(body),
      authorization: 'Bearer ',
    },
    body,
  });
  if (reply.status === 200) device.jwt = reply.body.toString();
  return reply;
}

function claimsOf(jwt: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString()) as Record<string, unknown>;
}

const bearer = (device: TestDevice): Record<string, string> => ({ authorization: `Bearer ${device.jwt}` });

describe('fake upstream Mender server (HTTPS, enterprise-like)', () => {
  let upstream: FakeUpstream;
  let agent: Agent;

  beforeAll(async () => {
    upstream = await startFakeUpstream();
    agent = new Agent({ connect: { ca: upstream.pki.ca.certPem }, keepAliveTimeout: 10 });
  });
  afterAll(async () => {
    await agent.close();
    await upstream.close();
  });

  /** A device that is accepted and holds a JWT. */
  async function acceptedDevice(mac: string, keyType: KeyType = 'ec'): Promise<TestDevice> {
    const device = new TestDevice(mac, keyType);
    expect((await authenticate(agent, upstream, device)).status).toBe(401);
    upstream.acceptDevice(mac);
    expect((await authenticate(agent, upstream, device)).status).toBe(200);
    return device;
  }

  it('serves real TLS for both hosts from the test CA, on two different loopback addresses', () => {
    expect(upstream.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(upstream.storageUrl).toMatch(/^https:\/\/127\.0\.0\.2:\d+$/);
    expect(upstream.pki.ca.certPem).toContain('BEGIN CERTIFICATE');
  });

  describe('auth requests (docs/protocol.md §2.1)', () => {
    it.each<KeyType>(['rsa', 'ec', 'ed25519'])(
      'verifies %s signatures over the raw body and rejects tampered bodies',
      async (keyType) => {
        const device = new TestDevice(
          `02:00:00:00:00:${keyType.length.toString(16).padStart(2, '0')}`,
          keyType,
        );
        const good = await authenticate(agent, upstream, device);
        // Unknown device: valid signature, but pending → 401 with Mender's error shape.
        expect(good.status).toBe(401);
        expect(json(good)).toMatchObject({ error: 'unauthorized' });
        expect(good.headers['x-men-requestid']).toBeTruthy();
        const goodRecord = upstream.state.authRequests.at(-1)!;
        expect(goodRecord.signatureValid).toBe(true);
        expect(goodRecord.rawBody.equals(device.body())).toBe(true);
        expect(goodRecord.rawBody.at(-1)).toBe(0x0a);

        const body = device.body();
        const signature = device.sign(body);
        const tampered = Buffer.from(body.toString().replace('"tenant_token":""', '"tenant_token":"x"'));
        const bad = await call(agent, `${upstream.url}${AUTH_PATH}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-men-signature': signature },
          body: tampered,
        });
        expect(bad.status).toBe(401);
        expect(json(bad)).toMatchObject({ error: 'signature verification failed' });
        expect(upstream.state.authRequests.at(-1)!.signatureValid).toBe(false);
      },
    );

    it('answers 400 without X-MEN-Signature and for malformed bodies', async () => {
      const device = new TestDevice('02:00:00:00:01:01');
      const noSig = await call(agent, `${upstream.url}${AUTH_PATH}`, { method: 'POST', body: device.body() });
      expect(noSig.status).toBe(400);
      const garbage = await call(agent, `${upstream.url}${AUTH_PATH}`, {
        method: 'POST',
        headers: { 'x-men-signature': 'AAAA' },
        body: '{"id_data":',
      });
      expect(garbage.status).toBe(400);
    });

    it('moves a device from pending to accepted and then issues an RS256 JWT as application/jwt', async () => {
      const device = new TestDevice('02:00:00:00:01:02');
      expect((await authenticate(agent, upstream, device)).status).toBe(401);
      const pending = upstream.device(device.mac)!;
      expect(pending.status).toBe('pending');
      expect(pending.identityKey).toBe('{"mac":"02:00:00:00:01:02"}');
      // Still pending on retry: no duplicate device or auth set.
      expect((await authenticate(agent, upstream, device)).status).toBe(401);
      expect(upstream.state.devices.filter((d) => d.identity.mac === device.mac)).toHaveLength(1);
      expect(pending.authSets).toHaveLength(1);

      upstream.acceptDevice(device.mac);
      const ok = await authenticate(agent, upstream, device);
      expect(ok.status).toBe(200);
      expect(ok.headers['content-type']).toBe('application/jwt');
      const [header] = device.jwt.split('.');
      expect(JSON.parse(Buffer.from(header!, 'base64url').toString())).toMatchObject({ alg: 'RS256' });
      const claims = claimsOf(device.jwt);
      expect(claims).toMatchObject({ sub: pending.id, jti: pending.authSets[0]!.id, 'mender.device': true });
      expect(Number(claims.exp) - Number(claims.iat)).toBe(604_800);
    });

    it('matches identities whatever the key order of id_data (canonical identity)', async () => {
      const device = new TestDevice('02:00:00:00:01:03');
      const reordered = (order: 'ab' | 'ba'): Buffer => {
        const idData =
          order === 'ab' ? `{"mac":"${device.mac}","sku":"x1"}` : `{"sku":"x1","mac":"${device.mac}"}`;
        return Buffer.from(JSON.stringify({ pubkey: device.publicKeyPem, id_data: idData }));
      };
      expect((await authenticate(agent, upstream, device, reordered('ab'))).status).toBe(401);
      upstream.acceptDevice(device.mac);
      expect((await authenticate(agent, upstream, device, reordered('ba'))).status).toBe(200);
    });
  });

  describe('device JWTs on the other endpoints', () => {
    it('requires a valid JWT of an accepted device and cuts rejected devices off at once', async () => {
      const configUrl = `${upstream.url}/api/devices/v1/deviceconfig/configuration`;
      const missing = await call(agent, configUrl);
      expect(missing.status).toBe(401);
      expect(json(missing)).toHaveProperty('request_id');
      expect((await call(agent, configUrl, { headers: { authorization: 'Bearer not.a.jwt' } })).status).toBe(
        401,
      );

      const device = await acceptedDevice('02:00:00:00:02:01');
      const ok = await call(agent, configUrl, { headers: bearer(device) });
      expect(ok.status).toBe(200);
      expect(json(ok)).toEqual({});

      upstream.revokeDeviceTokens(device.mac);
      expect((await call(agent, configUrl, { headers: bearer(device) })).status).toBe(401);
      expect((await authenticate(agent, upstream, device)).status).toBe(200);
      upstream.rejectDevice(device.mac);
      expect((await call(agent, configUrl, { headers: bearer(device) })).status).toBe(401);
      expect((await authenticate(agent, upstream, device)).status).toBe(401);
    });

    it('answers unknown device paths with 404 JSON and other paths like traefik', async () => {
      const device = await acceptedDevice('02:00:00:00:02:02');
      const unknown = await call(agent, `${upstream.url}/api/devices/v1/nothing/here`, {
        headers: bearer(device),
      });
      expect(unknown.status).toBe(404);
      expect(json(unknown)).toHaveProperty('error');
      const root = await call(agent, `${upstream.url}/`);
      expect(root.status).toBe(404);
      expect(root.body.toString()).toBe('404 page not found\n');
    });
  });

  describe('inventory (docs/protocol.md §2.3)', () => {
    it('takes chunked bodies like the 3.4 client; PUT replaces, PATCH upserts', async () => {
      const device = await acceptedDevice('02:00:00:00:03:01');
      const put = await call(agent, `${upstream.url}${INVENTORY_PATH}`, {
        method: 'PUT',
        headers: { ...bearer(device), 'content-type': 'application/json' },
        body: Readable.from([
          Buffer.from('[{"name":"a","value":"1"},'),
          Buffer.from('{"name":"b","value":["x","y"]}]'),
        ]),
      });
      expect(put.status).toBe(200);
      expect(put.body.length).toBe(0);
      const putRecord = upstream.state.inventoryRequests.at(-1)!;
      expect(putRecord).toMatchObject({
        method: 'PUT',
        contentLengthHeader: undefined,
        transferEncoding: 'chunked',
      });
      expect(putRecord.rawBody.toString()).toBe('[{"name":"a","value":"1"},{"name":"b","value":["x","y"]}]');

      const patchBody = '[{"name":"b","value":"2"},{"name":"c","value":3}]';
      const patch = await call(agent, `${upstream.url}${INVENTORY_PATH}`, {
        method: 'PATCH',
        headers: bearer(device),
        body: patchBody,
      });
      expect(patch.status).toBe(200);
      expect(upstream.state.inventoryRequests.at(-1)).toMatchObject({
        contentLengthHeader: String(patchBody.length),
        contentLengthMatched: true,
      });
      const byName = (): Record<string, unknown> =>
        Object.fromEntries(
          (upstream.state.inventory.get(upstream.device(device.mac)!.id) ?? []).map((a) => [a.name, a.value]),
        );
      expect(byName()).toEqual({ a: '1', b: '2', c: 3 });

      await call(agent, `${upstream.url}${INVENTORY_PATH}`, {
        method: 'PUT',
        headers: bearer(device),
        body: '[{"name":"z","value":"only"}]',
      });
      expect(byName()).toEqual({ z: 'only' });

      const invalid = await call(agent, `${upstream.url}${INVENTORY_PATH}`, {
        method: 'PUT',
        headers: bearer(device),
        body: '[{"name":',
      });
      expect(invalid.status).toBe(400);
      expect(
        (await call(agent, `${upstream.url}${INVENTORY_PATH}`, { method: 'PUT', body: '[]' })).status,
      ).toBe(401);
    });

    it('records a Content-Length that promises more bytes than arrive', async () => {
      const device = await acceptedDevice('02:00:00:00:03:02');
      const { port } = new URL(upstream.url);
      const body = '[{"name":"a","value":"1"}]';
      const response = await new Promise<string>((resolve, reject) => {
        const socket = tlsConnect(
          { host: '127.0.0.1', port: Number(port), ca: upstream.pki.ca.certPem },
          () => {
            socket.write(
              `PUT ${INVENTORY_PATH} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: Bearer ${device.jwt}\r\n` +
                `Content-Length: ${body.length + 10}\r\n\r\n${body}`,
            );
          },
        );
        let text = '';
        socket.on('data', (chunk: Buffer) => (text += chunk.toString()));
        socket.on('close', () => resolve(text));
        socket.on('error', reject);
      });
      expect(response).toMatch(/^HTTP\/1\.1 400 /);
      expect(upstream.state.inventoryRequests.at(-1)).toMatchObject({
        contentLengthMatched: false,
        responseStatus: 400,
      });
    });
  });

  describe('deployments (docs/protocol.md §2.2) and storage (docs/protocol.md §2.7)', () => {
    const payload = Buffer.alloc(300_000);
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 7) & 0xff;

    it('serves the same instructions through all three next variants, then 204 once finished', async () => {
      const device = await acceptedDevice('02:00:00:00:04:01');
      const artifact = upstream.addArtifact({
        name: 'release-2',
        deviceTypes: ['qemux86-64'],
        data: payload,
      });
      expect(artifact.sha256).toBe(createHash('sha256').update(payload).digest('hex'));
      const deployment = upstream.createDeployment({ artifactId: artifact.id, deviceIds: [device.mac] });
      const provides = { device_type: 'qemux86-64', artifact_name: 'release-1' };

      const v2 = await call(agent, `${upstream.url}${NEXT_V2}`, {
        method: 'POST',
        headers: { ...bearer(device), 'content-type': 'application/json' },
        body: JSON.stringify({ device_provides: provides, update_control_map: true }),
      });
      expect(v2.status).toBe(200);
      const instructions = json(v2) as {
        id: string;
        artifact: {
          id: string;
          artifact_name: string;
          source: { uri: string; expire: string };
          device_types_compatible: string[];
        };
      };
      expect(instructions).toMatchObject({
        id: deployment.id,
        artifact: { id: artifact.id, artifact_name: 'release-2', device_types_compatible: ['qemux86-64'] },
      });
      const uri = new URL(instructions.artifact.source.uri);
      expect(uri.origin).toBe(upstream.storageUrl);
      expect(uri.pathname).toBe(`/mender-artifacts/${upstream.options.tenantId}/${artifact.id}`);
      expect([...uri.searchParams.keys()]).toEqual([
        'X-Amz-Algorithm',
        'X-Amz-Credential',
        'X-Amz-Date',
        'X-Amz-Expires',
        'X-Amz-SignedHeaders',
        'response-content-disposition',
        'response-content-type',
        'X-Amz-Signature',
      ]);
      expect(uri.searchParams.get('X-Amz-Expires')).toBe('86400');
      expect(uri.searchParams.get('X-Amz-Signature')).toMatch(/^[0-9a-f]{64}$/);
      expect(Date.parse(instructions.artifact.source.expire)).toBeGreaterThan(Date.now() + 86_000_000);

      const v1 = await call(agent, `${upstream.url}${NEXT_V1}`, {
        method: 'POST',
        headers: bearer(device),
        body: JSON.stringify(provides),
      });
      expect(json(v1)).toMatchObject({ id: deployment.id });
      const get = await call(
        agent,
        `${upstream.url}${NEXT_V1}?artifact_name=release-1&device_type=qemux86-64`,
        { headers: bearer(device) },
      );
      expect(json(get)).toMatchObject({ id: deployment.id });
      expect(upstream.state.nextRequests.slice(-3).map((r) => r.variant)).toEqual([
        'v2-post',
        'v1-post',
        'v1-get',
      ]);

      const download = await call(agent, instructions.artifact.source.uri, {
        headers: { 'accept-encoding': 'gzip' },
      });
      expect(download.status).toBe(200);
      expect(download.headers['content-length']).toBe(String(payload.length));
      expect(download.headers['content-type']).toBe('application/vnd.mender-artifact');
      expect(download.headers['accept-ranges']).toBe('bytes');
      expect(download.headers['content-encoding']).toBeUndefined();
      expect(download.headers['content-disposition']).toBe('attachment; filename="release-2.mender"');
      expect(download.body.equals(payload)).toBe(true);

      for (const status of ['downloading', 'installing', 'rebooting', 'success']) {
        const reply = await call(
          agent,
          `${upstream.url}/api/devices/v1/deployments/device/deployments/${deployment.id}/status`,
          {
            method: 'PUT',
            headers: bearer(device),
            body: JSON.stringify({ status }),
          },
        );
        expect(reply.status).toBe(204);
      }
      const deviceId = upstream.device(device.mac)!.id;
      expect(upstream.state.statuses.filter((s) => s.deviceId === deviceId).map((s) => s.status)).toEqual([
        'downloading',
        'installing',
        'rebooting',
        'success',
      ]);
      const log = await call(
        agent,
        `${upstream.url}/api/devices/v1/deployments/device/deployments/${deployment.id}/log`,
        {
          method: 'PUT',
          headers: bearer(device),
          body: JSON.stringify({
            messages: [{ timestamp: '2026-01-01T00:00:00Z', level: 'info', message: 'done' }],
          }),
        },
      );
      expect(log.status).toBe(204);
      expect(upstream.state.logs.at(-1)).toMatchObject({ deploymentId: deployment.id, deviceId });

      const after = await call(
        agent,
        `${upstream.url}${NEXT_V1}?artifact_name=release-2&device_type=qemux86-64`,
        { headers: bearer(device) },
      );
      expect(after.status).toBe(204);
    });

    it('answers 204 for an already installed artifact or an incompatible device type', async () => {
      const device = await acceptedDevice('02:00:00:00:04:02');
      const artifact = upstream.addArtifact({ name: 'release-9', deviceTypes: ['rpi4'], data: payload });
      const d1 = upstream.createDeployment({ artifactId: artifact.id, deviceIds: [device.mac] });
      const installed = await call(
        agent,
        `${upstream.url}${NEXT_V1}?artifact_name=release-9&device_type=rpi4`,
        { headers: bearer(device) },
      );
      expect(installed.status).toBe(204);
      expect(d1.devices.get(upstream.device(device.mac)!.id)).toBe('already-installed');

      const d2 = upstream.createDeployment({ artifactId: artifact.id, deviceIds: [device.mac] });
      const wrongType = await call(
        agent,
        `${upstream.url}${NEXT_V1}?artifact_name=release-1&device_type=qemux86-64`,
        { headers: bearer(device) },
      );
      expect(wrongType.status).toBe(204);
      expect(d2.devices.get(upstream.device(device.mac)!.id)).toBe('noartifact');
    });

    it('targets all accepted devices by default, including ones accepted later, and 409s status after an abort', async () => {
      const artifact = upstream.addArtifact({
        name: 'release-all',
        deviceTypes: ['beaglebone'],
        data: payload,
      });
      const deployment = upstream.createDeployment({ artifactId: artifact.id });
      const late = await acceptedDevice('02:00:00:00:04:03');
      const next = await call(agent, `${upstream.url}${NEXT_V1}?artifact_name=old&device_type=beaglebone`, {
        headers: bearer(late),
      });
      expect(json(next)).toMatchObject({ id: deployment.id });
      upstream.abortDeployment(deployment.id);
      const status = await call(
        agent,
        `${upstream.url}/api/devices/v1/deployments/device/deployments/${deployment.id}/status`,
        {
          method: 'PUT',
          headers: bearer(late),
          body: JSON.stringify({ status: 'downloading' }),
        },
      );
      expect(status.status).toBe(409);
      const again = await call(agent, `${upstream.url}${NEXT_V1}?artifact_name=old&device_type=beaglebone`, {
        headers: bearer(late),
      });
      expect(again.status).toBe(204);
    });

    it('serves single byte ranges (206), refuses unsatisfiable ones (416) and bad or expired signatures (403)', async () => {
      const artifact = upstream.addArtifact({ name: 'ranged', deviceTypes: ['x'], data: payload });
      const { uri } = upstream.storageLink(artifact.id);
      const before = upstream.state.storage.perArtifact.get(artifact.id)?.rangeRequests ?? 0;

      const open = await call(agent, uri, { headers: { range: 'bytes=1000-' } });
      expect(open.status).toBe(206);
      expect(open.headers['content-range']).toBe(`bytes 1000-${payload.length - 1}/${payload.length}`);
      expect(open.headers['content-length']).toBe(String(payload.length - 1000));
      expect(open.body.equals(payload.subarray(1000))).toBe(true);

      const closed = await call(agent, uri, { headers: { range: 'bytes=5-9' } });
      expect(closed.status).toBe(206);
      expect(closed.body.equals(payload.subarray(5, 10))).toBe(true);
      const suffix = await call(agent, uri, { headers: { range: 'bytes=-4' } });
      expect(suffix.headers['content-range']).toBe(
        `bytes ${payload.length - 4}-${payload.length - 1}/${payload.length}`,
      );
      expect(upstream.state.storage.perArtifact.get(artifact.id)?.rangeRequests).toBe(before + 3);

      const beyond = await call(agent, uri, { headers: { range: `bytes=${payload.length}-` } });
      expect(beyond.status).toBe(416);
      expect(beyond.headers['content-range']).toBe(`bytes */${payload.length}`);

      const tampered = uri.replace(
        /X-Amz-Signature=([0-9a-f])/,
        (_m, c: string) => `X-Amz-Signature=${c === 'a' ? 'b' : 'a'}`,
      );
      const forged = await call(agent, tampered);
      expect(forged.status).toBe(403);
      expect(forged.body.toString()).toContain('<Code>SignatureDoesNotMatch</Code>');

      // The signature covers `host`: another name for the same server (valid for TLS) is refused.
      const wrongHost = await call(agent, uri, { headers: { host: 's3.fake.test' } });
      expect(wrongHost.status).toBe(403);

      const expired = upstream.storageLink(artifact.id, {
        date: new Date(Date.now() - 120_000),
        expiresSeconds: 60,
      });
      const late = await call(agent, expired.uri);
      expect(late.status).toBe(403);
      expect(late.body.toString()).toContain('Request has expired');

      // S3 signs the method: a GET link does not work for HEAD, a HEAD link does.
      expect((await call(agent, uri, { method: 'HEAD' })).status).toBe(403);
      const head = await call(agent, upstream.storageLink(artifact.id, { method: 'HEAD' }).uri, {
        method: 'HEAD',
      });
      expect(head.status).toBe(200);
      expect(head.headers['content-length']).toBe(String(payload.length));
      expect(head.headers.etag).toBe(artifact.etag);
    });

    it('streams large artifacts with backpressure and counts the bytes actually sent', async () => {
      const big = Buffer.alloc(48 * 1024 * 1024, 0x5a);
      const artifact = upstream.addArtifact({ name: 'big', deviceTypes: ['x'], data: big });
      const res = await request(upstream.storageLink(artifact.id).uri, { dispatcher: agent });
      expect(res.headers['content-length']).toBe(String(big.length));
      const hash = createHash('sha256');
      let received = 0;
      for await (const chunk of res.body) {
        hash.update(chunk as Buffer);
        received += (chunk as Buffer).length;
      }
      expect(received).toBe(big.length);
      expect(hash.digest('hex')).toBe(artifact.sha256);
      // Counters move when the server's writes complete, which may be just after the client saw the bytes.
      await expect
        .poll(() => upstream.state.storage.perArtifact.get(artifact.id))
        .toMatchObject({ fullDownloadsStarted: 1, completedResponses: 1, bytesSent: big.length });
    });

    it('can break a download part-way (fault injection) and then serve the resume', async () => {
      const artifact = upstream.addArtifact({ name: 'flaky', deviceTypes: ['x'], data: payload });
      const { uri } = upstream.storageLink(artifact.id);
      upstream.storageFaults.abortAfterBytes = 100_000;
      upstream.storageFaults.abortTimes = 1;
      const res = await request(uri, { dispatcher: agent });
      await expect(res.body.arrayBuffer()).rejects.toThrow();
      const resumed = await call(agent, uri, { headers: { range: 'bytes=100000-' } });
      expect(resumed.status).toBe(206);
      expect(resumed.body.equals(payload.subarray(100_000))).toBe(true);
      await expect
        .poll(() => upstream.state.storage.perArtifact.get(artifact.id))
        .toMatchObject({ abortedResponses: 1, completedResponses: 1 });
      delete upstream.storageFaults.abortAfterBytes;
    });
  });

  describe('management API (docs/protocol.md §3.4, §3.5)', () => {
    it('logs in with Basic auth and preauthorizes with force semantics', async () => {
      const basic = (user: string, pass: string): string =>
        `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
      const wrong = await call(agent, `${upstream.url}${LOGIN_PATH}`, {
        method: 'POST',
        headers: { authorization: basic(DEFAULT_MANAGEMENT.username, 'nope') },
      });
      expect(wrong.status).toBe(401);
      const login = await call(agent, `${upstream.url}${LOGIN_PATH}`, {
        method: 'POST',
        headers: { authorization: basic(DEFAULT_MANAGEMENT.username, DEFAULT_MANAGEMENT.password) },
      });
      expect(login.status).toBe(200);
      expect(login.headers['content-type']).toBe('application/jwt');
      expect(upstream.state.managementLogins).toBe(1);
      expect(upstream.state.managementLoginAttempts.map((a) => a.ok)).toEqual([false, true]);
      const token = login.body.toString();

      const device = new TestDevice('02:00:00:00:05:01', 'ed25519');
      const preauth = (force: boolean, auth = `Bearer ${token}`): Promise<Reply> =>
        call(agent, `${upstream.url}${PREAUTH_PATH}`, {
          method: 'POST',
          headers: {
            authorization: auth,
            'content-type': 'application/json',
            'x-forwarded-for': '192.0.2.7',
          },
          body: JSON.stringify({ identity_data: { mac: device.mac }, pubkey: device.publicKeyPem, force }),
        });
      expect((await preauth(true, 'Bearer nope')).status).toBe(401);
      const created = await preauth(false);
      expect(created.status).toBe(201);
      const known = upstream.device(device.mac)!;
      expect(created.headers.location).toBe(`devices/${known.id}`);
      expect(known.status).toBe('preauthorized');
      expect(upstream.state.preauthorizations.at(-1)).toMatchObject({
        xForwardedFor: '192.0.2.7',
        force: false,
        responseStatus: 201,
      });

      const conflict = await preauth(false);
      expect(conflict.status).toBe(409);
      expect(json(conflict)).toMatchObject({ id: known.id });

      // The preauthorized key is accepted on the device's first auth request.
      expect((await authenticate(agent, upstream, device)).status).toBe(200);
      expect(upstream.device(device.mac)!.status).toBe('accepted');

      // A rotated key is only preauthorized with force; the old accepted set is rejected on accept.
      const rotated = new TestDevice(device.mac, 'ec');
      const forced = await call(agent, `${upstream.url}${PREAUTH_PATH}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}` },
        body: JSON.stringify({
          identity_data: { mac: device.mac },
          pubkey: rotated.publicKeyPem,
          force: true,
        }),
      });
      expect(forced.status).toBe(201);
      expect((await authenticate(agent, upstream, rotated)).status).toBe(200);
      expect(upstream.device(device.mac)!.authSets.map((s) => s.status)).toEqual(['rejected', 'accepted']);
      expect(
        (
          await call(agent, `${upstream.url}/api/devices/v1/deviceconfig/configuration`, {
            headers: bearer(device),
          })
        ).status,
      ).toBe(401);

      upstream.revokeManagementTokens();
      expect((await preauth(true)).status).toBe(401);
    });
  });

  describe('deviceconnect WebSocket (docs/protocol.md §2.6)', () => {
    function open(jwt: string | undefined): Promise<{ ws: WebSocket } | { status: number; body: string }> {
      return new Promise((resolve, reject) => {
        const ws = new WebSocket(`${upstream.url.replace('https', 'wss')}${CONNECT_PATH}`, {
          ca: upstream.pki.ca.certPem,
          headers: jwt === undefined ? {} : { authorization: `Bearer ${jwt}` },
        });
        ws.once('open', () => resolve({ ws }));
        ws.once('unexpected-response', (_req, res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        });
        ws.once('error', reject);
      });
    }

    it('echoes text and binary frames for an authenticated device', async () => {
      const device = await acceptedDevice('02:00:00:00:06:01');
      const opened = await open(device.jwt);
      if (!('ws' in opened)) throw new Error(`refused: ${opened.status}`);
      const { ws } = opened;
      expect(upstream.state.tunnels.open).toBe(1);
      const received: { data: Buffer; binary: boolean }[] = [];
      const two = new Promise<void>((resolve) =>
        ws.on('message', (data: Buffer, binary: boolean) => {
          received.push({ data, binary });
          if (received.length === 2) resolve();
        }),
      );
      ws.send('hello');
      ws.send(Buffer.from([0x82, 0x00, 0xff]));
      await two;
      expect(received[0]).toMatchObject({ binary: false });
      expect(received[0]!.data.toString()).toBe('hello');
      expect(received[1]!.binary).toBe(true);
      expect(received[1]!.data.equals(Buffer.from([0x82, 0x00, 0xff]))).toBe(true);
      const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
      ws.close(1000);
      expect(await closed).toBe(1000);
      await expect.poll(() => upstream.state.tunnels.open).toBe(0);
    });

    it('refuses a missing or invalid JWT with a plain 401 JSON response', async () => {
      for (const jwt of [undefined, 'bad.token.here']) {
        const result = await open(jwt);
        if ('ws' in result) throw new Error('upgrade unexpectedly accepted');
        expect(result.status).toBe(401);
        expect(JSON.parse(result.body)).toMatchObject({ error: 'unauthorized' });
      }
      expect(upstream.state.tunnels.refused).toBeGreaterThanOrEqual(2);
    });
  });

  it('logs every request with host, method, path, headers and remote address', () => {
    const storageHit = upstream.state.requests.find((r) => r.host === 'storage');
    expect(storageHit).toMatchObject({ method: 'GET', remoteAddress: '127.0.0.1' });
    expect(storageHit!.path).toMatch(/^\/mender-artifacts\//);
    const authHit = upstream.state.requests.find((r) => r.path === AUTH_PATH);
    expect(authHit).toMatchObject({ host: 'api', method: 'POST', status: 401 });
    expect(upstream.state.requests.some((r) => r.upgrade && r.status === 101)).toBe(true);
  });
});

describe('fake upstream in open-source mode (plain HTTP, no v2 next, gzip like traefik)', () => {
  let upstream: FakeUpstream;
  const agent = new Agent({ keepAliveTimeout: 10 });

  beforeAll(async () => {
    upstream = await startFakeUpstream({ tls: false, v2Next: false, gzip: true, autoAcceptDevices: true });
  });
  afterAll(async () => {
    await agent.close();
    await upstream.close();
  });

  it('auto-accepts, 404s the v2 next route after authenticating, gzips JSON, and serves HTTP storage links', async () => {
    expect(upstream.url).toMatch(/^http:\/\/127\.0\.0\.1:/);
    expect(upstream.storageUrl).toMatch(/^http:\/\/127\.0\.0\.2:/);
    const device = new TestDevice('02:00:00:00:07:01', 'rsa');
    expect((await authenticate(agent, upstream, device)).status).toBe(200);

    expect((await call(agent, `${upstream.url}${NEXT_V2}`, { method: 'POST', body: '{}' })).status).toBe(401);
    const v2 = await call(agent, `${upstream.url}${NEXT_V2}`, {
      method: 'POST',
      headers: bearer(device),
      body: JSON.stringify({ device_provides: { device_type: 'pi', artifact_name: 'a' } }),
    });
    expect(v2.status).toBe(404);

    const artifact = upstream.addArtifact({ name: 'b', deviceTypes: ['pi'], data: Buffer.alloc(5000, 1) });
    upstream.createDeployment({ artifactId: artifact.id });
    const v1 = await call(agent, `${upstream.url}${NEXT_V1}`, {
      method: 'POST',
      headers: { ...bearer(device), 'accept-encoding': 'gzip' },
      body: JSON.stringify({ device_type: 'pi', artifact_name: 'a' }),
    });
    expect(v1.status).toBe(200);
    expect(v1.headers['content-encoding']).toBe('gzip');
    const { artifact: instructions } = json(v1) as { artifact: { source: { uri: string } } };
    expect(instructions.source.uri.startsWith(`${upstream.storageUrl}/mender-artifacts/`)).toBe(true);
    const download = await call(agent, instructions.source.uri, { headers: { 'accept-encoding': 'gzip' } });
    expect(download.status).toBe(200);
    expect(download.headers['content-encoding']).toBeUndefined();
    expect(download.body.length).toBe(5000);
  });

  it('lets tests intercept requests for fault injection', async () => {
    const remove = upstream.intercept((req, res) => {
      if (!req.url?.startsWith('/api/devices/v1/deviceconfig')) return false;
      res.writeHead(503, { 'retry-after': '1' }).end();
      return true;
    });
    expect((await call(agent, `${upstream.url}/api/devices/v1/deviceconfig/configuration`)).status).toBe(503);
    remove();
    expect((await call(agent, `${upstream.url}/api/devices/v1/deviceconfig/configuration`)).status).toBe(401);
  });
});
