import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { request } from 'undici';
import { ArtifactLinkSigner } from '../../src/core/artifacts/artifact-link.js';
import { startCacheScenario, DEVICE_TYPE, SECRET } from '../support/cache-scenario.js';
import type { CacheScenario } from '../support/cache-scenario.js';
import { pollNext } from '../support/simulated-device.js';
import { nodeRequest } from '../support/node-request.js';
import type { SimulatedDevice } from '../support/simulated-device.js';

const MiB = 1024 * 1024;
const provides = { device_type: DEVICE_TYPE, artifact_name: 'initial' };

async function download(
  url: string,
  headers: Record<string, string> = {},
  /** Called at the first body byte; what it returns is kept as `atFirstByte` (an observation, not a time). */
  onFirstByte: () => number = () => 0,
): Promise<{ status: number; headers: Record<string, unknown>; body: Buffer; atFirstByte: number }> {
  const res = await request(url, { headers });
  const chunks: Buffer[] = [];
  let atFirstByte: number | undefined;
  for await (const chunk of res.body) {
    atFirstByte ??= onFirstByte();
    chunks.push(chunk as Buffer);
  }
  return {
    status: res.statusCode,
    headers: res.headers,
    body: Buffer.concat(chunks),
    atFirstByte: atFirstByte ?? 0,
  };
}

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

/** Artifact cache requirement: download once, serve every device, never serve a wrong byte. */
describe('artifact cache through the gateway', () => {
  let s: CacheScenario;
  let device: SimulatedDevice;

  beforeAll(async () => {
    s = await startCacheScenario();
    device = await s.newDevice();
  });
  afterAll(async () => {
    await s.close();
  });

  it('rewrites the link in all three deployments/next variants and keeps every other field', async () => {
    const { artifact } = s.addArtifact('rewrite-1', 8 * 1024);
    for (const variant of ['v2-post', 'v1-post', 'v1-get'] as const) {
      const answer = await pollNext(s.gw.url, device, provides, variant);
      expect(answer.status).toBe(200);
      const json = answer.json!;
      expect(json.artifact.source.uri.startsWith(`${s.gatewayUrl}/api/devices/v1/gateway/artifacts/`)).toBe(
        true,
      );
      expect(json.artifact.source.uri).not.toContain('X-Amz-Signature');
      expect(Date.parse(json.artifact.source.expire!)).toBeGreaterThan(Date.now() + 23 * 3600_000);
      expect(json.artifact.id).toBe(artifact.id);
      expect(json.artifact.artifact_name).toBe('rewrite-1');
      expect(json.artifact.device_types_compatible).toEqual([DEVICE_TYPE]);
      expect(answer.headers['content-length']).toBe(String(answer.body.length));
    }
  });

  it('serves 50 concurrent first requests from one upstream download, everyone streaming before the fill ends', async () => {
    const { artifact, sha256: expected } = s.addArtifact('fanout-1', 8 * MiB);
    const link = (await pollNext(s.gw.url, device, provides)).json!.artifact.source.uri;
    // Slow storage (4 MiB/s): the fill takes ~2 s, so "before it finished" is observable.
    s.upstream.storageFaults.bytesPerSecond = 4 * MiB;
    try {
      // What storage had sent when each device got its first byte: less than the whole artifact
      // means the device was streaming while the fill was still running.
      const storageSent = (): number => s.upstream.state.storage.perArtifact.get(artifact.id)?.bytesSent ?? 0;
      const results = await Promise.all(Array.from({ length: 50 }, () => download(link, {}, storageSent)));
      for (const r of results) {
        expect(r.status).toBe(200);
        expect(r.body.length).toBe(8 * MiB);
        expect(sha256(r.body)).toBe(expected);
        expect(r.atFirstByte).toBeLessThan(8 * MiB);
      }
      expect(s.upstream.state.storage.perArtifact.get(artifact.id)?.fullDownloadsStarted).toBe(1);
      expect(results[0]!.headers['accept-ranges']).toBe('bytes');
      expect(results[0]!.headers['content-length']).toBe(String(8 * MiB));
      expect(results[0]!.headers['transfer-encoding']).toBeUndefined();
      expect(results[0]!.headers['content-encoding']).toBeUndefined();
    } finally {
      s.upstream.storageFaults.bytesPerSecond = undefined;
    }
  });

  it('resumes a cut download with Range from the cache (206, exact Content-Range)', async () => {
    const { artifact, sha256: expected } = s.addArtifact('resume-1', 2 * MiB);
    const link = (await pollNext(s.gw.url, device, provides)).json!.artifact.source.uri;
    // The device reads 300 KiB, then its link drops.
    const first = await request(link);
    const got: Buffer[] = [];
    let n = 0;
    for await (const chunk of first.body) {
      got.push(chunk as Buffer);
      n += (chunk as Buffer).length;
      if (n >= 300 * 1024) break;
    }
    const head = Buffer.concat(got);
    // 3.x resumes with an open range, 4.x with a closed one (docs/protocol.md §2.7): both.
    for (const range of [`bytes=${head.length}-`, `bytes=${head.length}-${2 * MiB - 1}`]) {
      const rest = await download(link, { range });
      expect(rest.status).toBe(206);
      expect(rest.headers['content-range']).toBe(`bytes ${head.length}-${2 * MiB - 1}/${2 * MiB}`);
      expect(rest.headers['content-length']).toBe(String(2 * MiB - head.length));
      expect(sha256(Buffer.concat([head, rest.body]))).toBe(expected);
    }
    const suffix = await download(link, { range: 'bytes=-100' });
    expect(suffix.status).toBe(206);
    expect(suffix.headers['content-range']).toBe(`bytes ${2 * MiB - 100}-${2 * MiB - 1}/${2 * MiB}`);
    const unsatisfiable = await download(link, { range: `bytes=${2 * MiB}-` });
    expect(unsatisfiable.status).toBe(416);
    expect(unsatisfiable.headers['content-range']).toBe(`bytes */${2 * MiB}`);
    const head2 = await request(link, { method: 'HEAD' });
    expect(head2.statusCode).toBe(200);
    expect(head2.headers['content-length']).toBe(String(2 * MiB));
    await head2.body.dump();
    expect(s.upstream.state.storage.perArtifact.get(artifact.id)?.fullDownloadsStarted).toBe(1);
  });

  it('honours If-Range: a stale validator gets the whole artifact', async () => {
    s.addArtifact('ifrange-1', 64 * 1024);
    const link = (await pollNext(s.gw.url, device, provides)).json!.artifact.source.uri;
    const full = await download(link);
    const etag = full.headers.etag as string;
    expect(etag).toMatch(/^"/);
    const matching = await download(link, { range: 'bytes=10-', 'if-range': etag });
    expect(matching.status).toBe(206);
    const stale = await download(link, { range: 'bytes=10-', 'if-range': '"something-else"' });
    expect(stale.status).toBe(200);
    expect(stale.body.equals(full.body)).toBe(true);
  });

  it('answers 403 to a tampered or expired link and 400 to a malformed one, without touching storage', async () => {
    s.addArtifact('links-1', 64 * 1024);
    const link = new URL((await pollNext(s.gw.url, device, provides)).json!.artifact.source.uri);
    const before = s.upstream.state.storage.requests;

    const tampered = new URL(link);
    tampered.searchParams.set('x-men-expire', '2099-01-01T00:00:00Z');
    expect((await download(tampered.href)).status).toBe(403);

    const otherKey = new URL(link);
    otherKey.pathname = otherKey.pathname.replace(/[0-9a-f]$/, (c) => (c === '0' ? '1' : '0'));
    expect((await download(otherKey.href)).status).toBe(403);

    // A link signed with the right secret, but two hours ago with a one-hour lifetime.
    const signer = new ArtifactLinkSigner(Buffer.from(SECRET, 'base64'), new URL(s.gatewayUrl), 3600_000);
    const origin = new URL(Buffer.from(link.searchParams.get('x-men-origin')!, 'base64url').toString());
    const expired = signer.sign(origin, {}, new Date(Date.now() - 2 * 3600_000)).url;
    const answer = await download(expired.href);
    expect(answer.status).toBe(403);
    expect(JSON.parse(answer.body.toString()).error).toMatch(/expired/);

    const malformed = new URL(link);
    malformed.searchParams.delete('x-men-signature');
    expect((await download(malformed.href)).status).toBe(400);
    // Sent raw (node:http): a URL parser would resolve the dots before the gateway sees them.
    expect(
      (await nodeRequest(`${s.gatewayUrl}/api/devices/v1/gateway/artifacts/../../../etc/passwd`)).status,
    ).toBe(400);
    expect(
      (await nodeRequest(`${s.gatewayUrl}/api/devices/v1/gateway/artifacts/%2e%2e%2f%2e%2e%2fetc%2fpasswd`))
        .status,
    ).toBe(400);
    expect(s.upstream.state.storage.requests).toBe(before);
  });

  it('keeps serving a cached artifact on a valid link after a gateway restart, with no new storage bytes', async () => {
    const { artifact, sha256: expected } = s.addArtifact('restart-1', 1 * MiB);
    const link = (await pollNext(s.gw.url, device, provides)).json!.artifact.source.uri;
    expect(sha256((await download(link)).body)).toBe(expected);
    const bytesBefore = s.upstream.state.storage.perArtifact.get(artifact.id)?.bytesSent;
    await s.restartGateway();
    const again = await download(link);
    expect(again.status).toBe(200);
    expect(sha256(again.body)).toBe(expected);
    expect(s.upstream.state.storage.perArtifact.get(artifact.id)?.bytesSent).toBe(bytesBefore);
    expect(s.upstream.state.storage.perArtifact.get(artifact.id)?.fullDownloadsStarted).toBe(1);
  });
});

describe('cached artifacts while the upstream is down', () => {
  it('serves a complete cache entry on its link when neither the Mender server nor storage answers', async () => {
    const s = await startCacheScenario();
    try {
      const device = await s.newDevice();
      const { sha256: expected } = s.addArtifact('offline-1', 512 * 1024);
      const link = (await pollNext(s.gw.url, device, provides)).json!.artifact.source.uri;
      expect(sha256((await download(link)).body)).toBe(expected);
      await s.gw.logs.waitFor((l) => l.msg === 'cache fill finished' && l.artifact === 'offline-1');
      await s.upstream.close();
      const offline = await download(link);
      expect(offline.status).toBe(200);
      expect(sha256(offline.body)).toBe(expected);
      // The API itself is down: polls get 502, the download did not need it.
      const poll = await pollNext(s.gw.url, device, provides);
      expect(poll.status).toBe(502);
    } finally {
      await s.gw.close();
    }
  });
});
