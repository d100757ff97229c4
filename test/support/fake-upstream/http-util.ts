import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { gzipSync } from 'node:zlib';

/** Thrown by `readBody` when the body never completes or is too large. */
export class BodyError extends Error {
  constructor(
    readonly reason: 'incomplete' | 'too-large',
    message: string,
  ) {
    super(message);
  }
}

/**
 * Read a whole request body. Node decodes chunked transfer coding (the 3.4 client sends
 * chunked bodies everywhere but the auth request, docs/protocol.md §8) and reads exactly
 * `Content-Length` bytes; a body that stalls for `idleMs` is reported as incomplete, which is
 * how a too-large `Content-Length` from a proxy shows up.
 */
export function readBody(
  req: IncomingMessage,
  options: { limit?: number; idleMs?: number } = {},
): Promise<Buffer> {
  const limit = options.limit ?? 16 * 1024 * 1024;
  const idleMs = options.idleMs ?? 3000;
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let timer: NodeJS.Timeout | undefined;
    const arm = (): void => {
      clearTimeout(timer);
      const armedAt = size;
      timer = setTimeout(() => {
        // A loop that was busy for idleMs (a loaded benchmark machine) runs this timer before the
        // data that arrived meanwhile: look again after the poll phase has delivered it.
        setImmediate(() => {
          if (size === armedAt && timer !== undefined)
            fail(new BodyError('incomplete', `request body stalled after ${size} bytes`));
        });
      }, idleMs);
    };
    const cleanup = (): void => {
      clearTimeout(timer);
      timer = undefined;
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', fail);
      req.off('aborted', onAborted);
    };
    function fail(error: Error): void {
      cleanup();
      reject(error);
    }
    function onData(chunk: Buffer): void {
      size += chunk.length;
      if (size > limit) {
        fail(new BodyError('too-large', `request body over ${limit} bytes`));
        return;
      }
      chunks.push(chunk);
      arm();
    }
    function onEnd(): void {
      cleanup();
      resolve(Buffer.concat(chunks));
    }
    function onAborted(): void {
      fail(new BodyError('incomplete', 'client aborted the request'));
    }
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', fail);
    req.on('aborted', onAborted);
    arm();
  });
}

/**
 * Mender services echo an incoming `X-MEN-RequestID` or make one up, and return it both as
 * a header and inside error bodies (docs/protocol.md §2).
 */
export function requestId(req: IncomingMessage): string {
  const incoming = req.headers['x-men-requestid'];
  return typeof incoming === 'string' && incoming !== '' ? incoming : randomUUID();
}

export interface JsonOptions {
  /** Compress like upstream traefik's compress middleware when the client accepts gzip. */
  gzip: boolean;
}

function acceptsGzip(req: IncomingMessage): boolean {
  const header = req.headers['accept-encoding'];
  if (header === undefined) return false;
  return header.split(',').some((part) => {
    const [coding, ...params] = part.trim().toLowerCase().split(';');
    if (coding !== 'gzip' && coding !== '*') return false;
    return !params.some((p) => /^\s*q=0(\.0*)?\s*$/.test(p));
  });
}

export function sendJson(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  body: unknown,
  options: JsonOptions,
): void {
  let payload = Buffer.from(JSON.stringify(body));
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  if (options.gzip) {
    res.setHeader('Vary', 'Accept-Encoding');
    if (acceptsGzip(req)) {
      payload = gzipSync(payload);
      res.setHeader('Content-Encoding', 'gzip');
    }
  }
  res.setHeader('Content-Length', payload.length);
  res.writeHead(status);
  res.end(req.method === 'HEAD' ? undefined : payload);
}

/** Mender's error shape: `{"error": "...", "request_id": "..."}` (docs/protocol.md §2). */
export function sendError(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  message: string,
  options: JsonOptions,
): void {
  const id = res.getHeader('X-MEN-RequestID');
  sendJson(
    req,
    res,
    status,
    { error: message, request_id: typeof id === 'string' ? id : requestId(req) },
    options,
  );
}

export function sendEmpty(res: ServerResponse, status: number): void {
  // A 204 must not carry Content-Length (RFC 9110 §8.6); a 200 with no body says 0.
  if (status !== 204) res.setHeader('Content-Length', 0);
  res.writeHead(status);
  res.end();
}

export function parseJson(body: Buffer): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(body.toString('utf8')) as unknown };
  } catch {
    return { ok: false };
  }
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function headerValue(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name.toLowerCase()];
  return Array.isArray(value) ? value.join(', ') : value;
}
