import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';

/** How long an answer written straight to a socket may take to flush before the socket is destroyed anyway. */
const FLUSH_LIMIT_MS = 5_000;

/**
 * A status line and headers for an answer written straight to a socket, where Node has no
 * `ServerResponse` to write it (parser errors, `CONNECT`, refused WebSocket upgrades). The reason
 * phrase is Node's own (`http.STATUS_CODES`) unless one is relayed from the upstream server.
 */
export function rawResponseHead(
  status: number,
  rawHeaders: readonly string[],
  reason: string = STATUS_CODES[status] ?? '',
): string {
  let head = `HTTP/1.1 ${status} ${reason}\r\n`;
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) head += `${rawHeaders[i]}: ${rawHeaders[i + 1]}\r\n`;
  return head + '\r\n';
}

/**
 * Answer on a bare socket and close it: `content-length` and `connection: close` are added, and
 * the socket is destroyed once the answer is flushed, or after a bound when the peer does not
 * read (`end()` alone would leave a half-open socket that the peer controls). A socket that can
 * no longer be written is destroyed at once.
 */
export function endWithRawResponse(
  socket: Duplex,
  status: number,
  body: Buffer | string,
  rawHeaders: readonly string[],
  reason?: string,
): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const bytes = typeof body === 'string' ? Buffer.from(body) : body;
  const headers = [...rawHeaders, 'content-length', String(bytes.length), 'connection', 'close'];
  socket.end(Buffer.concat([Buffer.from(rawResponseHead(status, headers, reason)), bytes]), () =>
    socket.destroy(),
  );
  setTimeout(() => socket.destroy(), FLUSH_LIMIT_MS).unref();
}
