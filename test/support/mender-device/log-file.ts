import { open, readFile } from 'node:fs/promises';
import { StringDecoder } from 'node:string_decoder';
import { setTimeout as delay } from 'node:timers/promises';

/** How often waitForLogLine looks at the file: cheap, and well below any timing a test cares about. */
const POLL_MS = 100;

/** Last `count` lines of a text file ('' when missing). */
export async function readTail(path: string, count = 40): Promise<string> {
  const text = await readFile(path, 'utf8').catch(() => '');
  return text
    .split('\n')
    .slice(-count - 1)
    .join('\n')
    .trimEnd();
}

/** Size of a file in bytes, 0 when it does not exist yet. */
export async function fileSize(path: string): Promise<number> {
  const handle = await open(path, 'r').catch(() => undefined);
  if (handle === undefined) return 0;
  try {
    return (await handle.stat()).size;
  } finally {
    await handle.close();
  }
}

/** Bytes of `path` from `offset` to its current end (empty when missing). */
async function readFrom(path: string, offset: number): Promise<Buffer> {
  const handle = await open(path, 'r').catch(() => undefined);
  if (handle === undefined) return Buffer.alloc(0);
  try {
    const { size } = await handle.stat();
    if (size <= offset) return Buffer.alloc(0);
    const buffer = Buffer.alloc(size - offset);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, offset);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

export interface WaitForLogLineOptions {
  /** Byte offset to start scanning at (0: lines already written count too). */
  fromOffset?: number;
  /** Reports why the writer is gone (e.g. `exited with code 1`), or undefined while it runs. */
  writerGone?: () => string | undefined;
}

/**
 * Polls a growing text file for the first complete line matching `pattern`. A partial last
 * line is held back until its newline arrives, so a match never sees half a log record.
 */
export async function waitForLogLine(
  path: string,
  pattern: RegExp,
  timeoutMs: number,
  options: WaitForLogLineOptions = {},
): Promise<string> {
  // A /g or /y pattern keeps lastIndex between test() calls; a plain copy matches every line afresh.
  const matcher = new RegExp(pattern.source, pattern.flags.replace(/[gy]/g, ''));
  const deadline = Date.now() + timeoutMs;
  let offset = options.fromOffset ?? 0;
  let pending = '';
  // Keeps a multi-byte character split across two reads intact.
  const decoder = new StringDecoder('utf8');
  for (;;) {
    // Read the writer's state before the file: a line written just before exit is still seen.
    const gone = options.writerGone?.();
    const chunk = await readFrom(path, offset);
    offset += chunk.length;
    pending += decoder.write(chunk);
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    const hit = lines.find((line) => matcher.test(line));
    if (hit !== undefined) return hit;
    const timedOut = Date.now() >= deadline;
    if (gone !== undefined || timedOut) {
      const why = gone === undefined ? `timed out after ${timeoutMs} ms` : `log writer ${gone}`;
      throw new Error(
        `no log line matching ${String(pattern)} in ${path} (${why}); log tail:\n${await readTail(path)}`,
      );
    }
    await delay(POLL_MS);
  }
}
