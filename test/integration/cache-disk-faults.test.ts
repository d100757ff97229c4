import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, open, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { startCacheScenario, DEVICE_TYPE } from '../support/cache-scenario.js';
import type { CacheScenario } from '../support/cache-scenario.js';
import { pollNext } from '../support/simulated-device.js';
import type { SimulatedDevice } from '../support/simulated-device.js';
import { waitUntil } from '../support/wait-until.js';
import { mountTmpfs, privilegedRequired, privilegedSupport, unmount } from '../support/privileged.js';

const MiB = 1024 * 1024;
const provides = { device_type: DEVICE_TYPE, artifact_name: 'initial' };
const support = privilegedSupport();
if (!support.ok)
  console.warn(
    `[cache disk faults] ${support.reason}; ${privilegedRequired ? 'MGW_REQUIRE_PRIVILEGED=1, so the tests fail' : 'tests skipped'}`,
  );

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

async function download(url: string): Promise<{ status: number; body: Buffer }> {
  const res = await request(url);
  return { status: res.statusCode, body: Buffer.from(await res.body.arrayBuffer()) };
}

/**
 * Disk and process faults: the cache volume fills up, turns read-only or
 * disappears while serving. The bar: a full disk never fails a device's update, never a
 * wrong byte, and the cache recovers by itself when the volume does.
 */
describe.skipIf(!support.ok && !privilegedRequired)('cache volume faults while serving', () => {
  let mountDir: string;
  let s: CacheScenario;
  let device: SimulatedDevice;
  let mounted = false;

  beforeAll(async () => {
    if (!support.ok) throw new Error(`MGW_REQUIRE_PRIVILEGED=1 but: ${support.reason}`);
    mountDir = await mkdtemp(join(tmpdir(), 'mgw-diskfault-'));
    mountTmpfs(mountDir, 16 * MiB);
    mounted = true;
    s = await startCacheScenario({ cacheDir: mountDir });
    device = await s.newDevice();
  });
  afterAll(async () => {
    await (s as CacheScenario | undefined)?.close();
    if (mounted) unmount(mountDir);
    await rm(mountDir, { recursive: true, force: true });
  });

  async function linkFor(name: string, size: number): Promise<{ link: string; sha256: string }> {
    const { sha256: expected } = s.addArtifact(name, size);
    const link = (await pollNext(s.gw.url, device, provides)).json!.artifact.source.uri;
    return { link, sha256: expected };
  }

  it('volume filled by someone else during a fill: the device still gets every byte, from storage', async () => {
    const { link, sha256: expected } = await linkFor('full-mid-fill', 6 * MiB);
    s.upstream.storageFaults.bytesPerSecond = 6 * MiB;
    const res = await request(link);
    const chunks: Buffer[] = [];
    const received = (async () => {
      for await (const chunk of res.body) chunks.push(chunk as Buffer);
    })();
    await s.gw.logs.waitFor((l) => l.msg === 'cache fill started' && l.artifact === 'full-mid-fill');
    // Another program takes every free block of the cache volume while the fill runs.
    const filler = await open(join(mountDir, 'someone-elses-file'), 'w');
    try {
      const block = Buffer.alloc(MiB, 1);
      for (;;) await filler.write(block);
    } catch (err) {
      expect((err as NodeJS.ErrnoException).code).toBe('ENOSPC');
    } finally {
      await filler.close();
    }
    await received;
    s.upstream.storageFaults.bytesPerSecond = undefined;
    expect(res.statusCode).toBe(200);
    expect(sha256(Buffer.concat(chunks))).toBe(expected);
    const logs = s.gw.logs.lines;
    expect(logs.some((l) => l.msg === 'cache fill failed: partial download discarded')).toBe(true);
    expect(
      logs.some((l) => l.msg === 'cache read failed: serving the rest of the download from storage'),
    ).toBe(true);
    expect((await readdir(mountDir)).filter((n) => n.endsWith('.partial'))).toEqual([]);
    await rm(join(mountDir, 'someone-elses-file'));
  });

  it('volume turned read-only: cached entries are still served, new artifacts come from storage, and caching resumes when it is writable again', async () => {
    const cached = await linkFor('before-ro', 2 * MiB);
    expect(sha256((await download(cached.link)).body)).toBe(cached.sha256);
    await s.gw.logs.waitFor((l) => l.msg === 'cache fill finished' && l.artifact === 'before-ro');

    execFileSync('mount', ['-o', 'remount,ro', mountDir]);
    try {
      expect(sha256((await download(cached.link)).body)).toBe(cached.sha256);
      const fresh = await linkFor('while-ro', 2 * MiB);
      const got = await download(fresh.link);
      expect(got.status).toBe(200);
      expect(sha256(got.body)).toBe(fresh.sha256);
      expect(
        s.gw.logs.lines.some(
          (l) => l.msg === 'cache volume fault: serving from storage' && l.artifact === 'while-ro',
        ),
      ).toBe(true);
    } finally {
      execFileSync('mount', ['-o', 'remount,rw', mountDir]);
    }
    const after = await linkFor('after-ro', 2 * MiB);
    expect(sha256((await download(after.link)).body)).toBe(after.sha256);
    await s.gw.logs.waitFor((l) => l.msg === 'cache fill finished' && l.artifact === 'after-ro');
  });

  it('cache files removed while serving (an operator rm -rf): downloads go on and the cache fills again', async () => {
    const before = await linkFor('before-rm', 1 * MiB);
    expect(sha256((await download(before.link)).body)).toBe(before.sha256);
    await s.gw.logs.waitFor((l) => l.msg === 'cache fill finished' && l.artifact === 'before-rm');

    for (const name of await readdir(mountDir))
      await rm(join(mountDir, name), { recursive: true, force: true });

    const again = await download(before.link);
    expect(again.status).toBe(200);
    expect(sha256(again.body)).toBe(before.sha256);
    // The second fill of the same artifact (the first one's files were removed).
    await waitUntil(
      'the artifact to be cached again',
      () =>
        s.gw.logs.lines.filter((l) => l.msg === 'cache fill finished' && l.artifact === 'before-rm')
          .length === 2,
    );
    expect((await readdir(mountDir)).filter((n) => n.endsWith('.mender'))).toHaveLength(1);
    expect(s.gw.logs.lines.filter((l) => l.level === 'error' || l.level === 'fatal')).toEqual([]);
  });
});

/** The cache folder itself disappears (a volume unmounted or deleted under a running gateway). */
describe('cache directory removed while serving', () => {
  let s: CacheScenario;
  let device: SimulatedDevice;
  let parent: string;
  let cacheDir: string;

  beforeAll(async () => {
    parent = await mkdtemp(join(tmpdir(), 'mgw-vanish-'));
    cacheDir = join(parent, 'cache');
    s = await startCacheScenario({ cacheDir });
    device = await s.newDevice();
  });
  afterAll(async () => {
    await (s as CacheScenario | undefined)?.close();
    await rm(parent, { recursive: true, force: true });
  });

  it('serves every download from storage and never recreates the folder on another volume', async () => {
    const { sha256: cachedSha } = s.addArtifact('vanish-cached', MiB);
    const cachedLink = (await pollNext(s.gw.url, device, provides)).json!.artifact.source.uri;
    expect(sha256((await download(cachedLink)).body)).toBe(cachedSha);
    await s.gw.logs.waitFor((l) => l.msg === 'cache fill finished' && l.artifact === 'vanish-cached');

    await rm(cacheDir, { recursive: true, force: true });

    const again = await download(cachedLink);
    expect(again.status).toBe(200);
    expect(sha256(again.body)).toBe(cachedSha);
    const { sha256: freshSha } = s.addArtifact('vanish-fresh', MiB);
    const freshLink = (await pollNext(s.gw.url, device, provides)).json!.artifact.source.uri;
    const fresh = await download(freshLink);
    expect(fresh.status).toBe(200);
    expect(sha256(fresh.body)).toBe(freshSha);
    expect(
      s.gw.logs.lines.some(
        (l) => l.msg === 'cache volume fault: serving from storage' && l.artifact === 'vanish-fresh',
      ),
    ).toBe(true);
    await expect(readdir(cacheDir)).rejects.toMatchObject({ code: 'ENOENT' });
    // Still ready (every update is served), but degraded, with the reason.
    const ready = await request(`${s.gw.url}/api/internal/v1/gateway/ready`);
    expect(ready.statusCode).toBe(200);
    expect(await ready.body.json()).toMatchObject({
      ready: true,
      degraded: true,
      cache: { path: cacheDir, error: 'ENOENT', fault: { code: 'ENOENT' } },
    });
  });
});
