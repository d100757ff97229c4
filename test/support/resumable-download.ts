import { createHash } from 'node:crypto';
import { request } from 'undici';
import type { Dispatcher } from 'undici';

/** A download answer no retry can fix: the 3.x client gives up on the update (docs/protocol.md §8). */
export class DownloadRefusedError extends Error {
  override name = 'DownloadRefusedError';
}

/** The simulated link drop of `cutAfterBytes`, to tell it apart from a real one in messages. */
export class SimulatedCutError extends Error {
  override name = 'SimulatedCutError';
}

export interface ResumableDownloadOptions {
  /** Connection(s) for the download; the 3.x client opens a new one (docs/protocol.md §8.1 step 5). */
  dispatcher: Dispatcher;
  /** Resumes allowed after cut connections; 3.x gives up after 3 (docs/protocol.md §8). */
  maxResumes?: number;
  /** Drop the connection once, after this fraction of the body, as a flaky device link would. */
  cutAtFraction?: number;
}

export interface ResumableDownloadResult {
  sha256: string;
  bytes: number;
  /** Range requests it took after cut connections. */
  resumes: number;
}

function headerOf(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

/**
 * Download an artifact link the way mender-client 3.x does (docs/protocol.md §8.2; docs/protocol.md §2.7): no
 * `Authorization`, `Accept-Encoding:
 * gzip` but an uncompressed body with an exact `Content-Length` required; after a cut connection
 * ask again with `Range: bytes=<offset>-` and accept only a `206` whose `Content-Range` starts at
 * or before the offset (the overlap is skipped) and whose total equals the first length. The
 * real client waits 60 s before resuming; a simulated device resumes at once. The SHA-256 is
 * computed over the bytes as they arrive, so resumes are checked end to end.
 */
export async function resumableDownload(
  uri: string,
  options: ResumableDownloadOptions,
): Promise<ResumableDownloadResult> {
  const maxResumes = options.maxResumes ?? 3;
  const hash = createHash('sha256');
  let offset = 0;
  let total: number | undefined;
  let resumes = 0;
  let cutPending = options.cutAtFraction !== undefined;
  let cutAt: number | undefined;
  for (;;) {
    try {
      const res = await request(uri, {
        headers: {
          'user-agent': 'Go-http-client/1.1',
          'accept-encoding': 'gzip',
          ...(offset > 0 ? { range: `bytes=${offset}-` } : {}),
        },
        dispatcher: options.dispatcher,
      });
      let skip = 0;
      if (offset === 0) {
        const length = headerOf(res.headers, 'content-length');
        if (res.statusCode !== 200 || length === undefined || !/^\d+$/.test(length)) {
          await res.body.dump();
          throw new DownloadRefusedError(
            res.statusCode === 200
              ? 'no Content-Length: "Will not continue with unknown image size"'
              : `download answered ${res.statusCode}`,
          );
        }
        total = Number(length);
        if (cutPending) cutAt = Math.floor(total * options.cutAtFraction!);
      } else {
        const range = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(headerOf(res.headers, 'content-range') ?? '');
        const start = Number(range?.[1]);
        if (
          res.statusCode !== 206 ||
          range === null ||
          start > offset ||
          Number(range[2]) !== total! - 1 ||
          (range[3] !== '*' && Number(range[3]) !== total)
        ) {
          await res.body.dump();
          throw new DownloadRefusedError(
            `resume from ${offset} answered ${res.statusCode} ${headerOf(res.headers, 'content-range') ?? '(no Content-Range)'}`,
          );
        }
        skip = offset - start;
      }
      const encoding = headerOf(res.headers, 'content-encoding');
      if (encoding !== undefined && encoding !== 'identity') {
        await res.body.dump();
        throw new DownloadRefusedError(`artifact sent with Content-Encoding ${encoding}`);
      }
      for await (const chunk of res.body as AsyncIterable<Buffer>) {
        let data = chunk;
        if (skip > 0) {
          const n = Math.min(skip, data.length);
          data = data.subarray(n);
          skip -= n;
        }
        if (cutAt !== undefined && offset + data.length >= cutAt) {
          const keep = cutAt - offset;
          hash.update(data.subarray(0, keep));
          offset += keep;
          cutAt = undefined;
          cutPending = false;
          // Destroying the body mid-response makes undici drop the socket: the gateway sees the
          // device vanish in the middle of a transfer, as with a dropped link.
          res.body.destroy();
          throw new SimulatedCutError(`connection cut after ${offset} bytes`);
        }
        hash.update(data);
        offset += data.length;
      }
      if (offset !== total) throw new Error(`body ended at ${offset} of ${total} bytes`);
      return { sha256: hash.digest('hex'), bytes: offset, resumes };
    } catch (error) {
      if (error instanceof DownloadRefusedError || resumes >= maxResumes) throw error;
      resumes++;
      // Nothing arrived yet: the next attempt is a plain GET again, as the client's would be.
    }
  }
}
