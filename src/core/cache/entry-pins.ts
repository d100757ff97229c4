import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isProcessAlive } from './process-alive.js';
import { errnoCode } from '../file-errors.js';
import { classifyPinMarker, IN_USE_DIR, pinMarkerFile } from './cache-layout.js';

/**
 * Which cache entries are in use: being served to a device or being filled (pinned entries
 * are never evicted, docs/cache.md "Eviction"). Counted in memory for this process, and
 * mirrored as marker files `<Path>/.in-use/<key>.<pid>` (`cache-layout.ts`) so that
 * `mender-gw cache prune`, a separate process, can see them too. Markers of dead processes
 * are ignored, so a crash never pins an entry forever.
 */
export { IN_USE_DIR } from './cache-layout.js';

export class EntryPins {
  readonly #counts = new Map<string, number>();
  /** Marker writes and removals run in order per key, so a quick unpin+pin never loses the marker. */
  readonly #ops = new Map<string, Promise<void>>();
  readonly #dir: string | undefined;

  /** `cacheDir` undefined: in-memory only (memory store, tests). */
  constructor(cacheDir: string | undefined) {
    this.#dir = cacheDir === undefined ? undefined : join(cacheDir, IN_USE_DIR);
  }

  isPinned(key: string): boolean {
    return (this.#counts.get(key) ?? 0) > 0;
  }

  #inOrder(key: string, op: () => Promise<unknown>): Promise<void> {
    const next = (this.#ops.get(key) ?? Promise.resolve()).then(op).then(
      () => undefined,
      () => undefined,
    );
    this.#ops.set(key, next);
    void next.then(() => {
      if (this.#ops.get(key) === next) this.#ops.delete(key);
    });
    return next;
  }

  async pin(key: string): Promise<void> {
    const count = (this.#counts.get(key) ?? 0) + 1;
    this.#counts.set(key, count);
    const dir = this.#dir;
    if (count === 1 && dir !== undefined) {
      const marker = join(dir, pinMarkerFile(key));
      // Markers only inform `cache prune`: a read-only, full or vanished cache volume must never
      // fail a download (docs/cache.md, "When the cache volume fails"), so errors are swallowed
      // by #inOrder. The folder is made non-recursively: if the cache directory itself is gone
      // (an unmounted volume), it is not silently recreated on the root file system.
      await this.#inOrder(key, () =>
        writeFile(marker, '', { mode: 0o640 }).catch(async (err: unknown) => {
          if (errnoCode(err) !== 'ENOENT') throw err;
          await mkdir(dir, { mode: 0o750 }).catch(() => undefined);
          await writeFile(marker, '', { mode: 0o640 });
        }),
      );
    }
  }

  unpin(key: string): void {
    const count = (this.#counts.get(key) ?? 0) - 1;
    if (count > 0) {
      this.#counts.set(key, count);
      return;
    }
    this.#counts.delete(key);
    const dir = this.#dir;
    if (dir === undefined) return;
    // Removed only if nobody pinned the key again in the meantime.
    void this.#inOrder(key, () =>
      this.isPinned(key) ? Promise.resolve() : rm(join(dir, pinMarkerFile(key)), { force: true }),
    );
  }

  /** Remove this process's markers (shutdown). */
  async clear(): Promise<void> {
    const keys = [...this.#counts.keys()];
    this.#counts.clear();
    if (this.#dir === undefined) return;
    const dir = this.#dir;
    await Promise.all(keys.map((key) => rm(join(dir, pinMarkerFile(key)), { force: true })));
  }
}

/** Keys pinned by any live process, read from the marker folder (used by `cache prune`). */
export async function pinnedKeysOnDisk(cacheDir: string): Promise<Set<string>> {
  const pinned = new Set<string>();
  const dir = join(cacheDir, IN_USE_DIR);
  const names = await readdir(dir).catch(() => [] as string[]);
  for (const name of names) {
    const marker = classifyPinMarker(name);
    if (marker.kind !== 'pin-marker') continue;
    if (isProcessAlive(marker.pid)) pinned.add(marker.key);
    else await rm(join(dir, name), { force: true }).catch(() => undefined);
  }
  return pinned;
}
