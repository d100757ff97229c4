import { createHash } from 'node:crypto';
import { GatewayError } from '../errors.js';
import type {
  ArtifactEntry,
  ArtifactStore,
  ArtifactWriter,
  NewArtifactEntry,
  RandomAccessReader,
  StoreOpenReport,
} from './artifact-store.js';

/**
 * An in-memory store with a fixed capacity: the second implementation that keeps the
 * store interface honest (it runs the same conformance suite as the disk store), and a
 * fast double for tests of the fan-out and eviction logic.
 */

class BufferReader implements RandomAccessReader {
  constructor(private readonly source: () => Buffer) {}
  read(buffer: Buffer, offset: number, length: number, position: number): Promise<number> {
    const data = this.source();
    if (position >= data.length) return Promise.resolve(0);
    return Promise.resolve(data.copy(buffer, offset, position, Math.min(data.length, position + length)));
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

export class MemoryArtifactStore implements ArtifactStore {
  readonly location = 'memory';
  readonly #entries = new Map<string, { entry: ArtifactEntry; data: Buffer }>();
  #filling = 0;

  readonly #capacity: number;

  constructor(capacity = Number.MAX_SAFE_INTEGER) {
    this.#capacity = capacity;
  }

  open(): Promise<StoreOpenReport> {
    return Promise.resolve({ entries: this.#entries.size, removed: [] });
  }

  list(): ArtifactEntry[] {
    return [...this.#entries.values()].map((e) => e.entry);
  }

  get(key: string): ArtifactEntry | undefined {
    return this.#entries.get(key)?.entry;
  }

  findByArtifactId(artifactId: string): ArtifactEntry | undefined {
    return this.list().find((e) => e.artifactId === artifactId);
  }

  openReader(key: string): Promise<{ entry: ArtifactEntry; reader: RandomAccessReader } | undefined> {
    const found = this.#entries.get(key);
    if (found === undefined) return Promise.resolve(undefined);
    return Promise.resolve({ entry: found.entry, reader: new BufferReader(() => found.data) });
  }

  beginWrite(key: string): Promise<ArtifactWriter> {
    let joined = Buffer.alloc(0);
    let done = false;
    const hash = createHash('sha256');
    // Arrow functions keep `this` (the store) without aliasing it.
    const write = (chunk: Buffer): Promise<void> => {
      if (done) return Promise.reject(new Error('write after commit/abort'));
      if (this.#used() + chunk.length > this.#capacity) {
        return Promise.reject(Object.assign(new Error('no space left in memory store'), { code: 'ENOSPC' }));
      }
      hash.update(chunk);
      joined = Buffer.concat([joined, chunk]);
      this.#filling += chunk.length;
      return Promise.resolve();
    };
    const abort = (): Promise<void> => {
      if (!done) {
        done = true;
        this.#filling -= joined.length;
      }
      return Promise.resolve();
    };
    const commit = (info: NewArtifactEntry): Promise<ArtifactEntry> => {
      if (done) return Promise.reject(new Error('commit after commit/abort'));
      if (joined.length !== info.size) {
        void abort();
        return Promise.reject(
          new GatewayError(
            'MGW_UPSTREAM_BAD_RESPONSE',
            `storage sent ${joined.length} bytes for an artifact of Content-Length ${info.size}`,
          ),
        );
      }
      done = true;
      this.#filling -= joined.length;
      const now = new Date().toISOString();
      const entry: ArtifactEntry = {
        ...info,
        sha256: hash.digest('hex'),
        createdAt: now,
        lastAccessAt: now,
        hits: 0,
        bytesServed: 0,
      };
      this.#entries.set(key, { entry, data: joined });
      return Promise.resolve(entry);
    };
    const writer: ArtifactWriter = {
      key,
      get bytesWritten() {
        return joined.length;
      },
      write,
      openReader: () => Promise.resolve(new BufferReader(() => joined)),
      commit,
      abort,
    };
    return Promise.resolve(writer);
  }

  #used(): number {
    let used = this.#filling;
    for (const { data } of this.#entries.values()) used += data.length;
    return used;
  }

  remove(key: string): Promise<number> {
    const found = this.#entries.get(key);
    this.#entries.delete(key);
    return Promise.resolve(found?.data.length ?? 0);
  }

  recordAccess(key: string, bytesServed: number): Promise<void> {
    const found = this.#entries.get(key);
    if (found !== undefined) {
      found.entry.lastAccessAt = new Date().toISOString();
      found.entry.hits += 1;
      found.entry.bytesServed += bytesServed;
    }
    return Promise.resolve();
  }

  freeSpace(): Promise<number> {
    return Promise.resolve(this.#capacity - this.#used());
  }

  capacity(): Promise<number> {
    return Promise.resolve(this.#capacity);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
