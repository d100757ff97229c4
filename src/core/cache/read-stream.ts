import { Readable } from 'node:stream';
import type { Writable } from 'node:stream';
import { GatewayError } from '../errors.js';
import type { RandomAccessReader } from './artifact-store.js';
import type { ArtifactFill } from './artifact-fill.js';
import { isDiskFault } from './disk-fault.js';
import { MAX_CHUNK_BYTES, readBufferBudget } from './read-buffer-budget.js';
import type { ReadBufferBudget } from './read-buffer-budget.js';

/**
 * 128 KiB per read: measured as cheap per GiB as 256 KiB (benchmark M1 in docs/performance.md; 16 KiB cost
 * ~20 % more
 * CPU), at half the memory per device — two such buffers per download (M5: memory must not
 * grow with artifact size). sendRange takes less when many devices download at once
 * (read-buffer-budget.ts).
 */
const CHUNK = MAX_CHUNK_BYTES;

/** Where the rest of a range comes from when the cache cannot deliver it. */
export type RangeContinuation = (position: number, cause: Error) => Promise<AsyncIterator<Buffer>>;

export interface RangeSourceOptions {
  /** The source is still being written: reads wait until the bytes exist and fail if the fill fails. */
  fill?: ArtifactFill | undefined;
  /**
   * When the cache volume fails (a fill aborted by a full or failing disk, a read error), the
   * rest of the range is taken from here instead, so the device's download goes on without a cut.
   */
  continueFrom?: RangeContinuation | undefined;
}

/**
 * Bytes [start, end] (inclusive) of a store reader, chunk by chunk, into buffers the caller
 * provides. The one place that knows how to follow a growing fill and when to switch to the
 * continuation; `createRangeStream` and `sendRange` are two ways of draining it.
 */
class RangeSource {
  #position: number;
  #rest: AsyncIterator<Buffer> | undefined;
  #closed = false;

  constructor(
    private readonly reader: RandomAccessReader,
    private readonly start: number,
    private readonly end: number,
    private readonly options: RangeSourceOptions,
  ) {
    this.#position = start;
  }

  get done(): boolean {
    return this.#position > this.end;
  }

  /** The next chunk (a view of `buffer`, or a buffer of the continuation); at most `buffer.length` bytes from the cache. */
  async next(buffer: Buffer): Promise<Buffer> {
    let chunk: Buffer;
    if (this.#rest !== undefined) chunk = await this.#fromContinuation(this.#rest);
    else {
      try {
        chunk = await this.#fromCache(buffer);
      } catch (err) {
        const { continueFrom } = this.options;
        if (continueFrom === undefined || !isDiskFault(err)) throw err;
        this.#rest = await continueFrom(this.#position, err as Error);
        chunk = await this.#fromContinuation(this.#rest);
      }
    }
    this.#position += chunk.length;
    return chunk;
  }

  async #fromCache(buffer: Buffer): Promise<Buffer> {
    const position = this.#position;
    const want = Math.min(buffer.length, this.end - position + 1);
    const { fill } = this.options;
    if (fill !== undefined && fill.state !== 'done' && fill.written < position + want)
      await fill.waitFor(position);
    const available =
      fill !== undefined && fill.state !== 'done' ? Math.min(want, fill.written - position) : want;
    const bytesRead = await this.reader.read(buffer, 0, available, position);
    if (bytesRead === 0)
      throw new GatewayError(
        'MGW_CACHE_IO',
        `cache file ended at ${position}, expected ${this.end + 1} bytes`,
        {
          hint: 'The file was truncated on disk; run `mender-gw cache verify`.',
        },
      );
    return bytesRead === buffer.length ? buffer : buffer.subarray(0, bytesRead);
  }

  async #fromContinuation(source: AsyncIterator<Buffer>): Promise<Buffer> {
    const next: IteratorResult<Buffer, unknown> = await source.next();
    if (next.done === true)
      throw new Error(`storage ended the rest of the range at ${this.#position}, expected ${this.end + 1}`);
    const value = next.value;
    // Never more than the range: the continuation was asked for exactly [position, end].
    if (this.#position + value.length > this.end + 1)
      throw new Error(`storage sent more than the range ${this.start}-${this.end}`);
    return value;
  }

  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    void this.#rest?.return?.();
    return this.reader.close().catch(() => undefined);
  }
}

/**
 * A Readable over bytes [start, end] of a store reader (see RangeSource). The reader is
 * closed when the stream ends or is destroyed.
 */
export function createRangeStream(
  reader: RandomAccessReader,
  start: number,
  end: number,
  fill?: ArtifactFill,
  continueFrom?: RangeContinuation,
): Readable {
  const source = new RangeSource(reader, start, end, { fill, continueFrom });
  return new Readable({
    highWaterMark: CHUNK,
    read(size) {
      if (source.done) {
        this.push(null);
        return;
      }
      source.next(Buffer.allocUnsafe(Math.max(size, CHUNK))).then(
        (chunk) => this.push(chunk),
        (err: unknown) => this.destroy(err as Error),
      );
    },
    destroy(err, callback) {
      void source.close().then(() => callback(err));
    },
  });
}

function premature(): Error {
  return Object.assign(new Error('Premature close'), { code: 'ERR_STREAM_PREMATURE_CLOSE' });
}

/**
 * Send bytes [start, end] of a store reader to a device's response and end it; the reader is
 * closed in every case. Rejects with ERR_STREAM_PREMATURE_CLOSE when the device goes away, or
 * with the source's error (the caller then cuts the connection).
 *
 * Why not `createRangeStream(...).pipe(res)`: a fresh 256 KiB buffer per read made the garbage
 * collector a large share of the CPU per GiB served (benchmark M1 in docs/performance.md). Here two buffers
 * per
 * download (sized by read-buffer-budget.ts) take turns: one is read into while the other is
 * being written, and a buffer is reused only after the response's write callback said the
 * bytes are gone.
 */
export async function sendRange(
  res: Writable,
  reader: RandomAccessReader,
  start: number,
  end: number,
  options: RangeSourceOptions & {
    onChunk?: (bytes: number) => void;
    /** Where the buffer size comes from; default the process-wide budget. */
    budget?: ReadBufferBudget;
  } = {},
): Promise<void> {
  const source = new RangeSource(reader, start, end, options);
  const lease = (options.budget ?? readBufferBudget).lease();
  let onClose: () => void = () => undefined;
  const closed = new Promise<'closed'>((resolve) => {
    onClose = () => resolve('closed');
    res.once('close', onClose);
  });
  const size = lease.chunkBytes;
  const buffers: [Buffer, Buffer] = [Buffer.allocUnsafe(size), Buffer.allocUnsafe(size)];
  const inFlight: [Promise<unknown> | undefined, Promise<unknown> | undefined] = [undefined, undefined];
  try {
    for (let turn: 0 | 1 = 0; !source.done; turn = turn === 0 ? 1 : 0) {
      const pending = inFlight[turn];
      if (pending !== undefined && (await Promise.race([pending, closed])) === 'closed') throw premature();
      // Read the next chunk while the previous one drains, then wait for the drain if still due.
      const chunk = await source.next(buffers[turn]);
      if (res.writableNeedDrain) {
        const drained = new Promise<'drain'>((resolve) => res.once('drain', () => resolve('drain')));
        if ((await Promise.race([drained, closed])) === 'closed') throw premature();
      }
      if (res.destroyed) throw premature();
      options.onChunk?.(chunk.length);
      const written = new Promise<void>((resolve, reject) => {
        res.write(chunk, (err?: Error | null) => (err == null ? resolve() : reject(err)));
      });
      written.catch(() => undefined);
      inFlight[turn] = written;
    }
    res.end();
  } finally {
    lease.release();
    res.off('close', onClose);
    await source.close();
  }
}
