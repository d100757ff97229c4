import { Readable } from 'node:stream';
import type { RandomAccessReader } from './artifact-store.js';
import type { ArtifactFill } from './artifact-fill.js';

/**
 * Large reads: 256 KiB per read keeps syscalls and per-chunk overhead low without holding
 * much memory per device (issue #6 item M5: memory must not grow with artifact size).
 */
const CHUNK = 256 * 1024;

/**
 * A Readable over bytes [start, end] (inclusive) of a store reader. When `fill` is given the
 * source is still being written: reads wait until the bytes exist and fail if the fill fails.
 * The reader is closed when the stream ends or is destroyed (autoDestroy).
 */
export function createRangeStream(
  reader: RandomAccessReader,
  start: number,
  end: number,
  fill?: ArtifactFill,
): Readable {
  let position = start;
  let closed = false;
  const close = (): Promise<void> => {
    if (closed) return Promise.resolve();
    closed = true;
    return reader.close().catch(() => undefined);
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
          if (fill !== undefined && fill.state !== 'done' && fill.written < position + want)
            await fill.waitFor(position);
          const available =
            fill !== undefined && fill.state !== 'done' ? Math.min(want, fill.written - position) : want;
          const buffer = Buffer.allocUnsafe(available);
          const bytesRead = await reader.read(buffer, 0, available, position);
          if (bytesRead === 0) throw new Error(`cache file ended at ${position}, expected ${end + 1} bytes`);
          position += bytesRead;
          this.push(bytesRead === buffer.length ? buffer : buffer.subarray(0, bytesRead));
        } catch (err) {
          this.destroy(err as Error);
        }
      })();
    },
    destroy(err, callback) {
      void close().then(() => callback(err));
    },
  });
}
