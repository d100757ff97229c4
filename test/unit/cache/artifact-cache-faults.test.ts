import { createHash, randomBytes } from 'node:crypto';
import { PassThrough, Readable, Writable } from 'node:stream';
import { describe, expect, it, vi } from 'vitest';
import { cacheKeyFor } from '../../../src/core/artifacts/cache-key.js';
import { ArtifactCache } from '../../../src/core/cache/artifact-cache.js';
import type { ArtifactRef, OriginFetcher, OriginResponse } from '../../../src/core/cache/artifact-cache.js';
import type { ArtifactStore, ArtifactWriter } from '../../../src/core/cache/artifact-store.js';
import { EntryPins } from '../../../src/core/cache/entry-pins.js';
import { MemoryArtifactStore } from '../../../src/core/cache/memory-artifact-store.js';
import { createRangeStream } from '../../../src/core/cache/read-stream.js';
import type { RangeContinuation } from '../../../src/core/cache/read-stream.js';
import { createLogger } from '../../../src/core/logger.js';

/**
 * Upstream and disk faults at unit level: a fill survives storage connection drops by resuming
 * with Range, and a failing cache volume (read-only, I/O errors, full) never fails a
 * download: lookups bypass the cache, and readers of a broken fill continue from storage.
 */

const lines: { msg: string }[] = [];
const logger = createLogger(
  'debug',
  new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(JSON.parse(chunk.toString()) as { msg: string });
      callback();
    },
  }),
);

const ETAG = '"v1"';

function refFor(name: string): ArtifactRef {
  const origin = new URL(`https://storage.example/bucket/${name}?X-Amz-Signature=s`);
  return { key: cacheKeyFor(origin), origin, artifactId: `id-${name}`, artifactName: name };
}

function full(body: Readable, size: number, etag = ETAG): OriginResponse {
  return { statusCode: 200, headers: { 'content-length': String(size), etag }, body };
}

function partial(data: Buffer, from: number, etag = ETAG): OriginResponse {
  return {
    statusCode: 206,
    headers: {
      'content-range': `bytes ${from}-${data.length - 1}/${data.length}`,
      'content-length': String(data.length - from),
      etag,
    },
    body: Readable.from([data.subarray(from)]),
  };
}

/** A body that sends `bytes` of `data` and then loses its connection. */
function dropping(data: Buffer, bytes: number): Readable {
  const body = new PassThrough();
  body.write(data.subarray(0, bytes), () => body.destroy(new Error('other side closed')));
  return body;
}

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function setup(store: ArtifactStore = new MemoryArtifactStore()) {
  const fetchOrigin = vi.fn<OriginFetcher>();
  const cache = new ArtifactCache(
    store,
    new EntryPins(undefined),
    fetchOrigin,
    logger,
    {},
    { resumeBackoffMs: 1 },
  );
  return { cache, fetchOrigin, store };
}

function errno(code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: simulated`), { code });
}

/** A memory store whose volume can be made to fail on demand. */
class FaultyStore extends MemoryArtifactStore {
  failBeginWrite: string | undefined;
  failOpenReader: string | undefined;
  failWriteAfter: { bytes: number; code: string } | undefined;

  override async beginWrite(key: string): Promise<ArtifactWriter> {
    if (this.failBeginWrite !== undefined) throw errno(this.failBeginWrite);
    const writer = await super.beginWrite(key);
    const fault = this.failWriteAfter;
    if (fault === undefined) return writer;
    const write = writer.write.bind(writer);
    writer.write = async (chunk: Buffer) => {
      if (writer.bytesWritten + chunk.length > fault.bytes) throw errno(fault.code);
      await write(chunk);
    };
    return writer;
  }

  override openReader(key: string): ReturnType<MemoryArtifactStore['openReader']> {
    if (this.failOpenReader !== undefined) return Promise.reject(errno(this.failOpenReader));
    return super.openReader(key);
  }
}

describe('a fill whose storage connection drops resumes with Range', () => {
  it('resumes with If-Range from the byte it has, twice, and commits the exact artifact once', async () => {
    const s = setup();
    const data = randomBytes(300_000);
    s.fetchOrigin
      .mockResolvedValueOnce(full(dropping(data, 100_000), data.length))
      .mockImplementationOnce(async () => {
        await Promise.resolve();
        return { ...partial(data, 100_000), body: dropping(data.subarray(100_000), 50_000) };
      })
      .mockResolvedValueOnce(partial(data, 150_000));
    const ref = refFor('resume');
    const lookup = await s.cache.acquire(ref);
    if (lookup.kind !== 'fill') throw new Error(`expected a fill, got ${lookup.kind}`);
    const served = await collect(createRangeStream(lookup.reader, 0, data.length - 1, lookup.fill));
    lookup.release();
    expect(served.equals(data)).toBe(true);
    const entry = await lookup.fill.finished;
    expect(entry.sha256).toBe(createHash('sha256').update(data).digest('hex'));
    expect(s.fetchOrigin.mock.calls.map((c) => c[1])).toEqual([
      undefined,
      { range: `bytes=100000-${data.length - 1}`, 'if-range': ETAG },
      { range: `bytes=150000-${data.length - 1}`, 'if-range': ETAG },
    ]);
    expect(
      lines.filter((l) => l.msg === 'storage connection lost during a cache fill: resuming'),
    ).toHaveLength(2);
  });

  it('gives up when storage answers 200 (the artifact changed) instead of the missing range', async () => {
    const s = setup();
    const data = randomBytes(100_000);
    s.fetchOrigin
      .mockResolvedValueOnce(full(dropping(data, 40_000), data.length))
      .mockResolvedValueOnce(full(Readable.from([randomBytes(100_000)]), 100_000, '"v2"'));
    const lookup = await s.cache.acquire(refFor('changed'));
    if (lookup.kind !== 'fill') throw new Error(`expected a fill, got ${lookup.kind}`);
    await expect(lookup.fill.finished).rejects.toMatchObject({ code: 'MGW_UPSTREAM_BAD_RESPONSE' });
    const served = await collect(createRangeStream(lookup.reader, 0, data.length - 1, lookup.fill)).catch(
      (err: unknown) => err,
    );
    expect(served).toBeInstanceOf(Error);
    lookup.release();
    expect(s.store.list()).toEqual([]);
  });

  it('gives up after five failed resumes while storage stays unreachable', async () => {
    const s = setup();
    const data = randomBytes(50_000);
    s.fetchOrigin
      .mockResolvedValueOnce(full(dropping(data, 10_000), data.length))
      .mockRejectedValue(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }));
    const lookup = await s.cache.acquire(refFor('unreachable'));
    if (lookup.kind !== 'fill') throw new Error(`expected a fill, got ${lookup.kind}`);
    await expect(lookup.fill.finished).rejects.toThrow('ECONNREFUSED');
    expect(s.fetchOrigin).toHaveBeenCalledTimes(6);
    lookup.release();
    expect(s.store.list()).toEqual([]);
  });
});

describe('a failing cache volume never fails a download', () => {
  it('read-only volume: a miss is served from storage (bypass with the storage response)', async () => {
    const store = new FaultyStore();
    store.failBeginWrite = 'EROFS';
    const s = setup(store);
    const response = full(Readable.from([randomBytes(1000)]), 1000);
    s.fetchOrigin.mockResolvedValueOnce(response);
    const lookup = await s.cache.acquire(refFor('ro'));
    expect(lookup).toMatchObject({ kind: 'bypass', reason: 'cache volume fault (EROFS)', response });
    lookup.release();
    expect(s.cache.diskFault).toMatchObject({ code: 'EROFS' });
    expect(lines.some((l) => l.msg === 'cache volume fault: serving from storage')).toBe(true);
  });

  it('an entry that cannot be opened (EIO) is a bypass, not an error', async () => {
    const store = new FaultyStore();
    const s = setup(store);
    const data = randomBytes(1000);
    s.fetchOrigin.mockResolvedValueOnce(full(Readable.from([data]), data.length));
    const first = await s.cache.acquire(refFor('eio'));
    if (first.kind !== 'fill') throw new Error('expected a fill');
    await first.fill.finished;
    first.release();
    store.failOpenReader = 'EIO';
    const lookup = await s.cache.acquire(refFor('eio'));
    expect(lookup).toMatchObject({ kind: 'bypass', reason: 'cache volume fault (EIO)', response: undefined });
    lookup.release();
  });

  it('a write error mid-fill fails the fill with MGW_CACHE_IO and readers continue from storage', async () => {
    const store = new FaultyStore();
    store.failWriteAfter = { bytes: 64 * 1024, code: 'EIO' };
    const s = setup(store);
    const data = randomBytes(200_000);
    const body = new PassThrough();
    s.fetchOrigin.mockResolvedValueOnce(full(body, data.length));
    const lookup = await s.cache.acquire(refFor('eio-write'));
    if (lookup.kind !== 'fill') throw new Error('expected a fill');
    const asked: number[] = [];
    const continueFrom: RangeContinuation = (position) => {
      asked.push(position);
      return Promise.resolve(Readable.from([data.subarray(position)])[Symbol.asyncIterator]());
    };
    const served = collect(createRangeStream(lookup.reader, 0, data.length - 1, lookup.fill, continueFrom));
    for (let i = 0; i < data.length; i += 32 * 1024) body.write(data.subarray(i, i + 32 * 1024));
    body.end();
    await expect(lookup.fill.finished).rejects.toMatchObject({ code: 'MGW_CACHE_IO' });
    expect((await served).equals(data)).toBe(true);
    expect(asked).toHaveLength(1);
    expect(asked[0]).toBeLessThanOrEqual(64 * 1024);
    lookup.release();
    expect(s.store.list()).toEqual([]);
    expect(s.cache.diskFault?.code).toBe('EIO');
  });

  it('a continuation that sends more than the range is cut, never relayed', async () => {
    const store = new FaultyStore();
    store.failWriteAfter = { bytes: 0, code: 'ENOSPC' };
    const s = setup(store);
    const data = randomBytes(10_000);
    s.fetchOrigin.mockResolvedValueOnce(full(Readable.from([data]), data.length));
    const lookup = await s.cache.acquire(refFor('too-much'));
    if (lookup.kind !== 'fill') throw new Error('expected a fill');
    const continueFrom: RangeContinuation = () =>
      Promise.resolve(Readable.from([Buffer.concat([data, Buffer.from('extra')])])[Symbol.asyncIterator]());
    await expect(
      collect(createRangeStream(lookup.reader, 0, data.length - 1, lookup.fill, continueFrom)),
    ).rejects.toThrow('storage sent more than the range');
    lookup.release();
  });
});
