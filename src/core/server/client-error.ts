import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import type { Logger } from '../logger.js';
import { clientAddress } from '../http/client-address.js';
import { endWithRawResponse } from '../http/raw-response.js';

/**
 * The device listeners' `clientError` handler (hostile input): what Node's parser
 * refused, answered with the status Node itself would send, one log line per connection.
 *
 * Node's own handler (used when there is none) answers 431/413/408/400 and destroys the socket
 * at once. Ours must also log, and two things went wrong when it simply did `socket.end(400)`:
 * - every status was 400: an oversized header got 400, not 431, and a slow-header client 400,
 *   not 408;
 * - the parser stays in its error state and reports it again for every further chunk (the rest
 *   of a 64 KiB header), so one bad request logged "malformed request" several times.
 * Peers that simply went away (reset, EOF in the middle of a request) are not malformed input:
 * they are logged at debug level and the socket is destroyed.
 */

interface Answer {
  status: number;
  /** The log message. */
  message: string;
}

const ANSWERS: Readonly<Record<string, Answer>> = {
  // Node's default maxHeaderSize is 16 KiB for the request line and all headers together.
  HPE_HEADER_OVERFLOW: { status: 431, message: 'request headers too large' },
  HPE_CHUNK_EXTENSIONS_OVERFLOW: { status: 413, message: 'chunk extensions too large' },
  // headersTimeout (DeviceConnections.HeadersTimeout) expired: a slow-header client.
  ERR_HTTP_REQUEST_TIMEOUT: { status: 408, message: 'request headers timeout' },
};

const MALFORMED: Answer = { status: 400, message: 'malformed request' };

/** The peer is gone or went away mid-request: nothing to answer, nothing hostile to report. */
const PEER_GONE = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'ETIMEDOUT', 'HPE_INVALID_EOF_STATE']);

export function createClientErrorHandler(listener: 'http' | 'https', logger: Logger) {
  // Sockets already answered: the parser repeats its error for every chunk that follows.
  const answered = new WeakSet<Socket>();
  return (err: NodeJS.ErrnoException, socket: Socket): void => {
    if (answered.has(socket)) return;
    answered.add(socket);
    const code = err.code ?? 'UNKNOWN';
    const ip = socket.remoteAddress === undefined ? undefined : clientAddress(socket);
    if (PEER_GONE.has(code)) {
      logger.debug({ listener, ip, code }, 'device connection closed mid-request');
      socket.destroy();
      return;
    }
    const answer = ANSWERS[code] ?? (code.startsWith('HPE_') ? MALFORMED : undefined);
    if (answer === undefined) {
      // A socket or TLS error after the handshake: the connection cannot carry an answer.
      logger.warn({ listener, ip, code, reason: err.message }, 'device connection failed');
      socket.destroy();
      return;
    }
    // Parser messages are fixed texts ("Parse Error: Invalid header value char"); the raw bytes
    // (err.rawPacket) are never logged: they may hold a device's Authorization header.
    logger.warn({ listener, ip, code, status: answer.status, reason: err.message }, answer.message);
    // Like Node: answer only if nothing of a response is on the wire yet (a pipelined request's
    // answer may be in flight), otherwise the device would read a corrupted response.
    const inFlight = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
    if (!socket.writable || inFlight?.headersSent === true) {
      socket.destroy();
      return;
    }
    endWithRawResponse(socket, answer.status, JSON.stringify({ error: answer.message }), [
      'content-type',
      'application/json; charset=utf-8',
      'cache-control',
      'no-store',
    ]);
  };
}

/**
 * `CONNECT` asks for a tunnel to anywhere: the gateway is never a forward proxy. Node would
 * destroy the socket without a word; answer 405 and log who asked.
 */
export function createConnectRefusal(listener: 'http' | 'https', logger: Logger) {
  return (req: IncomingMessage, socket: Duplex): void => {
    const ip = req.socket.remoteAddress === undefined ? undefined : clientAddress(req.socket);
    // Only the host:port asked for, which is all a CONNECT target is.
    logger.warn(
      { listener, ip, method: 'CONNECT', target: req.url?.slice(0, 256), status: 405 },
      'CONNECT refused: the gateway is not a proxy',
    );
    const body = JSON.stringify({
      error: 'CONNECT is not supported: the gateway serves only the Mender device API',
    });
    endWithRawResponse(socket, 405, body, [
      'allow',
      'GET, HEAD, POST, PUT, PATCH, DELETE',
      'content-type',
      'application/json; charset=utf-8',
    ]);
  };
}
