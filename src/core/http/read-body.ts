import type { IncomingMessage } from 'node:http';
import { GatewayError } from '../errors.js';
import { key } from '../config-key.js';

/**
 * Idle limits per request, set where a device request enters the device API (the router), so
 * the interceptors that read bodies need not carry the setting (slow-body clients).
 */
const idleLimits = new WeakMap<IncomingMessage, number>();

/** Longest silence allowed while {@link readBoundedBody} reads this request's body; 0: none. */
export function setBodyIdleTimeout(req: IncomingMessage, ms: number): void {
  idleLimits.set(req, ms);
}

/**
 * Read a request body the gateway must inspect (auth requests, inventory), bounded: 1 MiB is
 * upstream's own default limit (docs/protocol.md §7, "Timeouts"), so nothing legitimate is larger.
 * A body over the limit is refused with 413 before it is read in full.
 *
 * A body that stops arriving for longer than the request's idle limit (see
 * {@link setBodyIdleTimeout}) is refused with 408: it would otherwise hold the
 * connection for as long as the device likes. Progressing bodies are never cut.
 */
export function readBoundedBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  const tooLarge = (): GatewayError =>
    new GatewayError('MGW_BODY_TOO_LARGE', `request body larger than ${limit} bytes`, {
      hint: 'The Mender server refuses bodies this large too; reduce what the device sends.',
    });
  if (Number.isFinite(declared) && declared > limit) {
    req.resume(); // drain so the connection stays usable for the 413
    return Promise.reject(tooLarge());
  }
  const idleMs = idleLimits.get(req) ?? 0;
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let timer: NodeJS.Timeout | undefined;
    const cleanup = (): void => {
      clearTimeout(timer);
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    const fail = (error: Error): void => {
      cleanup();
      reject(error);
    };
    const arm = (): void => {
      if (idleMs <= 0) return;
      clearTimeout(timer);
      timer = setTimeout(() => {
        // Not drained: the rest may never come. The answer closes the connection (failExchange).
        req.pause();
        fail(
          new GatewayError(
            'MGW_REQUEST_TIMEOUT',
            `request body idle for more than ${idleMs} ms: connection closed`,
            {
              hint: `The device stopped sending its request body; it will retry. Raise ${key('UpstreamServer.BodyIdleTimeout')} for very slow links.`,
            },
          ),
        );
      }, idleMs);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        req.resume(); // drain so the connection stays usable for the 413
        reject(tooLarge());
        return;
      }
      chunks.push(chunk);
      arm();
    };
    const onEnd = (): void => {
      cleanup();
      resolve(Buffer.concat(chunks));
    };
    // The device went away before the end ("aborted"): no answer can reach it, but the log
    // line should say what happened rather than report an internal error.
    const gone = (): GatewayError =>
      new GatewayError('MGW_BAD_REQUEST', 'the device closed the connection before its request body ended');
    const onError = (error: Error): void => fail(req.complete ? error : gone());
    const onClose = (): void => {
      if (!req.complete) fail(gone());
    };
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('error', onError);
    req.once('close', onClose);
    arm();
  });
}

/** A request carries a body when it says so (RFC 9112 §6.3); GETs from devices do not. */
export function announcesBody(req: IncomingMessage): boolean {
  return req.headers['transfer-encoding'] !== undefined || (req.headers['content-length'] ?? '0') !== '0';
}
