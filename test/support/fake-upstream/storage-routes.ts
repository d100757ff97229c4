import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { decideRange } from './byte-range.js';
import type { DeploymentCatalog } from './deployment-catalog.js';
import { headerValue } from './http-util.js';
import type { Presigner } from './presign.js';
import { BUCKET } from './presign.js';
import type { FakeArtifact, FakeState, StorageCounters } from './state.js';
import { emptyCounters } from './state.js';

/** Mutable fault settings for the storage host, read at the start of every response. */
export interface StorageFaults {
  /** Throttle every response body to about this rate. */
  bytesPerSecond?: number;
  /** Destroy the connection after this many body bytes of a response (a broken download). */
  abortAfterBytes?: number;
  /** How many responses to break that way; undefined = every response while `abortAfterBytes` is set. */
  abortTimes?: number;
  /**
   * Send only this many body bytes of a response, then close the connection cleanly (TLS
   * close_notify and FIN, no reset): a body shorter than its Content-Length that ends like an
   * orderly close, still an incomplete message (RFC 9112 §8). Unlike
   * `abortAfterBytes`, nothing on the wire looks like an error.
   */
  shortBodyBytes?: number;
  /** How many responses to shorten that way; undefined = every response while `shortBodyBytes` is set. */
  shortBodyTimes?: number;
  /**
   * After the whole body, write this many more bytes (`EXTRA_BYTE`) on the keep-alive connection,
   * beyond the declared Content-Length and in the same write as the body's last bytes: a storage
   * service or middlebox that miscounts. A client that frames by Content-Length
   * never takes them as body; the next response on that connection would not parse.
   */
  extraBytes?: number;
  /**
   * Answer requests for an artifact with `redirectStatus` and `Location: redirectTo` instead of
   * its bytes, as S3 does for a moved bucket (301 PermanentRedirect, 307 TemporaryRedirect). The
   * gateway must neither follow nor relay it (docs/security.md §3).
   */
  redirectTo?: string;
  /** Status of that redirect; default 302. */
  redirectStatus?: 301 | 302 | 303 | 307 | 308;
}

/** What `extraBytes` sends: not a plausible start of an HTTP response, so a parser refuses it. */
export const EXTRA_BYTE = 0xee;

export interface StorageContext {
  state: FakeState;
  catalog: DeploymentCatalog;
  presigner: Presigner;
  faults: StorageFaults;
}

const CHUNK = 64 * 1024;

function s3Error(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  code: string,
  message: string,
  extra: Record<string, string> = {},
): void {
  const requestId = randomBytes(8).toString('hex').toUpperCase();
  const fields = Object.entries({ Code: code, Message: message, ...extra, RequestId: requestId })
    .map(([k, v]) => `<${k}>${v.replace(/&/g, '&amp;').replace(/</g, '&lt;')}</${k}>`)
    .join('');
  const body = Buffer.from(`<?xml version="1.0" encoding="UTF-8"?>\n<Error>${fields}</Error>`);
  res.writeHead(status, {
    'Content-Type': 'application/xml',
    'Content-Length': body.length,
    'x-amz-request-id': requestId,
    Server: 'AmazonS3',
  });
  res.end(req.method === 'HEAD' ? undefined : body);
}

function bump(
  ctx: StorageContext,
  artifact: FakeArtifact | undefined,
  field: keyof StorageCounters,
  by = 1,
): void {
  ctx.state.storage[field] += by;
  if (artifact === undefined) return;
  let counters = ctx.state.storage.perArtifact.get(artifact.id);
  if (counters === undefined) {
    counters = emptyCounters();
    ctx.state.storage.perArtifact.set(artifact.id, counters);
  }
  counters[field] += by;
}

function waitDrainOrClose(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

/**
 * Write `data[start, end)` slice by slice (views, never copies, so 100+ MiB artifacts are cheap),
 * honouring backpressure, the throttle and an injected abort. Bytes count as sent once their
 * write completes on the socket.
 */
async function streamSlice(
  ctx: StorageContext,
  res: ServerResponse,
  artifact: FakeArtifact,
  start: number,
  end: number,
): Promise<void> {
  const { bytesPerSecond, abortAfterBytes, abortTimes, shortBodyBytes, shortBodyTimes, extraBytes } =
    ctx.faults;
  let cutAt: number | undefined;
  if (abortAfterBytes !== undefined && (abortTimes === undefined || abortTimes > 0)) {
    cutAt = start + abortAfterBytes;
    if (abortTimes !== undefined) ctx.faults.abortTimes = abortTimes - 1;
  }
  let shortAt: number | undefined;
  if (shortBodyBytes !== undefined && (shortBodyTimes === undefined || shortBodyTimes > 0)) {
    shortAt = start + shortBodyBytes;
    if (shortBodyTimes !== undefined) ctx.faults.shortBodyTimes = shortBodyTimes - 1;
  }
  const stopAt = Math.min(end, cutAt ?? end, shortAt ?? end);
  let offset = start;
  while (offset < stopAt) {
    if (res.destroyed) break;
    const limit = Math.min(stopAt, offset + CHUNK);
    const chunk = artifact.data.subarray(offset, limit);
    offset = limit;
    // The extra bytes travel in the body's last write, so they reach the client together with it.
    const extra = offset >= end && extraBytes !== undefined && extraBytes > 0 ? extraBytes : 0;
    const wire = extra === 0 ? chunk : Buffer.concat([chunk, Buffer.alloc(extra, EXTRA_BYTE)]);
    const writable = res.write(wire, (error) => {
      if (error === null || error === undefined) bump(ctx, artifact, 'bytesSent', chunk.length);
    });
    if (!writable) await waitDrainOrClose(res);
    if (bytesPerSecond !== undefined && bytesPerSecond > 0)
      await sleep((chunk.length / bytesPerSecond) * 1000);
  }
  if (offset >= end && !res.destroyed) {
    res.end();
    bump(ctx, artifact, 'completedResponses');
    return;
  }
  bump(ctx, artifact, 'abortedResponses');
  if (offset === shortAt && offset !== cutAt && !res.destroyed && res.socket !== null) {
    // An orderly close after a short body: the written bytes are flushed, then close_notify/FIN.
    res.socket.end();
    return;
  }
  // A cut download looks like a dropped connection, never like a clean short body.
  res.destroy();
}

/**
 * The "S3" host (docs/protocol.md §2.2, §2.7): `GET|HEAD /mender-artifacts/<tenant>/<artifactId>`
 * with a presigned query. Answers like S3: XML errors (403 AccessDenied / SignatureDoesNotMatch,
 * 404 NoSuchKey/NoSuchBucket, 416 InvalidRange with `Content-Range: bytes *\/size`), exact
 * `Content-Length`, `Accept-Ranges: bytes`, ETag, single ranges with 206, never compressed.
 */
export async function handleStorage(
  ctx: StorageContext,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const url = req.url ?? '/';
  const queryAt = url.indexOf('?');
  const path = queryAt < 0 ? url : url.slice(0, queryAt);
  const rawQuery = queryAt < 0 ? '' : url.slice(queryAt + 1);
  const segments = path.split('/').filter((s) => s !== '');
  const artifact =
    segments[0] === BUCKET
      ? ctx.catalog.artifact(decodeURIComponent(segments[segments.length - 1] ?? ''))
      : undefined;
  bump(ctx, artifact, 'requests');

  const reject = (status: number, code: string, message: string, extra?: Record<string, string>): void => {
    bump(ctx, artifact, 'rejected');
    s3Error(req, res, status, code, message, extra);
  };
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    reject(405, 'MethodNotAllowed', 'The specified method is not allowed against this resource.');
    return;
  }
  if (segments[0] !== BUCKET) {
    reject(404, 'NoSuchBucket', 'The specified bucket does not exist');
    return;
  }
  const check = ctx.presigner.check(req.method, path, rawQuery, headerValue(req, 'host'));
  if (!check.ok) {
    reject(check.status, check.code, check.message);
    return;
  }
  if (artifact === undefined) {
    reject(404, 'NoSuchKey', 'The specified key does not exist.');
    return;
  }

  const { redirectTo, redirectStatus = 302 } = ctx.faults;
  if (redirectTo !== undefined) {
    // An injected fault, not S3 behaviour for a valid presigned link: counted as rejected.
    bump(ctx, artifact, 'rejected');
    const body = Buffer.from(
      `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>TemporaryRedirect</Code><Message>Please re-send this request to the specified temporary endpoint.</Message><Endpoint>${new URL(redirectTo).host}</Endpoint></Error>`,
    );
    res.writeHead(redirectStatus, {
      Location: redirectTo,
      'Content-Type': 'application/xml',
      'Content-Length': body.length,
      Server: 'AmazonS3',
    });
    res.end(req.method === 'HEAD' ? undefined : body);
    return;
  }

  const query = new URLSearchParams(rawQuery);
  const size = artifact.size;
  res.setHeader('Accept-Ranges', 'bytes');
  res.setHeader('Content-Type', query.get('response-content-type') ?? 'application/vnd.mender-artifact');
  const disposition = query.get('response-content-disposition');
  if (disposition !== null) res.setHeader('Content-Disposition', disposition);
  res.setHeader('ETag', artifact.etag);
  res.setHeader('Last-Modified', artifact.createdAt.toUTCString());
  res.setHeader('x-amz-request-id', randomBytes(8).toString('hex').toUpperCase());
  res.setHeader('Server', 'AmazonS3');

  const decision = decideRange(headerValue(req, 'range'), headerValue(req, 'if-range'), size, artifact.etag);
  if (decision.kind === 'unsatisfiable') {
    res.setHeader('Content-Range', `bytes */${size}`);
    res.removeHeader('Content-Disposition');
    reject(416, 'InvalidRange', 'The requested range is not satisfiable', {
      RangeRequested: headerValue(req, 'range') ?? '',
      ActualObjectSize: String(size),
    });
    return;
  }
  const start = decision.kind === 'partial' ? decision.start : 0;
  const endExclusive = decision.kind === 'partial' ? decision.end + 1 : size;
  res.setHeader('Content-Length', endExclusive - start);
  if (decision.kind === 'partial')
    res.setHeader('Content-Range', `bytes ${start}-${endExclusive - 1}/${size}`);
  res.writeHead(decision.kind === 'partial' ? 206 : 200);
  if (req.method === 'HEAD') {
    bump(ctx, artifact, 'headRequests');
    res.end();
    return;
  }
  bump(ctx, artifact, decision.kind === 'partial' ? 'rangeRequests' : 'fullDownloadsStarted');
  await streamSlice(ctx, res, artifact, start, endExclusive);
}
