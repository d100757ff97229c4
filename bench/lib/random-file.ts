import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';

const CHUNK = 4 * 1024 * 1024;

/** A file of `size` random bytes (an artifact no cache or compressor can shortcut). */
export async function writeRandomFile(path: string, size: number): Promise<void> {
  const out = createWriteStream(path);
  for (let written = 0; written < size; written += CHUNK) {
    if (!out.write(randomBytes(Math.min(CHUNK, size - written)))) {
      await new Promise<void>((resolve) => out.once('drain', resolve));
    }
  }
  await new Promise<void>((resolve, reject) =>
    out.end((err?: Error | null) => (err ? reject(err) : resolve())),
  );
}
