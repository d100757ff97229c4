import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { startCacheScenario, DEVICE_TYPE } from '../support/cache-scenario.js';
import type { CacheScenario } from '../support/cache-scenario.js';
import { pollNext } from '../support/simulated-device.js';
import type { SimulatedDevice } from '../support/simulated-device.js';
import { mountTmpfs, privilegedRequired, privilegedSupport, unmount } from '../support/privileged.js';

const MiB = 1024 * 1024;
const provides = { device_type: DEVICE_TYPE, artifact_name: 'initial' };
const support = privilegedSupport();
if (!support.ok)
  console.warn(
    `[cache eviction] ${support.reason}; ${privilegedRequired ? 'MGW_REQUIRE_PRIVILEGED=1, so the tests fail' : 'tests skipped'}`,
  );

async function fetchAll(url: string): Promise<Buffer> {
  const res = await request(url);
  if (res.statusCode !== 200) throw new Error(`download answered ${res.statusCode}`);
  return Buffer.from(await res.body.arrayBuffer());
}

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

/**
 * Artifact cache acceptance: on a small filesystem, filling past capacity evicts the
 * least-recently-used entry that is not in use, never one being read, and an artifact larger
 * than the whole cache is still delivered, uncached.
 */
describe.skipIf(!support.ok && !privilegedRequired)('cache eviction on a 14 MiB tmpfs', () => {
  let mountDir: string;
  let s: CacheScenario;
  let device: SimulatedDevice;
  let mounted = false;

  beforeAll(async () => {
    if (!support.ok) throw new Error(`MGW_REQUIRE_PRIVILEGED=1 but: ${support.reason}`);
    mountDir = await mkdtemp(join(tmpdir(), 'mgw-evict-'));
    mountTmpfs(mountDir, 14 * MiB);
    mounted = true;
    s = await startCacheScenario({ cacheDir: mountDir });
    device = await s.newDevice();
  });
  afterAll(async () => {
    await (s as CacheScenario | undefined)?.close();
    if (mounted) unmount(mountDir);
    await rm(mountDir, { recursive: true, force: true });
  });

  async function cachedLink(
    name: string,
    size: number,
  ): Promise<{ link: string; sha256: string; key: string }> {
    const { sha256: expected } = s.addArtifact(name, size);
    const link = (await pollNext(s.gw.url, device, provides)).json!.artifact.source.uri;
    return { link, sha256: expected, key: new URL(link).pathname.split('/').pop()! };
  }

  it('evicts the least recently used entry that is not being read, and serves an oversized artifact uncached', async () => {
    const a = await cachedLink('evict-a', 5 * MiB);
    expect(sha256(await fetchAll(a.link))).toBe(a.sha256);
    const b = await cachedLink('evict-b', 5 * MiB);
    expect(sha256(await fetchAll(b.link))).toBe(b.sha256);
    await s.gw.logs.waitFor((l) => l.msg === 'cache fill finished' && l.artifact === 'evict-b');

    // Order by last access: B (filled, never re-read) is older than A's fresh hit... so make
    // B the most recent instead, then hold A open: A is the LRU entry, but it is in use.
    expect(sha256(await fetchAll(b.link))).toBe(b.sha256);
    const held = await request(a.link);
    const heldIterator = held.body[Symbol.asyncIterator]();
    const firstChunk = (await heldIterator.next()).value as Buffer; // A is pinned while this response is open

    const c = await cachedLink('evict-c', 5 * MiB);
    expect(sha256(await fetchAll(c.link))).toBe(c.sha256);
    await s.gw.logs.waitFor((l) => l.msg === 'cache fill finished' && l.artifact === 'evict-c');
    const evicted = s.gw.logs.lines.filter((l) => l.msg === 'cache entry evicted').map((l) => l.artifact);
    expect(evicted).toEqual(['evict-b']);
    const files = await readdir(mountDir);
    expect(files).toContain(`${a.key}.mender`);
    expect(files).not.toContain(`${b.key}.mender`);
    expect(files).toContain(`${c.key}.mender`);

    // The held download of A completes with the right bytes: it was never deleted under it.
    const rest: Buffer[] = [firstChunk];
    for (let next = await heldIterator.next(); next.done !== true; next = await heldIterator.next())
      rest.push(next.value as Buffer);
    expect(sha256(Buffer.concat(rest))).toBe(a.sha256);

    // Larger than the whole volume: delivered straight through, never cached.
    const d = await cachedLink('evict-d', 20 * MiB);
    expect(sha256(await fetchAll(d.link))).toBe(d.sha256);
    await s.gw.logs.waitFor((l) => l.msg === 'artifact does not fit in the cache: serving it uncached');
    expect((await readdir(mountDir)).some((n) => n.startsWith(d.key))).toBe(false);
  });
});
