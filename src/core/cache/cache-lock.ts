import { hostname } from 'node:os';
import { join } from 'node:path';
import { link, open, readFile, rename, unlink, utimes, writeFile } from 'node:fs/promises';
import { GatewayError } from '../errors.js';
import { key } from '../config-key.js';
import { isProcessAlive } from './process-alive.js';
import { errnoCode } from '../file-errors.js';
import { LOCK_FILE, lockAsideName } from './cache-layout.js';

/**
 * One `serve` per cache directory: two serve processes pointed at one cache directory by
 * mistake are refused with a clear error (docs/cache.md, "One gateway per cache folder").
 *
 * Two gateways filling and evicting in one folder would each trust an index the other keeps
 * changing. The lock is a file `<Path>/.serve.lock` holding the owner's host name and PID.
 * Node has no `flock`, and a PID alone cannot tell a live owner on another host or container
 * (a shared volume; every container's gateway may be PID 1), so the owner also refreshes the
 * file's mtime every HEARTBEAT_MS. A lock is stale when its owner is this host and that PID is
 * gone (or is our own PID: a restarted container), or when nobody refreshed it for STALE_MS.
 * `cache ls|prune|verify` do not take the lock: they are safe beside a running `serve`.
 */
export { LOCK_FILE } from './cache-layout.js';
const HEARTBEAT_MS = 10_000;
const STALE_MS = 3 * HEARTBEAT_MS;

interface LockOwner {
  host: string;
  pid: number;
  startedAt: string;
}

function parseOwner(text: string): LockOwner | undefined {
  try {
    const value = JSON.parse(text) as Partial<LockOwner>;
    if (
      typeof value.host === 'string' &&
      typeof value.pid === 'number' &&
      typeof value.startedAt === 'string'
    )
      return value as LockOwner;
  } catch {
    // an unreadable lock (torn write by a crash) is stale
  }
  return undefined;
}

export class CacheLock {
  readonly path: string;
  #timer: NodeJS.Timeout | undefined;
  #held = false;
  readonly #owner: LockOwner;

  constructor(readonly directory: string) {
    this.path = join(directory, LOCK_FILE);
    this.#owner = { host: hostname(), pid: process.pid, startedAt: new Date().toISOString() };
  }

  /** Take the lock or throw MGW_CACHE_LOCKED naming the owner. */
  async acquire(): Promise<void> {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const fh = await open(this.path, 'wx', 0o640);
        try {
          await fh.writeFile(`${JSON.stringify(this.#owner)}\n`);
        } finally {
          await fh.close();
        }
        this.#held = true;
        this.#timer = setInterval(() => void this.#heartbeat(), HEARTBEAT_MS);
        this.#timer.unref();
        return;
      } catch (err) {
        if (errnoCode(err) !== 'EEXIST') throw err;
      }
      const holder = await this.#readHolder();
      if (holder === 'gone') continue;
      if (holder.stale) {
        // Replace a stale lock by renaming it away first: of two starters racing here, only
        // one rename succeeds on the same file, and the other retries `wx` and sees the winner.
        // If another starter replaced it between our read and our rename, we moved its fresh
        // lock: put it back (link fails if a third one already holds the path) and look again.
        const aside = join(this.directory, lockAsideName());
        const moved = await rename(this.path, aside).then(
          () => true,
          () => false,
        );
        if (moved) {
          const text = await readFile(aside, 'utf8').catch(() => '');
          if (text !== holder.text) await link(aside, this.path).catch(() => undefined);
          await unlink(aside).catch(() => undefined);
        }
        continue;
      }
      const who = holder.owner;
      throw new GatewayError(
        'MGW_CACHE_LOCKED',
        `the cache directory ${this.directory} is in use by another mender-gw serve` +
          (who === undefined ? '' : ` (PID ${who.pid} on ${who.host}, since ${who.startedAt})`),
        {
          hint:
            `Give each gateway its own ${key('Features.ArtifactsProxy.ArtifactsCache.Path')}, or stop the other one. ` +
            `If it is gone, the lock ${this.path} expires ${STALE_MS / 1000} s after its last refresh.`,
        },
      );
    }
    throw new GatewayError('MGW_CACHE_LOCKED', `could not take the cache lock ${this.path}`, {
      hint: 'Another process keeps replacing it; make sure one gateway uses this directory.',
    });
  }

  async #readHolder(): Promise<'gone' | { owner: LockOwner | undefined; stale: boolean; text: string }> {
    let text: string;
    let mtimeMs: number;
    try {
      const fh = await open(this.path, 'r');
      try {
        text = await fh.readFile('utf8');
        mtimeMs = (await fh.stat()).mtimeMs;
      } finally {
        await fh.close();
      }
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return 'gone';
      throw err;
    }
    const owner = parseOwner(text);
    const expired = Date.now() - mtimeMs > STALE_MS;
    if (owner === undefined) return { owner, text, stale: expired };
    if (owner.host === this.#owner.host)
      return { owner, text, stale: owner.pid === process.pid || !isProcessAlive(owner.pid) };
    return { owner, text, stale: expired };
  }

  async #heartbeat(): Promise<void> {
    if (!this.#held) return;
    const now = new Date();
    await utimes(this.path, now, now).catch(async (err: unknown) => {
      // Removed behind our back (an operator cleaning up): put it back, we still own the cache.
      if (errnoCode(err) === 'ENOENT')
        await writeFile(this.path, `${JSON.stringify(this.#owner)}\n`, { mode: 0o640 }).catch(
          () => undefined,
        );
    });
  }

  /** Release the lock if it is still ours. */
  async release(): Promise<void> {
    if (!this.#held) return;
    this.#held = false;
    clearInterval(this.#timer);
    const current = await readFile(this.path, 'utf8').catch(() => '');
    const owner = parseOwner(current);
    if (owner?.host === this.#owner.host && owner.pid === process.pid)
      await unlink(this.path).catch(() => undefined);
  }
}
