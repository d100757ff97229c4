import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable, Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { cacheKeyFor } from '../../../src/core/artifacts/cache-key.js';
import { ArtifactCache, freeSpaceMargin } from '../../../src/core/cache/artifact-cache.js';
import type {
  ArtifactRef,
  CacheEvents,
  CacheLookup,
  OriginFetcher,
  OriginResponse,
} from '../../../src/core/cache/artifact-cache.js';
import type { ArtifactEntry, ArtifactStore } from '../../../src/core/cache/artifact-store.js';
import { DiskArtifactStore } from '../../../src/core/cache/disk-artifact-store.js';
import { EntryPins } from '../../../src/core/cache/entry-pins.js';
import { MemoryArtifactStore } from '../../../src/core/cache/memory-artifact-store.js';
import { createRangeStream } from '../../../src/core/cache/read-stream.js';
import { createLogger } from '../../../src/core/logger.js';

const logger = createLogger(
  'error',
  new Writable({
    write(_chunk, _encoding, callback) {
      callback();
    },
  }),
);

function refFor(name: string): ArtifactRef {
  const origin = new URL(`https://storage.example/bucket/${name}?X-Amz-Signature=secret-${name}`);
  return { key: cacheKeyFor(origin), origin, artifactId: `id-${name}`, artifactName: `release-${name}` };
}

function ok(body: Readable, size: number | undefined, extra: Record<string, string> = {}): OriginResponse {
  const headers: Record<string, string> = { 'content-type': 'application/vnd.mender-artifact', ...extra };
  if (size !== undefined) headers['content-length'] = String(size);
  return { statusCode: 200, headers, body };
}

/** A body that is already complete. */
const bodyOf = (data: Buffer): Readable => Readable.from([data]);

/** Stream what a lookup serves, from byte 0 to the end. */
function streamOf(lookup: CacheLookup) {
  switch (lookup.kind) {
    case 'entry':
      return createRangeStream(lookup.reader, 0, lookup.entry.size - 1);
    case 'fill':
      return createRangeStream(lookup.reader, 0, lookup.fill.size - 1, lookup.fill);
    case 'bypass':
      throw new Error(`no cache stream for a bypass (${lookup.reason})`);
  }
}

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function serve(lookup: CacheLookup): Promise<Buffer> {
  try {
    return await collect(streamOf(lookup));
  } finally {
    lookup.release();
  }
}

function firstChunk(stream: Readable): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    stream.once('data', resolve);
    stream.once('error', reject);
  });
}

function expectKind<K extends CacheLookup['kind']>(
  lookup: CacheLookup,
  kind: K,
): Extract<CacheLookup, { kind: K }> {
  expect(lookup.kind).toBe(kind);
  return lookup as Extract<CacheLookup, { kind: K }>;
}

interface Setup {
  store: ArtifactStore;
  pins: EntryPins;
  cache: ArtifactCache;
  fetchOrigin: ReturnType<typeof vi.fn<OriginFetcher>>;
  events: {
    started: string[];
    finished: string[];
    failed: string[];
    evicted: { key: string; reason: string }[];
  };
}

async function setup(store: ArtifactStore = new MemoryArtifactStore()): Promise<Setup> {
  const pins = new EntryPins(undefined);
  const fetchOrigin = vi.fn<OriginFetcher>();
  const events: Setup['events'] = { started: [], finished: [], failed: [], evicted: [] };
  const hooks: CacheEvents = {
    fillStarted: (ref) => events.started.push(ref.key),
    fillFinished: (ref) => events.finished.push(ref.key),
    fillFailed: (ref) => events.failed.push(ref.key),
    evicted: (entry, reason) => events.evicted.push({ key: entry.key, reason }),
  };
  const cache = new ArtifactCache(store, pins, fetchOrigin, logger, hooks);
  await cache.open();
  return { store, pins, cache, fetchOrigin, events };
}

/** Put a complete entry in the cache through a fill, and release it. */
async function cached(s: Setup, name: string, data: Buffer): Promise<ArtifactEntry> {
  s.fetchOrigin.mockResolvedValueOnce(ok(bodyOf(data), data.length));
  const lookup = await s.cache.acquire(refFor(name));
  const fill = expectKind(lookup, 'fill').fill;
  expect(await serve(lookup)).toEqual(data);
  return fill.finished;
}

describe('freeSpaceMargin', () => {
  it('keeps 5 % of the volume free, at most 64 MiB', () => {
    expect(freeSpaceMargin(1_000)).toBe(50);
    expect(freeSpaceMargin(100 * 1024 * 1024)).toBe(5 * 1024 * 1024);
    expect(freeSpaceMargin(10 * 1024 ** 4)).toBe(64 * 1024 * 1024);
  });
});

describe('ArtifactCache (docs/protocol.md §4.6)', () => {
  describe('single flight', () => {
    it('downloads once for N concurrent misses; every reader gets identical bytes', async () => {
      const s = await setup();
      const data = randomBytes(700_000);
      const body = new PassThrough();
      s.fetchOrigin.mockResolvedValue(
        ok(body, data.length, { etag: '"e1"', 'last-modified': 'Wed, 01 May 2024 12:00:00 GMT' }),
      );
      const ref = refFor('a');

      const lookups = await Promise.all(Array.from({ length: 8 }, () => s.cache.acquire(ref)));
      expect(s.fetchOrigin).toHaveBeenCalledTimes(1);
      expect(s.fetchOrigin.mock.calls[0]?.[0]).toBe(ref.origin);
      const fills = lookups.map((l) => expectKind(l, 'fill'));
      expect(new Set(fills.map((l) => l.fill)).size).toBe(1);
      expect(fills.filter((l) => l.started)).toHaveLength(1);
      expect(s.cache.fillsInProgress).toBe(1);
      expect(s.events.started).toEqual([ref.key]);

      const served = Promise.all(lookups.map(serve));
      for (let i = 0; i < data.length; i += 65_536) body.write(data.subarray(i, i + 65_536));
      body.end();
      for (const out of await served) expect(out.equals(data)).toBe(true);

      const entry = await fills[0]!.fill.finished;
      expect(entry).toMatchObject({
        key: ref.key,
        // The presigned query never reaches the store.
        origin: 'https://storage.example/bucket/a',
        artifactId: 'id-a',
        artifactName: 'release-a',
        size: data.length,
        etag: '"e1"',
        lastModified: 'Wed, 01 May 2024 12:00:00 GMT',
        contentType: 'application/vnd.mender-artifact',
      });
      expect(s.store.get(ref.key)).toEqual(entry);
      expect(s.events.finished).toEqual([ref.key]);
      expect(s.cache.fillsInProgress).toBe(0);
      expect(s.pins.isPinned(ref.key)).toBe(false);

      // The next request is a hit, served from the entry without asking the origin.
      const hit = expectKind(await s.cache.acquire(ref), 'entry');
      expect(hit.entry).toEqual(entry);
      expect((await serve(hit)).equals(data)).toBe(true);
      expect(s.fetchOrigin).toHaveBeenCalledTimes(1);
    });

    it('serves the first bytes before the download has finished', async () => {
      const s = await setup();
      const body = new PassThrough();
      s.fetchOrigin.mockResolvedValue(ok(body, 10_000));
      const lookup = expectKind(await s.cache.acquire(refFor('a')), 'fill');
      const stream = streamOf(lookup);
      const first = firstChunk(stream);
      const head = randomBytes(1_000);
      body.write(head);
      expect(await first).toEqual(head);
      expect(lookup.fill.state).toBe('filling');
      expect(lookup.fill.written).toBe(1_000);
      // A second device joining now gets the same fill and reads from byte 0.
      const late = expectKind(await s.cache.acquire(refFor('a')), 'fill');
      expect(late.fill).toBe(lookup.fill);
      expect(late.started).toBe(false);
      const lateOut = serve(late);
      const tail = randomBytes(9_000);
      body.end(tail);
      expect(await lateOut).toEqual(Buffer.concat([head, tail]));
      stream.destroy();
      lookup.release();
    });

    it('pins the entry while a lookup is held, and release is idempotent', async () => {
      const s = await setup();
      await cached(s, 'a', randomBytes(100));
      const ref = refFor('a');
      const one = await s.cache.acquire(ref);
      const two = await s.cache.acquire(ref);
      expect(s.pins.isPinned(ref.key)).toBe(true);
      one.release();
      one.release();
      expect(s.pins.isPinned(ref.key)).toBe(true);
      two.release();
      expect(s.pins.isPinned(ref.key)).toBe(false);
      if (one.kind === 'entry') await one.reader.close();
      if (two.kind === 'entry') await two.reader.close();
    });
  });

  describe('pins belong to the exchange', () => {
    it('releases the pin when the exchange ends while storage has not answered yet', async () => {
      const s = await setup();
      const ref = refFor('a');
      const data = randomBytes(100);
      let answer: (r: Awaited<ReturnType<OriginFetcher>>) => void = () => undefined;
      s.fetchOrigin.mockReturnValueOnce(new Promise((resolve) => (answer = resolve)));
      const exchange = new AbortController();
      const pending = s.cache.acquire(ref, exchange.signal);
      await vi.waitFor(() => expect(s.fetchOrigin).toHaveBeenCalledTimes(1));
      expect(s.pins.isPinned(ref.key)).toBe(true);
      exchange.abort();
      expect(s.pins.isPinned(ref.key)).toBe(false);
      answer(ok(bodyOf(data), data.length));
      await expect(pending).rejects.toMatchObject({ code: 'MGW_BAD_REQUEST' });
      // The fill goes on for the next device, and the entry it leaves is not pinned.
      const entry = expectKind(await s.cache.acquire(ref), 'fill');
      await entry.fill.finished;
      entry.release();
      await entry.reader.close();
      expect(s.pins.isPinned(ref.key)).toBe(false);
    });

    it('refuses a lookup for an exchange that already ended, pinning nothing', async () => {
      const s = await setup();
      const exchange = new AbortController();
      exchange.abort();
      await expect(s.cache.acquire(refFor('a'), exchange.signal)).rejects.toMatchObject({
        code: 'MGW_BAD_REQUEST',
      });
      expect(s.pins.isPinned(refFor('a').key)).toBe(false);
      expect(s.fetchOrigin).not.toHaveBeenCalled();
    });
  });

  describe('fill failures: nothing is committed and the next request fetches again', () => {
    it('origin body errors mid-way: readers error, nothing committed', async () => {
      const s = await setup();
      const body = new PassThrough();
      s.fetchOrigin.mockResolvedValueOnce(ok(body, 10_000));
      const ref = refFor('a');
      const lookups = [await s.cache.acquire(ref), await s.cache.acquire(ref)];
      const fill = expectKind(lookups[0]!, 'fill').fill;
      const outcomes = lookups.map((l) =>
        collect(streamOf(l)).then(
          () => 'ended',
          (err: unknown) => (err as Error).message,
        ),
      );
      body.write(randomBytes(4_000));
      await fill.waitFor(3_999);
      body.destroy(new Error('ECONNRESET from storage'));

      // No ETag or Last-Modified: the fill cannot prove a resumed body is the same artifact.
      const message = 'storage connection lost after 4000 of 10000 bytes (ECONNRESET from storage)';
      expect(await Promise.all(outcomes)).toEqual([message, message]);
      await expect(fill.finished).rejects.toThrow(message);
      expect(fill.state).toBe('failed');
      for (const l of lookups) l.release();
      expect(s.store.get(ref.key)).toBeUndefined();
      expect(s.store.list()).toEqual([]);
      expect(await s.store.freeSpace()).toBe(await s.store.capacity());
      expect(s.events.failed).toEqual([ref.key]);
      expect(s.cache.fillsInProgress).toBe(0);
      expect(s.pins.isPinned(ref.key)).toBe(false);

      const data = randomBytes(10_000);
      s.fetchOrigin.mockResolvedValueOnce(ok(bodyOf(data), data.length));
      const retry = expectKind(await s.cache.acquire(ref), 'fill');
      expect(retry.fill).not.toBe(fill);
      expect(await serve(retry)).toEqual(data);
      expect(s.fetchOrigin).toHaveBeenCalledTimes(2);
      expect(s.store.get(ref.key)?.size).toBe(10_000);
    });

    it('origin sends fewer bytes than its Content-Length: fill fails with MGW_UPSTREAM_BAD_RESPONSE', async () => {
      const s = await setup();
      s.fetchOrigin.mockResolvedValueOnce(ok(bodyOf(randomBytes(999)), 1_000));
      const lookup = expectKind(await s.cache.acquire(refFor('a')), 'fill');
      await expect(serve(lookup)).rejects.toMatchObject({ code: 'MGW_UPSTREAM_BAD_RESPONSE' });
      await expect(lookup.fill.finished).rejects.toMatchObject({ code: 'MGW_UPSTREAM_BAD_RESPONSE' });
      expect(s.store.list()).toEqual([]);
      expect(await s.store.freeSpace()).toBe(await s.store.capacity());
    });

    it('origin sends more bytes than its Content-Length: fill fails, nothing committed', async () => {
      const s = await setup();
      const body = new PassThrough();
      s.fetchOrigin.mockResolvedValueOnce(ok(body, 1_000));
      const lookup = expectKind(await s.cache.acquire(refFor('a')), 'fill');
      body.write(randomBytes(600));
      body.end(randomBytes(600));
      await expect(lookup.fill.finished).rejects.toMatchObject({ code: 'MGW_UPSTREAM_BAD_RESPONSE' });
      lookup.release();
      await lookup.reader.close();
      expect(s.store.list()).toEqual([]);
      expect(body.destroyed).toBe(true);
    });

    it('keeps a complete download when only the end of the exchange is lost', async () => {
      const s = await setup();
      const body = new PassThrough();
      s.fetchOrigin.mockResolvedValueOnce(ok(body, 1_000));
      const lookup = expectKind(await s.cache.acquire(refFor('a')), 'fill');
      const data = randomBytes(1_000);
      body.write(data);
      await lookup.fill.waitFor(999);
      body.destroy(new Error('socket hang up'));
      await expect(lookup.fill.finished).resolves.toMatchObject({ size: 1_000 });
      expect(await serve(lookup)).toEqual(data);
    });

    it('origin unreachable: the request fails, nothing stays pinned, and the next request fetches again', async () => {
      const s = await setup();
      const ref = refFor('a');
      s.fetchOrigin.mockRejectedValueOnce(
        Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
      );
      await expect(s.cache.acquire(ref)).rejects.toThrow('ECONNREFUSED');
      expect(s.pins.isPinned(ref.key)).toBe(false);

      const data = randomBytes(100);
      s.fetchOrigin.mockResolvedValueOnce(ok(bodyOf(data), data.length));
      const retry = expectKind(await s.cache.acquire(ref), 'fill');
      expect(await serve(retry)).toEqual(data);
      expect(s.fetchOrigin).toHaveBeenCalledTimes(2);
    });

    it('origin unreachable: no unhandled rejection when no other device is waiting (it would end the process)', async () => {
      const s = await setup();
      const unhandled: unknown[] = [];
      const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
      process.on('unhandledRejection', onUnhandled);
      try {
        s.fetchOrigin.mockRejectedValueOnce(new Error('connect ETIMEDOUT'));
        await expect(s.cache.acquire(refFor('a'))).rejects.toThrow('ETIMEDOUT');
        // Unhandled rejections are reported once the microtask queue has drained.
        await new Promise((resolve) => setImmediate(resolve));
        await new Promise((resolve) => setImmediate(resolve));
        expect(unhandled).toEqual([]);
      } finally {
        process.off('unhandledRejection', onUnhandled);
      }
    });

    it('origin unreachable with several devices waiting: all of them fail, with one attempt', async () => {
      const s = await setup();
      const ref = refFor('a');
      let refuse!: (err: Error) => void;
      s.fetchOrigin.mockReturnValueOnce(
        new Promise((_resolve, reject) => {
          refuse = reject;
        }),
      );
      const attempts = Array.from({ length: 3 }, () => s.cache.acquire(ref));
      await vi.waitFor(() => expect(s.fetchOrigin).toHaveBeenCalledTimes(1));
      refuse(new Error('connect ECONNREFUSED'));
      for (const result of await Promise.allSettled(attempts)) expect(result.status).toBe('rejected');
      expect(s.fetchOrigin).toHaveBeenCalledTimes(1);
      expect(s.pins.isPinned(ref.key)).toBe(false);
    });

    it('a shutdown aborts fills in progress and discards their bytes', async () => {
      const s = await setup();
      const body = new PassThrough();
      s.fetchOrigin.mockResolvedValueOnce(ok(body, 1_000));
      const lookup = expectKind(await s.cache.acquire(refFor('a')), 'fill');
      body.write(randomBytes(10));
      await lookup.fill.waitFor(0);
      await s.cache.close();
      await expect(lookup.fill.finished).rejects.toThrow('gateway shutting down');
      expect(s.store.list()).toEqual([]);
      await lookup.reader.close();
    });
  });

  describe('bypass: serve uncached rather than fail the device', () => {
    it.each([
      [404, 'storage answered 404'],
      [403, 'storage answered 403'],
      [206, 'storage answered 206'],
      [500, 'storage answered 500'],
    ])('origin status %i', async (status, reason) => {
      const s = await setup();
      const response: OriginResponse = {
        statusCode: status,
        headers: { 'content-length': '5' },
        body: bodyOf(Buffer.from('nope!')),
      };
      s.fetchOrigin.mockResolvedValueOnce(response);
      const ref = refFor('a');
      const lookup = expectKind(await s.cache.acquire(ref), 'bypass');
      expect(lookup.reason).toBe(reason);
      expect(lookup.response).toBe(response);
      expect(await collect(response.body)).toEqual(Buffer.from('nope!'));
      lookup.release();
      expect(s.store.list()).toEqual([]);
      expect(s.pins.isPinned(ref.key)).toBe(false);
      // Not remembered: the next request asks again.
      s.fetchOrigin.mockResolvedValueOnce(ok(bodyOf(Buffer.from('yes')), 3));
      expect((await s.cache.acquire(ref)).kind).toBe('fill');
    });

    it.each([
      ['missing', undefined],
      ['not a number', 'lots'],
      ['negative', '-1'],
      ['fractional', '1.5'],
    ])('Content-Length %s', async (_name, length) => {
      const s = await setup();
      const headers: Record<string, string> = length === undefined ? {} : { 'content-length': length };
      const response: OriginResponse = { statusCode: 200, headers, body: bodyOf(Buffer.from('abc')) };
      s.fetchOrigin.mockResolvedValueOnce(response);
      const lookup = expectKind(await s.cache.acquire(refFor('a')), 'bypass');
      expect(lookup.reason).toBe('storage sent no Content-Length');
      expect(lookup.response).toBe(response);
      lookup.release();
    });

    it('a compressed body', async () => {
      const s = await setup();
      s.fetchOrigin.mockResolvedValueOnce(ok(bodyOf(Buffer.from('abc')), 3, { 'content-encoding': 'gzip' }));
      const lookup = expectKind(await s.cache.acquire(refFor('a')), 'bypass');
      expect(lookup.reason).toBe('storage sent Content-Encoding gzip');
      lookup.release();
    });

    it('an artifact that does not fit because every entry is in use', async () => {
      const s = await setup(new MemoryArtifactStore(1_000)); // margin: 50 bytes
      await cached(s, 'big', randomBytes(800));
      const held = expectKind(await s.cache.acquire(refFor('big')), 'entry');

      const response = ok(bodyOf(randomBytes(300)), 300);
      s.fetchOrigin.mockResolvedValueOnce(response);
      const lookup = expectKind(await s.cache.acquire(refFor('new')), 'bypass');
      expect(lookup.reason).toBe('the artifact does not fit in the cache');
      expect(lookup.response).toBe(response);
      lookup.release();
      expect(s.store.get(refFor('big').key)).toBeDefined();
      expect(s.store.get(refFor('new').key)).toBeUndefined();
      expect(s.events.evicted).toEqual([]);

      // Once the big entry is no longer served, it makes room.
      await held.reader.close();
      held.release();
      const data = randomBytes(300);
      s.fetchOrigin.mockResolvedValueOnce(ok(bodyOf(data), 300));
      const retry = expectKind(await s.cache.acquire(refFor('new')), 'fill');
      expect(await serve(retry)).toEqual(data);
      expect(s.events.evicted).toEqual([{ key: refFor('big').key, reason: 'make room for a new artifact' }]);
      expect(s.store.get(refFor('big').key)).toBeUndefined();
    });

    it('an artifact larger than the whole cache, without evicting anything', async () => {
      const s = await setup(new MemoryArtifactStore(1_000));
      await cached(s, 'small', randomBytes(100));
      s.fetchOrigin.mockResolvedValueOnce(ok(bodyOf(randomBytes(2_000)), 2_000));
      const lookup = expectKind(await s.cache.acquire(refFor('huge')), 'bypass');
      expect(lookup.reason).toBe('the artifact does not fit in the cache');
      lookup.release();
      // Evicting every entry could not have made it fit, so none was sacrificed.
      expect(s.events.evicted).toEqual([]);
      expect(s.store.list().map((e) => e.key)).toEqual([refFor('small').key]);
    });
  });

  describe('eviction', () => {
    beforeEach(() => {
      vi.useFakeTimers({ toFake: ['Date'] });
      vi.setSystemTime(Date.parse('2024-05-01T12:00:00.000Z'));
    });
    afterEach(() => {
      vi.useRealTimers();
    });
    const minute = (): void => void vi.setSystemTime(Date.now() + 60_000);

    it('before a fill, evicts least recently accessed unpinned entries first, only as many as needed', async () => {
      const s = await setup(new MemoryArtifactStore(1_000)); // margin: 50 bytes
      for (const name of ['e1', 'e2', 'e3']) {
        await cached(s, name, randomBytes(300));
        minute();
      }
      // Access order: e2, then e1, then e3. e2 is least recently used, then e1.
      for (const name of ['e2', 'e1', 'e3']) {
        await s.store.recordAccess(refFor(name).key, 300);
        minute();
      }

      // 100 bytes free; 200 + 50 margin needed: one eviction is enough.
      const data = randomBytes(200);
      s.fetchOrigin.mockResolvedValueOnce(ok(bodyOf(data), 200));
      expect(await serve(await s.cache.acquire(refFor('f')))).toEqual(data);
      expect(s.events.evicted).toEqual([{ key: refFor('e2').key, reason: 'make room for a new artifact' }]);

      // 200 free; 300 + 50 needed. e1 is next in line but in use, so e3 goes.
      const held = expectKind(await s.cache.acquire(refFor('e1')), 'entry');
      const more = randomBytes(300);
      s.fetchOrigin.mockResolvedValueOnce(ok(bodyOf(more), 300));
      expect(await serve(await s.cache.acquire(refFor('g')))).toEqual(more);
      expect(s.events.evicted.map((e) => e.key)).toEqual([refFor('e2').key, refFor('e3').key]);
      expect(
        s.store
          .list()
          .map((e) => e.key)
          .sort(),
      ).toEqual([refFor('e1').key, refFor('f').key, refFor('g').key].sort());
      await held.reader.close();
      held.release();
    });

    it('on ENOSPC during a write (a concurrent fill took the space), evicts and retries', async () => {
      const s = await setup(new MemoryArtifactStore(1_000));
      await cached(s, 'old', randomBytes(400));
      minute();
      // Both fills fit when they start (600 free): a needs 300 + 50, b 500 + 50.
      const bodyA = new PassThrough();
      const bodyB = new PassThrough();
      s.fetchOrigin.mockResolvedValueOnce(ok(bodyA, 300)).mockResolvedValueOnce(ok(bodyB, 500));
      const a = expectKind(await s.cache.acquire(refFor('a')), 'fill');
      const b = expectKind(await s.cache.acquire(refFor('b')), 'fill');
      expect(s.events.evicted).toEqual([]);

      const dataA = randomBytes(300);
      bodyA.end(dataA);
      await a.fill.finished;
      // Now 300 free: b's 500 bytes hit ENOSPC; 'old' is evicted (a is in use) and the write retried.
      const dataB = randomBytes(500);
      const outB = serve(b);
      bodyB.end(dataB);
      expect(await outB).toEqual(dataB);
      await expect(b.fill.finished).resolves.toMatchObject({ size: 500 });
      expect(s.events.evicted).toEqual([{ key: refFor('old').key, reason: 'disk full during a fill' }]);
      expect(await serve(a)).toEqual(dataA);
      expect(
        s.store
          .list()
          .map((e) => e.key)
          .sort(),
      ).toEqual([refFor('a').key, refFor('b').key].sort());
    });

    it('on ENOSPC with nothing evictable, the fill fails and keeps nothing', async () => {
      const s = await setup(new MemoryArtifactStore(1_000));
      const bodyA = new PassThrough();
      const bodyB = new PassThrough();
      s.fetchOrigin.mockResolvedValueOnce(ok(bodyA, 450)).mockResolvedValueOnce(ok(bodyB, 600));
      const a = expectKind(await s.cache.acquire(refFor('a')), 'fill');
      const b = expectKind(await s.cache.acquire(refFor('b')), 'fill');
      bodyA.end(randomBytes(450));
      await a.fill.finished;
      bodyB.end(randomBytes(600));
      await expect(b.fill.finished).rejects.toMatchObject({
        code: 'MGW_CACHE_IO',
        cause: expect.objectContaining({ code: 'ENOSPC' }) as unknown,
      });
      expect(s.cache.diskFault?.code).toBe('ENOSPC');
      b.release();
      await b.reader.close();
      expect(s.store.list().map((e) => e.key)).toEqual([refFor('a').key]);
      expect(await s.store.freeSpace()).toBe(550);
      a.release();
      await a.reader.close();
    });
  });

  describe('on the disk store', () => {
    let root: string;
    beforeEach(async () => {
      root = await mkdtemp(join(tmpdir(), 'mender-gw-cache-'));
    });
    afterEach(async () => {
      await rm(root, { recursive: true, force: true });
    });

    it('fills once for concurrent devices, follows the growing file, and publishes the entry', async () => {
      const dir = join(root, 'cache');
      const s = await setup(new DiskArtifactStore(dir));
      const data = randomBytes(1_500_000);
      const body = new PassThrough();
      s.fetchOrigin.mockResolvedValue(ok(body, data.length));
      const ref = refFor('a');
      const lookups = await Promise.all(Array.from({ length: 4 }, () => s.cache.acquire(ref)));
      expect(s.fetchOrigin).toHaveBeenCalledTimes(1);
      const served = Promise.all(lookups.map(serve));
      for (let i = 0; i < data.length; i += 100_000) body.write(data.subarray(i, i + 100_000));
      body.end();
      for (const out of await served) expect(out.equals(data)).toBe(true);
      await expectKind(lookups[0]!, 'fill').fill.finished;
      expect((await readdir(dir)).sort()).toEqual(['.serve.lock', `${ref.key}.json`, `${ref.key}.mender`]);

      // After the final rename, a new device is served from the entry.
      const hit = expectKind(await s.cache.acquire(ref), 'entry');
      expect((await serve(hit)).equals(data)).toBe(true);
      await s.cache.close();
    });

    it('discards the partial file when the fill fails', async () => {
      const dir = join(root, 'cache');
      const s = await setup(new DiskArtifactStore(dir));
      const body = new PassThrough();
      s.fetchOrigin.mockResolvedValueOnce(ok(body, 1_000));
      const lookup = expectKind(await s.cache.acquire(refFor('a')), 'fill');
      body.write(randomBytes(500));
      await lookup.fill.waitFor(499);
      body.destroy(new Error('reset'));
      await expect(lookup.fill.finished).rejects.toThrow('reset');
      await lookup.reader.close();
      lookup.release();
      expect(await readdir(dir)).toEqual(['.serve.lock']);
      await s.cache.close();
    });
  });
});
