import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';

/**
 * Deterministic pseudo-random bytes, generated block by block so 100 MiB never sits in
 * memory at once. The same seed gives the same bytes, so both ends can hash them.
 */
const BLOCK = 64 * 1024;

function block(seed: number, index: number): Buffer {
  const buf = Buffer.allocUnsafe(BLOCK);
  let x = (seed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0 || 1;
  for (let i = 0; i < BLOCK; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    buf.writeUInt32LE(x >>> 0, i);
  }
  return buf;
}

export function patternStream(size: number, seed = 1): Readable {
  let sent = 0;
  let index = 0;
  return new Readable({
    read() {
      if (sent >= size) {
        this.push(null);
        return;
      }
      const chunk = block(seed, index++);
      const take = Math.min(chunk.length, size - sent);
      sent += take;
      this.push(take === chunk.length ? chunk : chunk.subarray(0, take));
    },
  });
}

export async function patternSha256(size: number, seed = 1): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of patternStream(size, seed)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
