import { Readable } from 'node:stream';
import { GatewayError } from '../errors.js';
import type { RandomAccessReader } from './artifact-store.js';
import type { ArtifactFill } from './artifact-fill.js';
import { isDiskFault } from './disk-fault.js';

/**
 * Large reads: 256 KiB per read keeps syscalls and per-chunk overhead low without holding
 * much memory per device (issue #6 item M5: memory must not grow with artifact size).
 */
const CHUNK = 256 * 1024;

/** Where the rest of a range comes from when the cache cannot deliver it (issue #7 item 2). */
export type RangeContinuation = (position: number, cause: Error) => Promise<AsyncIterator<Buffer>>;

/**
 * A Readable over bytes [start, end] (inclusive) of a store reader. When `fill` is given the
 * source is still being written: reads wait until the bytes exist and fail if the fill fails.
 * When `continueFrom` is given and the cache volume fails (a fill aborted by a full or failing
 * disk, a read error), the rest of the range is taken from it instead, so the device's
 * download goes on without a cut. The reader is closed when the stream ends or is destroyed.
 */
export function createRangeStream(
  reader: RandomAccessReader,
  start: number,
  end: number,
  fill?: ArtifactFill,
  continueFrom?: RangeContinuation,
): Readable {
  let position = start;
  let closed = false;
  let rest: AsyncIterator<Buffer> | undefined;
  const close = (): Promise<void> => {
    if (closed) return Promise.resolve();
    closed = true;
    return reader.close().catch(() => undefined);
  };
  const fromCache = async (want: number): Promise<Buffer> => {
    if (fill !== undefined && fill.state !== 'done' && fill.written < position + want)
      await fill.waitFor(position);
    const available =
      fill !== undefined && fill.state !== 'done' ? Math.min(want, fill.written - position) : want;
    const buffer = Buffer.allocUnsafe(available);
    const bytesRead = await reader.read(buffer, 0, available, position);
    if (bytesRead === 0)
      throw new GatewayError('MGW_CACHE_IO', `cache file ended at ${position}, expected ${end + 1} bytes`, {
        hint: 'The file was truncated on disk; run `mender-gw cache verify`.',
      });
    return bytesRead === buffer.length ? buffer : buffer.subarray(0, bytesRead);
  };
  const fromContinuation = async (source: AsyncIterator<Buffer>): Promise<Buffer> => {
    const next: IteratorResult<Buffer, unknown> = await source.next();
    if (next.done === true)
      throw new Error(`storage ended the rest of the range at ${position}, expected ${end + 1}`);
    const value = next.value;
    // Never more than the range: the continuation was asked for exactly [position, end].
    if (position + value.length > end + 1)
      throw new Error(`storage sent more than the range ${start}-${end}`);
    return value;
  };
  return new Readable({
    highWaterMark: CHUNK,
    read(size) {
      if (position > end) {
        this.push(null);
        return;
      }
      const want = Math.min(Math.max(size, CHUNK), end - position + 1);
      void (async () => {
        try {
          let chunk: Buffer;
          if (rest !== undefined) chunk = await fromContinuation(rest);
          else {
            try {
              chunk = await fromCache(want);
            } catch (err) {
              if (continueFrom === undefined || !isDiskFault(err)) throw err;
              rest = await continueFrom(position, err as Error);
              chunk = await fromContinuation(rest);
            }
          }
          position += chunk.length;
          this.push(chunk);
        } catch (err) {
          this.destroy(err as Error);
        }
      })();
    },
    destroy(err, callback) {
      void rest?.return?.();
      void close().then(() => callback(err));
    },
  });
}
