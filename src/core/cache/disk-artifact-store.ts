import { createHash } from 'node:crypto';
import type { Hash } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm, stat, statfs, unlink } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { GatewayError } from '../errors.js';
import type {
  ArtifactEntry,
  ArtifactStore,
  ArtifactWriter,
  NewArtifactEntry,
  RandomAccessReader,
  StoreOpenReport,
} from './artifact-store.js';
import { isProcessAlive } from './process-alive.js';
import { CacheLock } from './cache-lock.js';
import { errnoCode } from '../file-errors.js';
import {
  classify,
  entryDataName,
  entryMetaName,
  fillName,
  isCacheKey,
  metaTempName,
} from './cache-layout.js';

/**
 * The artifact store on disk, flat in `ArtifactsCache.Path`, with the file names of
 * `cache-layout.ts` (docs/cache.md, "Layout on disk" and "Crash safety").
 *
 * A fill is written to a temporary file in the same folder (so `rename` is atomic),
 * fsynced, its length checked against the upstream Content-Length, then published: the
 * metadata first, the bytes last. An entry exists only when both files exist with the
 * recorded size, so a crash at any point leaves either the old state or debris that
 * `open()` removes. Nothing is ever served from a `.partial` as if it were complete.
 */

const PERSIST_DELAY_MS = 1_000;

function entryPaths(dir: string, key: string): { data: string; meta: string } {
  return { data: join(dir, entryDataName(key)), meta: join(dir, entryMetaName(key)) };
}

/** Replace `<key>.json` atomically: a crash leaves the old metadata or the new, never half. */
async function writeMetaDurably(dir: string, key: string, entry: ArtifactEntry): Promise<void> {
  const tmp = join(dir, metaTempName(key));
  const fh = await open(tmp, 'wx', 0o640);
  try {
    await fh.writeFile(`${JSON.stringify(entry, null, 2)}\n`);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, entryPaths(dir, key).meta);
}

async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

function isNotFound(err: unknown): boolean {
  return errnoCode(err) === 'ENOENT';
}

class FileReader implements RandomAccessReader {
  constructor(private readonly fh: FileHandle) {}
  async read(buffer: Buffer, offset: number, length: number, position: number): Promise<number> {
    const { bytesRead } = await this.fh.read(buffer, offset, length, position);
    return bytesRead;
  }
  close(): Promise<void> {
    return this.fh.close();
  }
}

class DiskWriter implements ArtifactWriter {
  bytesWritten = 0;
  readonly #hash: Hash = createHash('sha256');
  #done = false;

  constructor(
    readonly key: string,
    private readonly store: DiskArtifactStore,
    private readonly path: string,
    private readonly fh: FileHandle,
  ) {}

  async write(chunk: Buffer): Promise<void> {
    if (this.#done) throw new Error('write after commit/abort');
    let offset = 0;
    while (offset < chunk.length) {
      const { bytesWritten } = await this.fh.write(
        chunk,
        offset,
        chunk.length - offset,
        this.bytesWritten + offset,
      );
      offset += bytesWritten;
    }
    this.#hash.update(chunk);
    this.bytesWritten += chunk.length;
  }

  async openReader(): Promise<RandomAccessReader> {
    return new FileReader(await open(this.path, 'r'));
  }

  async commit(info: NewArtifactEntry): Promise<ArtifactEntry> {
    if (this.#done) throw new Error('commit after commit/abort');
    if (this.bytesWritten !== info.size) {
      await this.abort();
      throw new GatewayError(
        'MGW_UPSTREAM_BAD_RESPONSE',
        `storage sent ${this.bytesWritten} bytes for an artifact of Content-Length ${info.size}`,
        {
          hint: 'The partial download was discarded; the next request fetches it again.',
        },
      );
    }
    this.#done = true;
    await this.fh.sync();
    await this.fh.close();
    const now = new Date().toISOString();
    const entry: ArtifactEntry = {
      ...info,
      sha256: this.#hash.digest('hex'),
      createdAt: now,
      lastAccessAt: now,
      hits: 0,
      bytesServed: 0,
    };
    await writeMetaDurably(this.store.location, this.key, entry);
    await rename(this.path, entryPaths(this.store.location, this.key).data);
    // Index before any further await: from the rename on, the partial path is gone, and a
    // reader that misses it must find the complete entry instead (no window between the two).
    this.store.index(entry);
    await syncDir(this.store.location);
    return entry;
  }

  async abort(): Promise<void> {
    if (this.#done) return;
    this.#done = true;
    await this.fh.close().catch(() => undefined);
    await unlink(this.path).catch(() => undefined);
  }
}

export class DiskArtifactStore implements ArtifactStore {
  readonly #entries = new Map<string, ArtifactEntry>();
  readonly #pendingPersist = new Map<string, NodeJS.Timeout>();
  readonly #lock: CacheLock;

  constructor(readonly location: string) {
    this.#lock = new CacheLock(location);
  }

  async open(): Promise<StoreOpenReport> {
    await mkdir(this.location, { recursive: true, mode: 0o750 });
    // Before touching anything: the debris below may be another live gateway's work.
    await this.#lock.acquire();
    const removed: string[] = [];
    const names = await readdir(this.location);
    const remove = async (name: string): Promise<void> => {
      await rm(join(this.location, name), { force: true });
      removed.push(name);
    };
    const files = names.map((name) => ({ name, file: classify(name) }));
    for (const { name, file } of files) {
      // A fill of another live process (a second `serve` on the same folder) is not debris.
      if (file.kind === 'fill' && (file.pid === process.pid || !isProcessAlive(file.pid))) await remove(name);
      else if (file.kind === 'meta-temp') await remove(name);
    }
    this.#entries.clear();
    for (const { name, file } of files) {
      if (file.kind !== 'entry-meta') continue;
      const { key } = file;
      const paths = entryPaths(this.location, key);
      let entry: ArtifactEntry;
      try {
        const parsed: unknown = JSON.parse(await readFile(paths.meta, 'utf8'));
        // `null` or a number parses too, and would crash the checks below (and start-up).
        if (typeof parsed !== 'object' || parsed === null) throw new Error('metadata is not an object');
        entry = parsed as ArtifactEntry;
      } catch {
        await remove(name);
        continue;
      }
      const size = await stat(paths.data).then(
        (s) => s.size,
        () => -1,
      );
      if (entry.key !== key || size !== entry.size) {
        // Metadata published but bytes never renamed (crash between the two), or bytes altered.
        await remove(name);
        if (size >= 0) await remove(entryDataName(key));
        continue;
      }
      this.#entries.set(key, entry);
    }
    for (const { name, file } of files) {
      if (file.kind === 'entry-data' && !this.#entries.has(file.key) && !removed.includes(name))
        await remove(name);
    }
    return { entries: this.#entries.size, removed };
  }

  /** @internal called by a writer that published an entry. */
  index(entry: ArtifactEntry): void {
    this.#entries.set(entry.key, entry);
  }

  list(): ArtifactEntry[] {
    return [...this.#entries.values()];
  }

  get(key: string): ArtifactEntry | undefined {
    return this.#entries.get(key);
  }

  findByArtifactId(artifactId: string): ArtifactEntry | undefined {
    for (const entry of this.#entries.values()) if (entry.artifactId === artifactId) return entry;
    return undefined;
  }

  async openReader(key: string): Promise<{ entry: ArtifactEntry; reader: RandomAccessReader } | undefined> {
    const entry = this.#entries.get(key);
    if (entry === undefined || !isCacheKey(key)) return undefined;
    let fh: FileHandle;
    try {
      fh = await open(entryPaths(this.location, key).data, 'r');
    } catch (err) {
      if (!isNotFound(err)) throw err;
      this.#entries.delete(key); // removed behind our back (cache prune): a miss, not an error
      return undefined;
    }
    const { size } = await fh.stat();
    if (size !== entry.size) {
      await fh.close();
      this.#entries.delete(key);
      return undefined;
    }
    return { entry, reader: new FileReader(fh) };
  }

  async beginWrite(key: string): Promise<ArtifactWriter> {
    if (!isCacheKey(key)) throw new Error(`not a cache key: ${key}`);
    const path = join(this.location, fillName(key));
    const fh = await open(path, 'wx', 0o640);
    return new DiskWriter(key, this, path, fh);
  }

  async remove(key: string): Promise<number> {
    if (!isCacheKey(key)) return 0;
    const entry = this.#entries.get(key);
    this.#entries.delete(key);
    const timer = this.#pendingPersist.get(key);
    if (timer !== undefined) clearTimeout(timer);
    this.#pendingPersist.delete(key);
    const paths = entryPaths(this.location, key);
    const size = await stat(paths.data).then(
      (s) => s.size,
      () => entry?.size ?? 0,
    );
    // Metadata first: a crash in between leaves bytes without metadata, which open() removes.
    await unlink(paths.meta).catch((err: unknown) => {
      if (!isNotFound(err)) throw err;
    });
    const existed = await unlink(paths.data).then(
      () => true,
      (err: unknown) => {
        if (!isNotFound(err)) throw err;
        return false;
      },
    );
    return existed ? size : 0;
  }

  recordAccess(key: string, bytesServed: number): Promise<void> {
    const entry = this.#entries.get(key);
    if (entry === undefined) return Promise.resolve();
    entry.lastAccessAt = new Date().toISOString();
    entry.hits += 1;
    entry.bytesServed += bytesServed;
    // Coalesce: a burst of devices downloading one artifact writes its metadata once.
    if (!this.#pendingPersist.has(key)) {
      const timer = setTimeout(() => void this.#persist(key), PERSIST_DELAY_MS);
      timer.unref();
      this.#pendingPersist.set(key, timer);
    }
    return Promise.resolve();
  }

  async #persist(key: string): Promise<void> {
    this.#pendingPersist.delete(key);
    const entry = this.#entries.get(key);
    if (entry === undefined) return;
    const paths = entryPaths(this.location, key);
    // Never resurrect metadata for bytes that `cache prune` removed meanwhile.
    if (
      !(await stat(paths.data).then(
        () => true,
        () => false,
      ))
    )
      return;
    await writeMetaDurably(this.location, key, entry).catch(() => undefined);
  }

  async freeSpace(): Promise<number> {
    const s = await statfs(this.location);
    return s.bavail * s.bsize;
  }

  async capacity(): Promise<number> {
    const s = await statfs(this.location);
    return s.blocks * s.bsize;
  }

  async close(): Promise<void> {
    const keys = [...this.#pendingPersist.keys()];
    for (const key of keys) {
      clearTimeout(this.#pendingPersist.get(key));
      await this.#persist(key);
    }
    await this.#lock.release();
  }
}
