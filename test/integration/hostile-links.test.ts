import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setTimeout as delay } from 'node:timers/promises';
import { request } from 'undici';
import { ArtifactLinkSigner } from '../../src/core/artifacts/artifact-link.js';
import { startCacheScenario, DEVICE_TYPE } from '../support/cache-scenario.js';
import type { CacheScenario } from '../support/cache-scenario.js';
import { nodeRequest } from '../support/node-request.js';
import { pollNext } from '../support/simulated-device.js';
import type { SimulatedDevice } from '../support/simulated-device.js';

/**
 * Path traversal, cache keys and gateway links. Already covered elsewhere:
 * `../`, `%2e%2e%2f` and `%zz` on the device API (relay.test.ts), `../` and `%2e%2e%2f` on the
 * artifact route, a tampered expiry, another key in the path, an expired link signed with the
 * right secret, a link without signature (artifact-cache.test.ts), and every single-character
 * change of a link (unit/artifacts/artifact-link.test.ts). Here: what was missing.
 */

const ROUTE = '/api/devices/v1/gateway/artifacts/';
const provides = { device_type: DEVICE_TYPE, artifact_name: 'release-0' };
const KEY = 'a'.repeat(64);

describe('hostile artifact links and paths', () => {
  let s: CacheScenario;
  let device: SimulatedDevice;

  beforeAll(async () => {
    s = await startCacheScenario({ linkExpire: '2s' });
    device = await s.newDevice();
  });
  afterAll(async () => {
    await s.close();
  });

  const storageRequests = (): number => s.upstream.state.storage.requests;
  const apiRequests = (): number => s.upstream.state.requests.filter((r) => r.host === 'api').length;

  async function download(url: string): Promise<{ status: number; error: string | undefined }> {
    const res = await request(url);
    const text = await res.body.text();
    let error: string | undefined;
    try {
      error = (JSON.parse(text) as { error?: string }).error;
    } catch {
      error = undefined;
    }
    return { status: res.statusCode, error };
  }

  /** A fresh link from deployments/next works: the gateway still serves devices. */
  async function stillServes(): Promise<void> {
    s.addArtifact(`still-${Date.now()}`, 4096);
    const link = (await pollNext(s.gw.url, device, provides)).json!.artifact.source.uri;
    expect((await download(link)).status).toBe(200);
  }

  it.each([
    [
      'encoded dot segments in the artifact route',
      `${ROUTE}%2e%2e/%2e%2e/%2e%2e/management/v1/useradm/users`,
    ],
    ['mixed-case encoded dots', `${ROUTE}%2E%2e/${KEY}`],
    ['a backslash', `${ROUTE}..\\..\\etc\\passwd`],
    ['an encoded backslash', `${ROUTE}..%5c..%5cetc%5cpasswd`],
    ['double-encoded dot segments', `${ROUTE}%252e%252e/%252e%252e/etc/passwd`],
    ['a double-encoded slash', `${ROUTE}${KEY}%252f..%252f..%252fetc`],
    [
      'double-encoded dots on any device path',
      '/api/devices/v1/%252e%252e/%252e%252e/management/v1/useradm/users',
    ],
    ['triple-encoded dots', '/api/devices/v1/%25252e%25252e/management/v1/useradm/users'],
  ])('refuses %s with 400, touching neither storage nor the upstream', async (_name, path) => {
    const [storage, api] = [storageRequests(), apiRequests()];
    const res = await nodeRequest(`${s.gatewayUrl}${path}`);
    expect(res.status).toBe(400);
    expect(storageRequests()).toBe(storage);
    expect(apiRequests()).toBe(api);
  });

  it.each([
    ['upper-case hex', KEY.toUpperCase()],
    ['63 hex digits', KEY.slice(1)],
    ['65 hex digits', `${KEY}a`],
    ['the metadata file of an entry', `${KEY}.json`],
    ['the data file of an entry', `${KEY}.mender`],
    ['a partial file', `${KEY}.123.abc.partial`],
    ['the pins folder', `pins/${KEY}`],
    ['an encoded NUL after the key', `${KEY}%00`],
    ['a percent-encoded key', KEY.replace(/a/g, '%61')],
    ['non-hex letters', 'g'.repeat(64)],
  ])(
    'refuses a cache key that is not 64 lower-case hex digits (%s) as a malformed link: 400',
    async (_name, key) => {
      const storage = storageRequests();
      const signer = new ArtifactLinkSigner(Buffer.alloc(32, 1), new URL(s.gatewayUrl), 3600_000);
      // Otherwise well-formed parameters, so only the key is wrong.
      const query = signer.sign(new URL(`${s.upstream.storageUrl}/bucket/x`), {}).url.search;
      const res = await nodeRequest(`${s.gatewayUrl}${ROUTE}${key}${query}`);
      expect(res.status).toBe(400);
      expect(JSON.parse(res.body.toString()).error).toMatch(/malformed|dot segments/);
      expect(storageRequests()).toBe(storage);
    },
  );

  it('refuses a link forged with another SignatureSecret: 403, storage untouched', async () => {
    s.addArtifact('forged-1', 16 * 1024);
    const real = new URL((await pollNext(s.gw.url, device, provides)).json!.artifact.source.uri);
    const origin = new URL(Buffer.from(real.searchParams.get('x-men-origin')!, 'base64url').toString());
    const forger = new ArtifactLinkSigner(
      Buffer.from('another secret, 32 bytes long!!!'),
      new URL(s.gatewayUrl),
      3600_000,
    );
    const forged = forger.sign(origin, {}).url;
    expect(forged.pathname).toBe(real.pathname); // same key: only the signature differs
    const storage = storageRequests();
    const answer = await download(forged.href);
    expect(answer.status).toBe(403);
    expect(answer.error).toMatch(/signature does not match/);
    expect(storageRequests()).toBe(storage);
    const line = await s.gw.logs.waitFor((l) => l.msg === 'request' && l.status === 403);
    expect(line.level).toBe('warn');
    // The access line never carries the link's query (signature, origin).
    expect(JSON.stringify(line)).not.toContain('x-men-signature');
    await stillServes();
  });

  it('refuses a genuine link replayed after its expiry: 403, storage untouched', async () => {
    s.addArtifact('replay-1', 16 * 1024);
    const link = (await pollNext(s.gw.url, device, provides)).json!.artifact.source.uri;
    const expire = new Date(new URL(link).searchParams.get('x-men-expire')!);
    expect((await download(link)).status).toBe(200);
    await delay(Math.max(0, expire.getTime() - Date.now()) + 1_100);
    const storage = storageRequests();
    const replay = await download(link);
    expect(replay.status).toBe(403);
    expect(replay.error).toMatch(/expired/);
    expect(storageRequests()).toBe(storage);
    await stillServes();
  });
});
