import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CacheLock, LOCK_FILE } from '../../../src/core/cache/cache-lock.js';

/** One `serve` per cache directory. */
describe('CacheLock', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mender-gw-lock-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const writeLock = (owner: { host: string; pid: number }, ageMs = 0): Promise<void> =>
    writeFile(join(dir, LOCK_FILE), JSON.stringify({ ...owner, startedAt: '2026-01-01T00:00:00Z' })).then(
      () => {
        const when = new Date(Date.now() - ageMs);
        return utimes(join(dir, LOCK_FILE), when, when);
      },
    );

  it('takes a free lock, records host and PID, and removes it on release', async () => {
    const lock = new CacheLock(dir);
    await lock.acquire();
    expect(JSON.parse(await readFile(join(dir, LOCK_FILE), 'utf8'))).toMatchObject({
      host: hostname(),
      pid: process.pid,
    });
    await lock.release();
    await expect(readFile(join(dir, LOCK_FILE))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('refuses a lock held by a live process on this host, naming it and the way out', async () => {
    const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    try {
      await writeLock({ host: hostname(), pid: child.pid! });
      const error = await new CacheLock(dir).acquire().catch((err: unknown) => err);
      expect(error).toMatchObject({ code: 'MGW_CACHE_LOCKED' });
      expect((error as Error).message).toContain(`PID ${child.pid} on ${hostname()}`);
      expect((error as { hint: string }).hint).toContain('Features.ArtifactsProxy.ArtifactsCache.Path');
    } finally {
      child.kill();
    }
  });

  it('takes over the lock of a dead process on this host (kill -9, power cut)', async () => {
    const child = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
    await new Promise((resolve) => child.once('exit', resolve));
    await writeLock({ host: hostname(), pid: child.pid! });
    const lock = new CacheLock(dir);
    await lock.acquire();
    expect(JSON.parse(await readFile(join(dir, LOCK_FILE), 'utf8'))).toMatchObject({ pid: process.pid });
    await lock.release();
  });

  it('takes over a lock with our own PID (a restarted container is PID 1 again)', async () => {
    await writeLock({ host: hostname(), pid: process.pid });
    const lock = new CacheLock(dir);
    await lock.acquire();
    await lock.release();
  });

  it('refuses a fresh lock of another host (a shared volume), and takes it once it expired', async () => {
    await writeLock({ host: 'other-gateway', pid: 1 });
    await expect(new CacheLock(dir).acquire()).rejects.toMatchObject({ code: 'MGW_CACHE_LOCKED' });
    await writeLock({ host: 'other-gateway', pid: 1 }, 60_000);
    const lock = new CacheLock(dir);
    await lock.acquire();
    await lock.release();
  });

  it('release leaves a lock that is no longer ours alone', async () => {
    const lock = new CacheLock(dir);
    await lock.acquire();
    await writeLock({ host: 'other-gateway', pid: 7 });
    await lock.release();
    expect(JSON.parse(await readFile(join(dir, LOCK_FILE), 'utf8'))).toMatchObject({ host: 'other-gateway' });
  });
});
