import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { FakeArtifact, StorageFaults } from '../support/fake-upstream/index.js';
import { callAsDevice, GATEWAY_ARTIFACTS, sha256 } from '../support/device-answer.js';
import type { DeviceAnswer } from '../support/device-answer.js';
import { startCacheScenario, DEVICE_TYPE } from '../support/cache-scenario.js';
import type { CacheScenario } from '../support/cache-scenario.js';
import { startLoopbackServer } from '../support/loopback-server.js';
import type { LoopbackServer } from '../support/loopback-server.js';
import { pollNext } from '../support/simulated-device.js';
import type { SimulatedDevice } from '../support/simulated-device.js';

/**
 * Upstream faults, on the artifact storage side: bodies shorter or longer
 * than their Content-Length, and redirects off the whitelist, in cache mode and proxy-only
 * mode. What must hold whatever the gateway does about it (docs/protocol.md §7, docs/security.md §3):
 * a device never receives a byte storage did not send for that artifact (what it gets is a
 * prefix of the artifact), it gets either the whole artifact or a cut connection (never a
 * complete-looking body of the wrong length), a short body is never committed to the cache,
 * and the gateway goes on serving.
 *
 * Cache fills that lose their storage connection may resume with Range/If-Range (a policy in
 * src/core/cache that may change): the assertions on a fill cut a few times hold whether it
 * resumes or not. Already covered elsewhere: a fill whose body errors, is short or long, at
 * unit level (unit/cache/artifact-cache.test.ts); a proxy link to a host off the whitelist
 * (artifact-proxy.test.ts).
 */

const KiB = 1024;
const provides = { device_type: DEVICE_TYPE, artifact_name: 'initial' };

type Download = DeviceAnswer;

const download = (url: string, headers: Record<string, string> = {}): Promise<Download> =>
  callAsDevice(url, { headers });

/**
 * The device got only bytes of the artifact, in order from `offset`; and either all of them,
 * matching the declared length and the artifact's hash, or a cut connection.
 */
function expectHonest(got: Download, data: Buffer, offset = 0): void {
  expect(got.body.equals(data.subarray(offset, offset + got.body.length))).toBe(true);
  if (got.cut === undefined) {
    expect(got.body.length).toBe(Number(got.headers['content-length']));
    expect(got.body.length).toBe(data.length - offset);
    expect(sha256(got.body)).toBe(sha256(data.subarray(offset)));
  } else {
    expect(got.body.length).toBeLessThan(data.length - offset);
  }
}

describe.each([
  ['cache', true],
  ['proxy-only', false],
] as const)('storage faults, %s mode', (mode, cache) => {
  let s: CacheScenario;
  let device: SimulatedDevice;
  /** A host outside DomainWhitelist (only 127.0.0.2 is on it) that a redirect points to. */
  let elsewhere: LoopbackServer;
  const elsewhereRequests: string[] = [];

  beforeAll(async () => {
    s = await startCacheScenario({ cache });
    device = await s.newDevice();
    elsewhere = await startLoopbackServer((req, res) => {
      elsewhereRequests.push(req.url ?? '');
      res.writeHead(200, { 'content-length': 6 });
      res.end('stolen');
    }, '127.0.0.3');
  });
  function clearFaults(): void {
    const faults = s.upstream.storageFaults;
    for (const key of Object.keys(faults) as (keyof StorageFaults)[]) faults[key] = undefined;
  }

  afterEach(() => {
    clearFaults();
  });
  afterAll(async () => {
    await elsewhere.close();
    await s.close();
  });

  /** A new artifact, and the gateway link deployments/next hands out for it. */
  async function deploy(
    name: string,
    size: number,
  ): Promise<{ artifact: FakeArtifact; link: string; key: string }> {
    const { artifact } = s.addArtifact(name, size);
    const answer = await pollNext(s.gw.url, device, provides);
    expect(answer.status).toBe(200);
    const link = answer.json!.artifact.source.uri;
    expect(link.startsWith(`${s.gatewayUrl}${GATEWAY_ARTIFACTS}`)).toBe(true);
    return { artifact, link, key: new URL(link).pathname.split('/').pop()! };
  }

  /** The complete cache entry's bytes, if the fill was committed. */
  async function cached(key: string): Promise<Buffer | undefined> {
    return readFile(join(s.cacheDir, `${key}.mender`)).catch(() => undefined);
  }
  async function partialFiles(): Promise<string[]> {
    return (await readdir(s.cacheDir)).filter((name) => name.endsWith('.partial'));
  }

  /** In cache mode: wait until the fill of `name` has ended, committed or discarded. */
  async function fillEnded(name: string): Promise<'finished' | 'failed' | undefined> {
    if (!cache) return undefined;
    const line = await s.gw.logs.waitFor(
      (l) =>
        (l.msg === 'cache fill finished' || l.msg.startsWith('cache fill failed')) && l.artifact === name,
      30_000,
    );
    return line.msg === 'cache fill finished' ? 'finished' : 'failed';
  }

  /** With every fault cleared, the link serves the whole artifact. */
  async function servedAfterwards(link: string, artifact: FakeArtifact): Promise<void> {
    clearFaults();
    const again = await download(link);
    expect(again.status).toBe(200);
    expect(again.cut).toBeUndefined();
    expect(sha256(again.body)).toBe(sha256(artifact.data));
  }

  it.each([
    ['an orderly close (FIN)', 'fin', { shortBodyBytes: 48 * KiB, shortBodyTimes: 2 }],
    ['a dropped connection', 'drop', { abortAfterBytes: 48 * KiB, abortTimes: 2 }],
  ] as const)(
    'storage ends two bodies short of their Content-Length with %s: the device gets a prefix or the whole artifact, never a wrong byte',
    async (_how, slug, fault) => {
      const name = `short-twice-${mode}-${slug}`;
      const { artifact, link, key } = await deploy(name, 256 * KiB);
      Object.assign(s.upstream.storageFaults, fault);
      const got = await download(link);
      expect(got.status).toBe(200);
      expect(got.headers['content-length']).toBe(String(256 * KiB));
      expectHonest(got, artifact.data);
      const outcome = await fillEnded(name);
      // A committed entry is exactly the artifact; a failed fill leaves nothing behind.
      const entry = await cached(key);
      if (outcome === 'finished') expect(sha256(entry!)).toBe(sha256(artifact.data));
      else expect(entry).toBeUndefined();
      expect(await partialFiles()).toEqual([]);
      await servedAfterwards(link, artifact);
    },
  );

  it('storage always ends the body short of its Content-Length: the device connection is cut after a prefix, nothing is cached, and the next download fetches again', async () => {
    const name = `short-always-${mode}`;
    const { artifact, link, key } = await deploy(name, 256 * KiB);
    // Every response, resumed ones included, stops after 16 KiB and closes cleanly.
    s.upstream.storageFaults.shortBodyBytes = 16 * KiB;
    const got = await download(link);
    expect(got.status).toBe(200);
    expect(got.cut).toBeDefined();
    expectHonest(got, artifact.data);
    if (cache) {
      expect(await fillEnded(name)).toBe('failed');
      expect(await cached(key)).toBeUndefined();
      expect(await partialFiles()).toEqual([]);
    }
    const counters = s.upstream.state.storage.perArtifact.get(artifact.id)!;
    const fullBefore = counters.fullDownloadsStarted;
    await servedAfterwards(link, artifact);
    // The short body was not kept: the artifact came from storage again, from its first byte.
    expect(counters.fullDownloadsStarted).toBe(fullBefore + 1);
    if (cache) {
      await s.gw.logs.waitFor((l) => l.msg === 'cache fill finished' && l.artifact === name);
      expect(sha256((await cached(key))!)).toBe(sha256(artifact.data));
    }
  });

  it('storage sends more bytes than its Content-Length: the device gets exactly the artifact, never the extra bytes', async () => {
    const name = `extra-${mode}`;
    const { artifact, link, key } = await deploy(name, 200 * KiB);
    s.upstream.storageFaults.extraBytes = 4 * KiB;
    const got = await download(link);
    expect(got.status).toBe(200);
    expect(got.cut).toBeUndefined();
    expect(got.body.equals(artifact.data)).toBe(true);
    // A range on the same link: exactly the range.
    const part = await download(link, { range: 'bytes=1000-1999' });
    expect(part.status).toBe(206);
    expect(part.headers['content-range']).toBe(`bytes 1000-1999/${200 * KiB}`);
    expect(part.body.equals(artifact.data.subarray(1000, 2000))).toBe(true);
    if (cache) {
      expect(await fillEnded(name)).toBe('finished');
      expect((await cached(key))!.equals(artifact.data)).toBe(true);
    }
    await servedAfterwards(link, artifact);
  });

  it.each([301, 302, 303, 307, 308] as const)(
    'storage redirects with %i to a host off the whitelist: 502, the redirect is neither followed nor relayed',
    async (status) => {
      const name = `redirect-${mode}-${status}`;
      const { artifact, link, key } = await deploy(name, 32 * KiB);
      const target = `${elsewhere.url}/mender-artifacts/${artifact.id}?X-Amz-Signature=elsewhere`;
      s.upstream.storageFaults.redirectTo = target;
      s.upstream.storageFaults.redirectStatus = status;
      const got = await download(link);
      expect(got.status).toBe(502);
      expect(got.cut).toBeUndefined();
      expect(got.headers.location).toBeUndefined();
      expect(got.headers['content-type']).toMatch(/^application\/json/);
      expect((JSON.parse(got.body.toString()) as { error: string }).error).toBe(
        `storage answered ${status} (redirect not followed)`,
      );
      expect(got.body.toString()).not.toContain(elsewhere.url.slice('http://'.length));
      expect(elsewhereRequests).toEqual([]);
      if (cache) expect(await cached(key)).toBeUndefined();
      await servedAfterwards(link, artifact);
      expect(elsewhereRequests).toEqual([]);
    },
  );
});
