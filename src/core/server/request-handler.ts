import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { randomUUID } from 'node:crypto';
import type { Logger } from '../logger.js';
import { withoutQuery } from '../logger.js';
import { classifyPath, splitTarget } from '../http/device-path.js';
import type { PathVerdict } from '../http/device-path.js';
import { clientAddress } from '../http/client-address.js';
import { sendJsonError } from '../http/json-response.js';
import type { RelayExchange } from '../upstream/device-api-relay.js';
import type { DeviceApiHandler } from './device-api-router.js';
import { toGatewayError } from '../errors.js';

/** What the handlers share with the gateway's lifecycle. */
export interface HandlerContext {
  deviceApi: DeviceApiHandler;
  logger: Logger;
  /** Called for each request so shutdown can wait for it; returns an "I'm done" callback. */
  track(res: ServerResponse): void;
  isClosing(): boolean;
  /** Opens a WebSocket tunnel (the gateway wires it to the upstream settings). */
  tunnel(req: IncomingMessage, socket: Duplex, head: Buffer, clientIp: string, requestId: string): void;
}

function logLevelFor(status: number): 'info' | 'warn' | 'error' {
  if (status >= 500) return 'error';
  // Mender Gateway logs 4xx at warning level (protocol doc §6.7).
  return status >= 400 ? 'warn' : 'info';
}

/**
 * The device listener's request handler: route by path only, never by Host (protocol
 * doc §1), relay `/api/devices/**`, answer liveness, and 404 everything else so the
 * management API and UI are never reachable from the device network.
 * One access line per request (issue #2): method, path without query, status, bytes,
 * duration, device IP.
 */
export function createRequestHandler(ctx: HandlerContext, listener: 'http' | 'https') {
  return (req: IncomingMessage, res: ServerResponse): void => {
    const started = process.hrtime.bigint();
    const clientIp = clientAddress(req.socket);
    const requestId = randomUUID();
    const { path } = splitTarget(req.url ?? '/');
    const verdict: PathVerdict = classifyPath(path);
    const exchange: RelayExchange = { clientIp, requestId, bytesOut: 0 };
    ctx.track(res);
    // During shutdown, finish this exchange but do not keep the connection for another.
    if (ctx.isClosing()) res.shouldKeepAlive = false;

    res.once('close', () => {
      const status = res.statusCode;
      const level = logLevelFor(status);
      ctx.logger[level](
        {
          listener,
          requestId,
          method: req.method,
          path: withoutQuery(req.url ?? '/'),
          status,
          bytes: exchange.bytesOut,
          durationMs: Number(process.hrtime.bigint() - started) / 1e6,
          ip: clientIp,
          ...(res.writableFinished ? {} : { aborted: true }),
          ...(exchange.upstreamError === undefined ? {} : { error: exchange.upstreamError.message }),
        },
        'request',
      );
    });

    switch (verdict) {
      case 'alive':
        // Mender services answer alive checks with 204 and no body (protocol doc §7).
        res.writeHead(204, { 'cache-control': 'no-store' });
        res.end();
        return;
      case 'not-found':
        sendJsonError(res, 404, 'not found: the gateway serves only the Mender device API', requestId);
        return;
      case 'unsafe':
        sendJsonError(res, 400, 'request path contains dot segments or encoded separators', requestId);
        return;
      case 'device-api':
        ctx.deviceApi(req, res, exchange).catch((err: unknown) => {
          const failure = toGatewayError(err);
          ctx.logger.error({ err: failure, requestId }, 'relay failed');
          sendJsonError(res, failure.httpStatus, failure.message, requestId);
        });
        return;
    }
  };
}

/** Handler for `upgrade` events, which bypass the request handler entirely (style doc C6a). */
export function createUpgradeHandler(ctx: HandlerContext, listener: 'http' | 'https') {
  return (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const clientIp = clientAddress(req.socket);
    const requestId = randomUUID();
    const { path } = splitTarget(req.url ?? '/');
    if (classifyPath(path) !== 'device-api' || ctx.isClosing()) {
      const status = ctx.isClosing() ? 503 : 404;
      const body = JSON.stringify({ error: status === 503 ? 'gateway is shutting down' : 'not found', request_id: requestId });
      socket.end(
        `HTTP/1.1 ${status} ${status === 503 ? 'Service Unavailable' : 'Not Found'}\r\ncontent-type: application/json\r\n` +
          `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
      );
      ctx.logger.warn({ listener, requestId, method: req.method, path: withoutQuery(path), status, ip: clientIp }, 'upgrade refused');
      return;
    }
    ctx.tunnel(req, socket, head, clientIp, requestId);
  };
}
