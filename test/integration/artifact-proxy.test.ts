import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { request } from 'undici';
import { proxyLink } from '../../src/core/artifacts/artifact-link.js';
import { startCacheScenario, DEVICE_TYPE } from '../support/cache-scenario.js';
import type { CacheScenario } from '../support/cache-scenario.js';
import { pollNext } from '../support/simulated-device.js';
import type { SimulatedDevice } from '../support/simulated-device.js';

const provides = { device_type: DEVICE_TYPE, artifact_name: 'initial' };
const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

async function get(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }> {
  const res = await request(url, { headers });
  return { status: res.statusCode, headers: res.headers, body: Buffer.from(await res.body.arrayBuffer()) };
}

/** Proxy-only downloads: proxy-only mode streams from storage; the gateway is never an open proxy. */
describe('artifacts proxy without cache', () => {
  let s: CacheScenario;
  let device: SimulatedDevice;

  beforeAll(async () => {
    s = await startCacheScenario({ cache: false });
    device = await s.newDevice();
  });
  afterAll(async () => {
    await s.close();
  });

  it('streams the artifact from storage with Range passed through, fetching storage every time', async () => {
    const { artifact, sha256: expected } = s.addArtifact('proxy-1', 256 * 1024);
    const answer = await pollNext(s.gw.url, device, provides);
    const uri = answer.json!.artifact.source.uri;
    expect(uri.startsWith(`${s.gatewayUrl}/api/devices/v1/gateway/artifacts/proxy/`)).toBe(true);
    // Upstream's expiry is kept in proxy mode (docs/protocol.md §4.3).
    expect(answer.json!.artifact.source.expire).toBeDefined();

    const full = await get(uri);
    expect(full.status).toBe(200);
    expect(full.headers['content-length']).toBe(String(256 * 1024));
    expect(sha256(full.body)).toBe(expected);
    const part = await get(uri, { range: 'bytes=1000-1999' });
    expect(part.status).toBe(206);
    expect(part.headers['content-range']).toBe(`bytes 1000-1999/${256 * 1024}`);
    expect(part.body.equals(full.body.subarray(1000, 2000))).toBe(true);
    const counters = s.upstream.state.storage.perArtifact.get(artifact.id)!;
    expect(counters.fullDownloadsStarted).toBe(1);
    expect(counters.rangeRequests).toBe(1);
  });

  it('refuses a proxy link to a host outside the whitelist with the code deployments/next uses, and never contacts it', async () => {
    const before = s.upstream.state.requests.length;
    for (const target of [
      'https://169.254.169.254/latest/meta-data/',
      'https://127.0.0.2.evil.test/x',
      'http://127.0.0.3:9/x',
    ]) {
      const link = proxyLink(new URL(s.gatewayUrl), target);
      const answer = await get(link.href);
      // The same condition and answer as a deployments/next link off the whitelist (below).
      expect(answer.status).toBe(502);
      expect(JSON.parse(answer.body.toString()).error).toMatch(/not whitelisted/);
    }
    expect(s.upstream.state.requests.length).toBe(before);
  });
});

describe('DomainWhitelist on deployments/next (docs/protocol.md §4.1–4.2)', () => {
  let s: CacheScenario;
  let device: SimulatedDevice;
  let answerWith: string | undefined;
  let compress = false;

  beforeAll(async () => {
    s = await startCacheScenario({ whitelist: ['s3.amazonaws.com', '127.0.0.2'] });
    device = await s.newDevice();
    // Answer polls with a chosen storage link, as a misconfigured or hostile server might.
    s.upstream.intercept((req, res) => {
      if (answerWith === undefined || !req.url?.includes('/deployments/next')) return false;
      const body = JSON.stringify({
        id: 'dep-x',
        artifact: {
          id: 'art-x',
          artifact_name: 'x',
          source: { uri: answerWith, expire: '2099-01-01T00:00:00Z' },
          device_types_compatible: [DEVICE_TYPE],
        },
      });
      const bytes = compress ? gzipSync(body) : Buffer.from(body);
      res.writeHead(200, {
        'content-type': 'application/json',
        'content-length': bytes.length,
        ...(compress ? { 'content-encoding': 'gzip' } : {}),
      });
      res.end(bytes);
      return true;
    });
  });
  afterAll(async () => {
    await s.close();
  });

  it.each([
    ['https://s3.amazonaws.com.evil.test/bucket/a?X-Amz-Signature=abc', 's3.amazonaws.com.evil.test'],
    ['https://evil-s3.amazonaws.com/bucket/a?X-Amz-Signature=abc', 'evil-s3.amazonaws.com'],
    ['https://storage.example.net/bucket/a?sig=1', 'storage.example.net'],
  ])('fails the poll for %s with 502 naming the host, never passing the raw link', async (uri, host) => {
    answerWith = uri;
    const answer = await pollNext(s.gw.url, device, provides);
    expect(answer.status).toBe(502);
    const text = answer.body.toString();
    expect(JSON.parse(text).error).toBe(`${host} returned by Mender server is not whitelisted`);
    expect(text).not.toContain('X-Amz-Signature');
    expect(text).not.toContain('sig=1');
    await s.gw.logs.waitFor(
      (l) => l.msg === `${host} returned by Mender server is not whitelisted` && l.level === 'warn',
    );
    // The operator's whitelist refused it; the uplink did not fail.
    expect((await s.gw.gateway.metrics.upstreamErrors.get()).values).toEqual([]);
  });

  it('admits a subdomain of a whitelisted entry (hosted Mender bucket host)', async () => {
    answerWith = 'https://hosted-mender-artifacts.s3.amazonaws.com/t/a?X-Amz-Signature=abc';
    const answer = await pollNext(s.gw.url, device, provides);
    expect(answer.status).toBe(200);
    expect(
      answer.json!.artifact.source.uri.startsWith(`${s.gatewayUrl}/api/devices/v1/gateway/artifacts/`),
    ).toBe(true);
  });

  it('rewrites a configuration-deployment link on the upstream host to the gateway, path and query byte-exact (docs/protocol.md §4.7)', async () => {
    const path =
      '/api/devices/v1/deployments/download/configuration/dep1/mgw-sim/dev1?x-men-expire=2099-01-01T00%3A00%3A00Z&x-men-signature=AbC-_';
    answerWith = `${s.upstream.url}${path}`;
    const answer = await pollNext(s.gw.url, device, provides);
    expect(answer.status).toBe(200);
    expect(answer.json!.artifact.source.uri).toBe(`${s.gatewayUrl}${path}`);
    expect(answer.json!.artifact.source.expire).toBe('2099-01-01T00:00:00Z');
  });

  it('decodes an answer the upstream compressed although not asked to', async () => {
    answerWith = 'https://hosted-mender-artifacts.s3.amazonaws.com/t/b?X-Amz-Signature=abc';
    compress = true;
    try {
      const answer = await pollNext(s.gw.url, device, provides);
      expect(answer.status).toBe(200);
      expect(answer.headers['content-encoding']).toBeUndefined();
      expect(answer.headers['content-length']).toBe(String(answer.body.length));
      expect(answer.json!.artifact.source.uri.startsWith(s.gatewayUrl)).toBe(true);
      expect(answer.json!.id).toBe('dep-x');
    } finally {
      compress = false;
    }
  });

  it('rewrites when the upstream compresses its answer (gzip, as traefik does for 3.x clients)', async () => {
    answerWith = undefined;
    const gz = await startCacheScenario({ upstream: { gzip: true } });
    try {
      const d = await gz.newDevice();
      gz.addArtifact('gzip-1', 8 * 1024);
      const answer = await pollNext(gz.gw.url, d, provides, 'v2-post', { 'accept-encoding': 'gzip' });
      expect(answer.status).toBe(200);
      expect(answer.headers['content-encoding']).toBeUndefined();
      expect(answer.json!.artifact.source.uri.startsWith(gz.gatewayUrl)).toBe(true);
      // The gateway asked upstream for an uncompressed answer (docs/protocol.md §4.1 step 1).
      const seen = gz.upstream.state.requests.filter((r) => r.path.endsWith('/deployments/next'));
      expect(seen.every((r) => r.headers['accept-encoding'] === undefined)).toBe(true);
    } finally {
      await gz.close();
    }
  });
});
