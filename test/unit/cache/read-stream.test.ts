import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import type { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { RandomAccessReader } from '../../../src/core/cache/artifact-store.js';
import { ArtifactFill } from '../../../src/core/cache/artifact-fill.js';
import { MemoryArtifactStore } from '../../../src/core/cache/memory-artifact-store.js';
import { createRangeStream, sendRange } from '../../../src/core/cache/read-stream.js';
import { ReadBufferBudget } from '../../../src/core/cache/read-buffer-budget.js';
import { entryInfo, keyOf } from './artifact-store-conformance.js';

/** A reader over a buffer that counts reads and closes. */
function bufferReader(data: Buffer): RandomAccessReader & { closes: number; reads: number } {
  return {
    closes: 0,
    reads: 0,
    read(buffer, offset, length, position) {
      this.reads++;
      if (position >= data.length) return Promise.resolve(0);
      return Promise.resolve(data.copy(buffer, offset, position, Math.min(data.length, position + length)));
    },
    close() {
      this.closes++;
      return Promise.resolve();
    },
  };
}

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function nextChunk(stream: Readable): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    stream.once('data', resolve);
    stream.once('error', reject);
  });
}

function closed(stream: Readable): Promise<void> {
  return new Promise((resolve) => stream.once('close', () => resolve()));
}

describe('createRangeStream over a complete entry', () => {
  const data = randomBytes(600 * 1024 + 17);

  it.each([
    ['everything', 0, data.length - 1],
    ['one byte', 0, 0],
    ['the last byte', data.length - 1, data.length - 1],
    ['a middle range across chunk borders', 100_000, 500_000],
    ['a resume from an odd offset', 262_145, data.length - 1],
  ])('streams exactly bytes [start, end] for %s', async (_name, start, end) => {
    const reader = bufferReader(data);
    const out = await collect(createRangeStream(reader, start, end));
    expect(out.length).toBe(end - start + 1);
    expect(out.equals(data.subarray(start, end + 1))).toBe(true);
  });

  it('reads in large chunks, not byte by byte', async () => {
    const reader = bufferReader(data);
    await collect(createRangeStream(reader, 0, data.length - 1));
    expect(reader.reads).toBeLessThanOrEqual(Math.ceil(data.length / (64 * 1024)));
  });

  it('closes the reader once at the end', async () => {
    const reader = bufferReader(data);
    const stream = createRangeStream(reader, 0, 99);
    const done = closed(stream);
    await collect(stream);
    await done;
    expect(reader.closes).toBe(1);
  });

  it('closes the reader when the consumer goes away early', async () => {
    const reader = bufferReader(data);
    const stream = createRangeStream(reader, 0, data.length - 1);
    await nextChunk(stream);
    const done = closed(stream);
    stream.destroy();
    await done;
    expect(reader.closes).toBe(1);
  });

  it('fails when the file is shorter than the range (truncated behind its back)', async () => {
    const reader = bufferReader(data.subarray(0, 1_000));
    const stream = createRangeStream(reader, 0, 1_999);
    await expect(collect(stream)).rejects.toThrow('cache file ended at 1000, expected 2000 bytes');
    expect(reader.closes).toBe(1);
  });

  it('fails when the reader fails', async () => {
    const reader = bufferReader(data);
    reader.read = () => Promise.reject(Object.assign(new Error('EIO: i/o error'), { code: 'EIO' }));
    await expect(collect(createRangeStream(reader, 0, 10))).rejects.toThrow('EIO');
    expect(reader.closes).toBe(1);
  });
});

describe('createRangeStream following a fill', () => {
  async function filling(size: number) {
    const store = new MemoryArtifactStore();
    const writer = await store.beginWrite(keyOf('a'));
    const fill = new ArtifactFill(keyOf('a'), entryInfo('a', size), writer);
    const write = async (chunk: Buffer): Promise<void> => {
      await writer.write(chunk);
      fill.progress(chunk.length);
    };
    const finish = async (): Promise<void> => fill.complete(await writer.commit(fill.info));
    return { fill, write, finish, reader: await fill.openReader() };
  }

  it('serves each byte as soon as it is written, and ends with the fill', async () => {
    const data = randomBytes(10_000);
    const { fill, write, finish, reader } = await filling(data.length);
    const stream = createRangeStream(reader, 0, data.length - 1, fill);
    const first = nextChunk(stream);
    await write(data.subarray(0, 1_000));
    expect(await first).toEqual(data.subarray(0, 1_000));
    expect(fill.state).toBe('filling');
    const rest = collect(stream);
    await write(data.subarray(1_000, 6_000));
    await write(data.subarray(6_000));
    await finish();
    expect(Buffer.concat([data.subarray(0, 1_000), await rest]).equals(data)).toBe(true);
  });

  it('serves a range that starts beyond what is written yet', async () => {
    const data = randomBytes(10_000);
    const { fill, write, finish, reader } = await filling(data.length);
    const stream = createRangeStream(reader, 8_000, 8_999, fill);
    const out = collect(stream);
    await write(data.subarray(0, 5_000));
    await write(data.subarray(5_000));
    await finish();
    expect(await out).toEqual(data.subarray(8_000, 9_000));
  });

  it('serves a range of a fill that completed before reading started', async () => {
    const data = randomBytes(3_000);
    const { fill, write, finish, reader } = await filling(data.length);
    await write(data);
    await finish();
    expect(await collect(createRangeStream(reader, 10, 2_999, fill))).toEqual(data.subarray(10));
  });

  it('errors the stream when the fill fails, after the bytes already served', async () => {
    const data = randomBytes(10_000);
    const { fill, write, reader } = await filling(data.length);
    const stream = createRangeStream(reader, 0, data.length - 1, fill);
    const failed = new Promise<Error>((resolve) => stream.once('error', resolve));
    const first = nextChunk(stream);
    await write(data.subarray(0, 4_000));
    expect(await first).toEqual(data.subarray(0, 4_000));
    fill.fail(new Error('upstream reset'));
    expect((await failed).message).toBe('upstream reset');
    expect(stream.destroyed).toBe(true);
  });
});

/**
 * sendRange reuses two buffers per download (benchmark M1 in docs/performance.md): a buffer must never be
 * refilled
 * before the response's write callback released it, or a device would get wrong bytes.
 */
describe('sendRange', () => {
  /** A response that copies each chunk only when it acknowledges it, a few ms later. */
  function lazySink(): Writable & { received: () => Buffer } {
    const held: Buffer[] = [];
    const sink = new Writable({
      highWaterMark: 4 * 1024 * 1024, // write() says "go on" while the callback is still pending
      write(chunk: Buffer, _encoding, callback) {
        setTimeout(() => {
          held.push(Buffer.from(chunk));
          callback();
        }, 2);
      },
    });
    return Object.assign(sink, { received: () => Buffer.concat(held) });
  }

  it('sends the exact range with reused buffers and a slow consumer, then ends and closes the reader', async () => {
    const data = randomBytes(3 * 256 * 1024 + 12_345);
    const reader = bufferReader(data);
    const sink = lazySink();
    const counted: number[] = [];
    const finished = new Promise((resolve) => sink.once('finish', resolve));
    await sendRange(sink, reader, 1000, data.length - 1, { onChunk: (n) => counted.push(n) });
    await finished;
    expect(sink.received().equals(data.subarray(1000))).toBe(true);
    expect(counted.reduce((a, b) => a + b, 0)).toBe(data.length - 1000);
    expect(reader.closes).toBe(1);
  });

  it('with many devices at once, uses the smaller chunks of the read-buffer budget and gives its share back', async () => {
    const data = randomBytes(300 * 1024 + 7);
    const reader = bufferReader(data);
    const sink = lazySink();
    // 1,000 downloads already running: this one gets 16 KiB buffers.
    const budget = new ReadBufferBudget();
    const crowd = Array.from({ length: 1000 }, () => budget.lease());
    const counted: number[] = [];
    const finished = new Promise((resolve) => sink.once('finish', resolve));
    await sendRange(sink, reader, 0, data.length - 1, { budget, onChunk: (n) => counted.push(n) });
    await finished;
    expect(sink.received().equals(data)).toBe(true);
    expect(Math.max(...counted)).toBe(16 * 1024);
    expect(budget.active).toBe(crowd.length);
  });

  it('rejects with ERR_STREAM_PREMATURE_CLOSE and closes the reader when the device goes away', async () => {
    const data = randomBytes(2 * 1024 * 1024);
    const reader = bufferReader(data);
    const sink = lazySink();
    const sending = sendRange(sink, reader, 0, data.length - 1);
    sink.destroy();
    await expect(sending).rejects.toMatchObject({ code: 'ERR_STREAM_PREMATURE_CLOSE' });
    expect(reader.closes).toBe(1);
  });
});
