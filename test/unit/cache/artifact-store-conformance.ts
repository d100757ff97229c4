import { createHash, randomBytes } from 'node:crypto';
import { readdir, readFile, rename, unlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { cacheKeyFor } from '../../../src/core/artifacts/cache-key.js';
import type {
  ArtifactEntry,
  ArtifactStore,
  NewArtifactEntry,
  RandomAccessReader,
} from '../../../src/core/cache/artifact-store.js';
import { inspectCache, STALE_TEMP_MS } from '../../../src/core/cache/cache-inspect.js';
import type { CacheInspection } from '../../../src/core/cache/cache-inspect.js';
import {
  classify,
  entryDataName,
  entryMetaName,
  fillName,
  metaTempName,
  pinMarkerName,
  quarantineFolderName,
} from '../../../src/core/cache/cache-layout.js';
import { verifyCache } from '../../../src/core/cache/cache-verify.js';
import { EntryPins } from '../../../src/core/cache/entry-pins.js';
import { isGatewayError } from '../../../src/core/errors.js';

/**
 * The behaviour every `ArtifactStore` must show (as tus-node-server's
 * `stores.ts`): run with `describeArtifactStoreConformance` against each implementation.
 */

export interface StoreUnderTest {
  store: ArtifactStore;
  cleanup(): Promise<void>;
}

export interface ConformanceOptions {
  /**
   * `exact`: freeSpace() is the store's own accounting and shrinks by exactly the bytes
   * written (memory store). `volume`: it is the free space of a shared volume, which other
   * processes change too, so only its plausibility can be checked (disk store).
   */
  freeSpace: 'exact' | 'volume';
  /**
   * For a store that keeps its entries in a cache directory: the offline readers
   * (`cache ls|verify|prune`, which read that directory from another process) must see
   * exactly what the store wrote. `reopen` makes a second store on the same directory, as
   * `serve` restarting does. Undefined for a store without files (memory).
   */
  offline?: { reopen(location: string): ArtifactStore } | undefined;
}

/** Above PID_MAX_LIMIT (2^22 on Linux): never a live process, so its files are a crash's. */
const DEAD_PID = 2 ** 22 + 1;

type Recorded = Pick<
  ArtifactEntry,
  | 'key'
  | 'size'
  | 'sha256'
  | 'origin'
  | 'artifactId'
  | 'artifactName'
  | 'createdAt'
  | 'lastAccessAt'
  | 'hits'
  | 'bytesServed'
>;

/** What both `cache ls` and the store say about complete entries, in key order. */
function recorded(entries: readonly Recorded[]): Recorded[] {
  return entries
    .map(
      ({
        key,
        size,
        sha256,
        origin,
        artifactId,
        artifactName,
        createdAt,
        lastAccessAt,
        hits,
        bytesServed,
      }) => ({
        key,
        size,
        sha256,
        origin,
        artifactId,
        artifactName,
        createdAt,
        lastAccessAt,
        hits,
        bytesServed,
      }),
    )
    .sort((a, b) => a.key.localeCompare(b.key));
}

/** `cache ls` of the store's directory; headers are not read (the test bytes are random). */
function inspect(store: ArtifactStore, now?: Date): Promise<CacheInspection> {
  return inspectCache(store.location, { readHeaders: false, now });
}

export function keyOf(name: string): string {
  return cacheKeyFor(new URL(`https://storage.example/bucket/${name}`));
}

export function entryInfo(
  name: string,
  size: number,
  extra: Partial<NewArtifactEntry> = {},
): NewArtifactEntry {
  return {
    key: keyOf(name),
    origin: `https://storage.example/bucket/${name}`,
    artifactId: `id-${name}`,
    artifactName: `release-${name}`,
    size,
    etag: `"etag-${name}"`,
    lastModified: 'Wed, 01 May 2024 12:00:00 GMT',
    contentType: 'application/vnd.mender-artifact',
    ...extra,
  };
}

/** Read `length` bytes from `position`, however many calls the reader needs. */
export async function readRange(
  reader: RandomAccessReader,
  position: number,
  length: number,
): Promise<Buffer> {
  const buffer = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const n = await reader.read(buffer, done, length - done, position + done);
    if (n === 0) break;
    done += n;
  }
  return buffer.subarray(0, done);
}

/** Write `data` as one entry in chunks of `chunk` bytes and commit it. */
export async function putEntry(store: ArtifactStore, name: string, data: Buffer, chunk = 4096) {
  const writer = await store.beginWrite(keyOf(name));
  for (let i = 0; i < data.length; i += chunk) await writer.write(data.subarray(i, i + chunk));
  return writer.commit(entryInfo(name, data.length));
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'no error';
  } catch (err) {
    return isGatewayError(err) ? err.code : `not a GatewayError: ${String(err)}`;
  }
}

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

export function describeArtifactStoreConformance(
  name: string,
  makeStore: () => Promise<StoreUnderTest>,
  options: ConformanceOptions,
): void {
  describe(`ArtifactStore conformance: ${name}`, () => {
    let subject: StoreUnderTest;
    let store: ArtifactStore;

    beforeEach(async () => {
      subject = await makeStore();
      store = subject.store;
    });

    afterEach(async () => {
      await subject.cleanup();
    });

    it('starts empty', async () => {
      expect(await store.open()).toEqual({ entries: 0, removed: [] });
      expect(store.list()).toEqual([]);
      expect(store.get(keyOf('a'))).toBeUndefined();
      expect(store.findByArtifactId('id-a')).toBeUndefined();
      expect(await store.openReader(keyOf('a'))).toBeUndefined();
      expect(typeof store.location).toBe('string');
    });

    it('stores what was written: get, list, findByArtifactId and openReader agree on the exact bytes', async () => {
      const data = randomBytes(100_003);
      const before = Date.now();
      const committed = await putEntry(store, 'a', data, 7_919);
      expect(committed).toEqual({
        ...entryInfo('a', data.length),
        sha256: sha256(data),
        createdAt: expect.any(String),
        lastAccessAt: committed.createdAt,
        hits: 0,
        bytesServed: 0,
      });
      expect(Date.parse(committed.createdAt)).toBeGreaterThanOrEqual(before - 1_000);
      expect(Date.parse(committed.createdAt)).toBeLessThanOrEqual(Date.now() + 1_000);

      expect(store.get(keyOf('a'))).toEqual(committed);
      expect(store.list()).toEqual([committed]);
      expect(store.findByArtifactId('id-a')).toEqual(committed);
      expect(store.findByArtifactId('id-b')).toBeUndefined();

      const opened = await store.openReader(keyOf('a'));
      expect(opened).toBeDefined();
      try {
        expect(opened!.entry).toEqual(committed);
        expect((await readRange(opened!.reader, 0, data.length)).equals(data)).toBe(true);
        // Random access anywhere, and 0 at and beyond the end.
        expect(await readRange(opened!.reader, 50_000, 10)).toEqual(data.subarray(50_000, 50_010));
        const tail = Buffer.alloc(100);
        expect(await opened!.reader.read(tail, 0, 100, data.length - 3)).toBe(3);
        expect(tail.subarray(0, 3)).toEqual(data.subarray(-3));
        expect(await opened!.reader.read(tail, 0, 100, data.length)).toBe(0);
        expect(await opened!.reader.read(tail, 0, 100, data.length + 10)).toBe(0);
        // Into the middle of the caller's buffer.
        const target = Buffer.alloc(10, 0xff);
        expect(await opened!.reader.read(target, 4, 3, 0)).toBe(3);
        expect(target).toEqual(
          Buffer.concat([Buffer.alloc(4, 0xff), data.subarray(0, 3), Buffer.alloc(3, 0xff)]),
        );
      } finally {
        await opened!.reader.close();
      }
    });

    it('keeps several entries apart', async () => {
      const a = randomBytes(1_000);
      const b = randomBytes(2_000);
      await putEntry(store, 'a', a);
      await putEntry(store, 'b', b);
      expect(
        store
          .list()
          .map((e) => e.key)
          .sort(),
      ).toEqual([keyOf('a'), keyOf('b')].sort());
      expect(store.findByArtifactId('id-b')?.key).toBe(keyOf('b'));
      for (const [n, data] of [
        ['a', a],
        ['b', b],
      ] as const) {
        const opened = (await store.openReader(keyOf(n)))!;
        expect(await readRange(opened.reader, 0, data.length + 10)).toEqual(data);
        await opened.reader.close();
      }
    });

    it('stores an empty artifact', async () => {
      const committed = await putEntry(store, 'empty', Buffer.alloc(0));
      expect(committed.size).toBe(0);
      expect(committed.sha256).toBe(sha256(Buffer.alloc(0)));
      const opened = (await store.openReader(keyOf('empty')))!;
      expect(await opened.reader.read(Buffer.alloc(1), 0, 1, 0)).toBe(0);
      await opened.reader.close();
    });

    it('counts bytesWritten and accepts empty chunks', async () => {
      const writer = await store.beginWrite(keyOf('a'));
      expect(writer.key).toBe(keyOf('a'));
      expect(writer.bytesWritten).toBe(0);
      await writer.write(Buffer.from('abc'));
      await writer.write(Buffer.alloc(0));
      await writer.write(Buffer.from('de'));
      expect(writer.bytesWritten).toBe(5);
      const entry = await writer.commit(entryInfo('a', 5));
      expect(entry.sha256).toBe(sha256(Buffer.from('abcde')));
    });

    it.each([
      ['fewer', 99],
      ['more', 101],
    ])(
      'refuses to commit %s bytes than the size with MGW_UPSTREAM_BAD_RESPONSE and keeps nothing',
      async (_what, size) => {
        const writer = await store.beginWrite(keyOf('a'));
        await writer.write(randomBytes(100));
        expect(await codeOf(writer.commit(entryInfo('a', size)))).toBe('MGW_UPSTREAM_BAD_RESPONSE');
        expect(store.get(keyOf('a'))).toBeUndefined();
        expect(store.list()).toEqual([]);
        expect(await store.openReader(keyOf('a'))).toBeUndefined();
        // The writer is finished: nothing more goes in, and a second commit fails too.
        await expect(writer.write(Buffer.from('x'))).rejects.toThrow();
        await expect(writer.commit(entryInfo('a', 100))).rejects.toThrow();
        // The key is free for the next fill.
        const data = randomBytes(100);
        await putEntry(store, 'a', data);
        const opened = (await store.openReader(keyOf('a')))!;
        expect(await readRange(opened.reader, 0, 100)).toEqual(data);
        await opened.reader.close();
      },
    );

    it('keeps nothing after abort, which is idempotent and ends the writer', async () => {
      const writer = await store.beginWrite(keyOf('a'));
      await writer.write(randomBytes(1_000));
      await writer.abort();
      await writer.abort();
      expect(store.get(keyOf('a'))).toBeUndefined();
      expect(store.list()).toEqual([]);
      expect(await store.openReader(keyOf('a'))).toBeUndefined();
      await expect(writer.write(Buffer.from('x'))).rejects.toThrow();
      await expect(writer.commit(entryInfo('a', 1_000))).rejects.toThrow();
    });

    it('lets a reader on a writer see bytes as they are written', async () => {
      const writer = await store.beginWrite(keyOf('a'));
      const reader = await writer.openReader();
      try {
        const buffer = Buffer.alloc(64);
        expect(await reader.read(buffer, 0, 64, 0)).toBe(0);
        await writer.write(Buffer.from('hello '));
        expect(await readRange(reader, 0, 64)).toEqual(Buffer.from('hello '));
        await writer.write(Buffer.from('world'));
        expect(await readRange(reader, 0, 64)).toEqual(Buffer.from('hello world'));
        expect(await readRange(reader, 6, 64)).toEqual(Buffer.from('world'));
        // Not visible as an entry before commit.
        expect(store.get(keyOf('a'))).toBeUndefined();
        expect(store.list()).toEqual([]);
        expect(await store.openReader(keyOf('a'))).toBeUndefined();
      } finally {
        await reader.close();
        await writer.abort();
      }
    });

    it('keeps a reader opened on a writer working across commit', async () => {
      const data = randomBytes(10_000);
      const writer = await store.beginWrite(keyOf('a'));
      const early = await writer.openReader();
      await writer.write(data.subarray(0, 4_000));
      const late = await writer.openReader();
      await writer.write(data.subarray(4_000));
      await writer.commit(entryInfo('a', data.length));
      try {
        expect(await readRange(early, 0, data.length)).toEqual(data);
        expect(await readRange(late, 0, data.length)).toEqual(data);
      } finally {
        await early.close();
        await late.close();
      }
    });

    it('lets a reader opened on a writer finish what was written when the fill is aborted', async () => {
      const data = randomBytes(5_000);
      const writer = await store.beginWrite(keyOf('a'));
      await writer.write(data);
      const reader = await writer.openReader();
      await writer.abort();
      try {
        expect(await readRange(reader, 0, data.length)).toEqual(data);
      } finally {
        await reader.close();
      }
    });

    it('keeps concurrent writers for different keys apart', async () => {
      const a = randomBytes(3_000);
      const b = randomBytes(5_000);
      const wa = await store.beginWrite(keyOf('a'));
      const wb = await store.beginWrite(keyOf('b'));
      for (let i = 0; i < 5; i++) {
        await wa.write(a.subarray(i * 600, (i + 1) * 600));
        await wb.write(b.subarray(i * 1_000, (i + 1) * 1_000));
      }
      await wb.abort();
      await wa.commit(entryInfo('a', a.length));
      expect(store.list().map((e) => e.key)).toEqual([keyOf('a')]);
      const opened = (await store.openReader(keyOf('a')))!;
      expect(await readRange(opened.reader, 0, a.length)).toEqual(a);
      await opened.reader.close();
    });

    it('removes an entry and reports the bytes freed', async () => {
      await putEntry(store, 'a', randomBytes(12_345));
      await putEntry(store, 'b', randomBytes(10));
      expect(await store.remove(keyOf('a'))).toBe(12_345);
      expect(store.get(keyOf('a'))).toBeUndefined();
      expect(store.findByArtifactId('id-a')).toBeUndefined();
      expect(await store.openReader(keyOf('a'))).toBeUndefined();
      expect(store.list().map((e) => e.key)).toEqual([keyOf('b')]);
      expect(await store.remove(keyOf('a'))).toBe(0);
      expect(await store.remove(keyOf('never'))).toBe(0);
    });

    it('records accesses: last access, hits and bytes served', async () => {
      vi.useFakeTimers({ toFake: ['Date'] });
      try {
        vi.setSystemTime(new Date('2024-05-01T12:00:00.000Z'));
        const committed = await putEntry(store, 'a', randomBytes(1_000));
        expect(committed.createdAt).toBe('2024-05-01T12:00:00.000Z');
        vi.setSystemTime(new Date('2024-05-01T13:00:00.000Z'));
        await store.recordAccess(keyOf('a'), 1_000);
        vi.setSystemTime(new Date('2024-05-01T14:00:00.000Z'));
        await store.recordAccess(keyOf('a'), 250);
        const entry = store.get(keyOf('a'))!;
        expect(entry).toMatchObject({
          hits: 2,
          bytesServed: 1_250,
          createdAt: '2024-05-01T12:00:00.000Z',
          lastAccessAt: '2024-05-01T14:00:00.000Z',
        });
        expect(store.list()[0]).toEqual(entry);
        expect(store.findByArtifactId('id-a')).toEqual(entry);
        const opened = (await store.openReader(keyOf('a')))!;
        expect(opened.entry).toEqual(entry);
        await opened.reader.close();
        // Unknown keys are ignored.
        await store.recordAccess(keyOf('never'), 5);
        expect(store.get(keyOf('never'))).toBeUndefined();
      } finally {
        vi.useRealTimers();
      }
    });

    it('reports free space and capacity', async () => {
      const capacity = await store.capacity();
      const free = await store.freeSpace();
      expect(Number.isSafeInteger(capacity)).toBe(true);
      expect(Number.isSafeInteger(free)).toBe(true);
      expect(free).toBeGreaterThan(0);
      expect(free).toBeLessThanOrEqual(capacity);
      if (options.freeSpace === 'exact') {
        const writer = await store.beginWrite(keyOf('a'));
        await writer.write(Buffer.alloc(1_000));
        expect(await store.freeSpace()).toBe(free - 1_000);
        await writer.write(Buffer.alloc(500));
        expect(await store.freeSpace()).toBe(free - 1_500);
        await writer.commit(entryInfo('a', 1_500));
        expect(await store.freeSpace()).toBe(free - 1_500);
        await store.remove(keyOf('a'));
        expect(await store.freeSpace()).toBe(free);
        const aborted = await store.beginWrite(keyOf('b'));
        await aborted.write(Buffer.alloc(700));
        expect(await store.freeSpace()).toBe(free - 700);
        await aborted.abort();
        expect(await store.freeSpace()).toBe(free);
      }
    });

    it('closes cleanly with pending access records', async () => {
      await putEntry(store, 'a', randomBytes(10));
      await store.recordAccess(keyOf('a'), 10);
      await expect(store.close()).resolves.toBeUndefined();
    });

    const offline = options.offline;
    if (offline === undefined) return;

    describe('offline readers see what the store wrote', () => {
      it('after complete fills: the same entries, nothing else, and every hash verifies', async () => {
        await putEntry(store, 'a', randomBytes(20_000));
        await putEntry(store, 'b', randomBytes(1));
        await putEntry(store, 'empty', Buffer.alloc(0));
        const seen = await inspect(store);
        expect(recorded(seen.entries)).toEqual(recorded(store.list()));
        expect(seen.entries.every((e) => !e.inUse)).toBe(true);
        expect(seen.fills).toEqual([]);
        expect(seen.debris).toEqual([]);
        expect(seen.totals).toMatchObject({ entries: 3, bytes: 20_001 });

        const verified = await verifyCache(store.location, { quarantine: false });
        expect(verified.entries.map((e) => [e.key, e.status]).sort()).toEqual(
          [keyOf('a'), keyOf('b'), keyOf('empty')].sort().map((key) => [key, 'ok']),
        );
      });

      it('mid-fill: a fill of this live process, not an entry and not debris', async () => {
        await putEntry(store, 'b', randomBytes(100));
        const writer = await store.beginWrite(keyOf('a'));
        try {
          await writer.write(randomBytes(3_000));
          const seen = await inspect(store);
          expect(seen.fills).toEqual([
            expect.objectContaining({ key: keyOf('a'), pid: process.pid, bytesOnDisk: 3_000 }),
          ]);
          expect(classify(seen.fills[0]!.file)).toEqual({ kind: 'fill', key: keyOf('a'), pid: process.pid });
          expect(recorded(seen.entries)).toEqual(recorded(store.list()));
          expect(store.get(keyOf('a'))).toBeUndefined();
          expect(seen.debris).toEqual([]);

          const verified = await verifyCache(store.location, { quarantine: false });
          expect(verified.fillsInProgress).toBe(1);
          expect(verified.entries.map((e) => e.key)).toEqual([keyOf('b')]);
        } finally {
          await writer.abort();
        }
        const after = await inspect(store);
        expect(after.fills).toEqual([]);
        expect(after.debris).toEqual([]);
      });

      it('with a pin held: in use while pinned, and no longer once released', async () => {
        await putEntry(store, 'a', randomBytes(100));
        await putEntry(store, 'b', randomBytes(100));
        const pins = new EntryPins(store.location);
        await pins.pin(keyOf('a'));
        const pinned = await inspect(store);
        expect(pinned.entries.find((e) => e.key === keyOf('a'))?.inUse).toBe(true);
        expect(pinned.entries.find((e) => e.key === keyOf('b'))?.inUse).toBe(false);
        expect(classify(pinMarkerName(keyOf('a')))).toEqual({
          kind: 'pin-marker',
          key: keyOf('a'),
          pid: process.pid,
        });
        expect(pinned.debris).toEqual([]);
        await pins.clear();
        expect((await inspect(store)).entries.every((e) => !e.inUse)).toBe(true);
      });

      it('after a crash: debris is exactly what the restarted store removes', async () => {
        const dir = store.location;
        await putEntry(store, 'kept', randomBytes(500));
        // Killed mid-fill: the .partial of a process that is gone.
        const writer = await store.beginWrite(keyOf('fill'));
        await writer.write(randomBytes(700));
        const [partial] = (await readdir(dir)).filter((name) => classify(name).kind === 'fill');
        const deadFill = fillName(keyOf('fill'), DEAD_PID);
        await rename(join(dir, partial!), join(dir, deadFill));
        await writer.abort();
        // Killed while publishing: metadata written, bytes never renamed from the .partial.
        await putEntry(store, 'publishing', randomBytes(300));
        const deadPublish = fillName(keyOf('publishing'), DEAD_PID);
        await rename(join(dir, entryDataName(keyOf('publishing'))), join(dir, deadPublish));
        // Killed while removing: metadata unlinked, bytes not yet.
        await putEntry(store, 'removing', randomBytes(200));
        await unlink(join(dir, entryMetaName(keyOf('removing'))));
        // Killed while rewriting metadata: the temporary stays behind.
        const temp = metaTempName(keyOf('kept'));
        await writeFile(join(dir, temp), '{"half":');
        const old = new Date(Date.now() - STALE_TEMP_MS - 60_000);
        await utimes(join(dir, temp), old, old);

        const seen = await inspect(store);
        expect(seen.debris.map((d) => [d.file, d.kind])).toEqual(
          [
            [deadFill, 'dead-fill'],
            [deadPublish, 'dead-fill'],
            [entryMetaName(keyOf('publishing')), 'metadata-without-bytes'],
            [entryDataName(keyOf('removing')), 'bytes-without-metadata'],
            [temp, 'stale-temp'],
          ].sort((a, b) => a[0]!.localeCompare(b[0]!)),
        );
        expect(seen.entries.map((e) => e.key)).toEqual([keyOf('kept')]);

        await store.close();
        const restarted = offline.reopen(dir);
        try {
          const report = await restarted.open();
          expect([...report.removed].sort()).toEqual(seen.debris.map((d) => d.file).sort());
          expect(recorded(restarted.list())).toEqual(recorded(seen.entries));
          const after = await inspect(restarted);
          expect(after.debris).toEqual([]);
          expect(recorded(after.entries)).toEqual(recorded(restarted.list()));
        } finally {
          await restarted.close();
        }
      });

      it('with a quarantined entry: gone for the readers and for the store alike', async () => {
        const now = new Date('2024-05-01T12:00:00.000Z');
        const data = randomBytes(1_000);
        await putEntry(store, 'bad', data);
        await putEntry(store, 'good', randomBytes(1_000));
        const path = join(store.location, entryDataName(keyOf('bad')));
        const bytes = await readFile(path);
        bytes[10] = bytes[10]! ^ 0xff;
        await writeFile(path, bytes);

        const verified = await verifyCache(store.location, { now });
        const moved = verified.entries.find((e) => e.key === keyOf('bad'));
        expect(moved).toMatchObject({ status: 'hash-mismatch', action: 'quarantined' });
        expect(moved?.quarantinedTo).toBe(quarantineFolderName(keyOf('bad'), now));
        expect(classify(moved!.quarantinedTo!)).toEqual({ kind: 'quarantined-entry', key: keyOf('bad') });

        const seen = await inspect(store);
        expect(seen.entries.map((e) => e.key)).toEqual([keyOf('good')]);
        expect(seen.debris).toEqual([]);
        // The running store finds the bytes gone: a miss, and the entry leaves its index.
        expect(await store.openReader(keyOf('bad'))).toBeUndefined();
        expect(recorded(store.list())).toEqual(recorded(seen.entries));

        await store.close();
        const restarted = offline.reopen(store.location);
        try {
          expect(await restarted.open()).toEqual({ entries: 1, removed: [] });
          expect(recorded(restarted.list())).toEqual(recorded(seen.entries));
        } finally {
          await restarted.close();
        }
      });
    });
  });
}
