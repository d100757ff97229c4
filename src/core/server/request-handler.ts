import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { randomUUID } from 'node:crypto';
import type { Logger } from '../logger.js';
import { accessLogger, withoutQuery } from '../logger.js';
import { classifyPath, splitTarget } from '../http/device-path.js';
import type { PathVerdict } from '../http/device-path.js';
import { clientAddress } from '../http/client-address.js';
import { sendJsonError } from '../http/json-response.js';
import type { RelayExchange } from '../upstream/device-api-relay.js';
import type { DeviceApiHandler, RequestOrigin } from './device-api-router.js';
import { TLSSocket } from 'node:tls';
import { checkPeer } from '../mtls/client-certificate-check.js';
import type { PeerPolicy } from '../mtls/client-certificate-check.js';
import { GatewayError } from '../errors.js';
import type { GatewayMetrics } from '../metrics/gateway-metrics.js';
import { routeName } from '../metrics/route-name.js';
import type { ReadinessProbe } from './readiness-probe.js';
import { toGatewayError } from '../errors.js';

/** What the handlers share with the gateway's lifecycle. */
export interface HandlerContext {
  deviceApi: DeviceApiHandler;
  logger: Logger;
  /** Called for each request so shutdown can wait for it; returns an "I'm done" callback. */
  track(res: ServerResponse): void;
  isClosing(): boolean;
  metrics: GatewayMetrics;
  readiness: ReadinessProbe;
  /** Present when Features.mTLS is enabled. */
  mtls: { policy: PeerPolicy; allowDeviceApiOnHttp: boolean } | undefined;
  /** Opens a WebSocket tunnel (the gateway wires it to the upstream settings). */
  tunnel(req: IncomingMessage, socket: Duplex, head: Buffer, clientIp: string, requestId: string): void;
}

/**
 * Who may use the device API on this connection when mTLS is on (protocol doc §3.3, §9 item
 * 12): on HTTPS a device with a valid, non-blacklisted certificate, checked on every request;
 * on plain HTTP nobody, unless the operator allowed it — otherwise switching to port 80 would
 * bypass the certificate check.
 */
function authorizeOrigin(
  ctx: HandlerContext,
  listener: 'http' | 'https',
  socket: IncomingMessage['socket'],
): RequestOrigin | GatewayError {
  if (ctx.mtls === undefined) return { listener, certificate: undefined };
  if (listener === 'http') {
    if (ctx.mtls.allowDeviceApiOnHttp) return { listener, certificate: undefined };
    return new GatewayError(
      'MGW_DEVICE_FORBIDDEN',
      'the device API needs HTTPS with a client certificate (Features.mTLS is enabled)',
      {
        hint: 'Point the device at the HTTPS listener, or set Features.mTLS.AllowDeviceAPIOnHTTP.',
      },
    );
  }
  if (!(socket instanceof TLSSocket))
    return new GatewayError('MGW_DEVICE_FORBIDDEN', 'mTLS: not a TLS connection');
  const verdict = checkPeer(socket, ctx.mtls.policy);
  if (!verdict.ok)
    return new GatewayError('MGW_DEVICE_FORBIDDEN', `mTLS: ${verdict.reason}`, {
      hint: 'The device needs a valid certificate from a trusted CA.',
    });
  return { listener, certificate: { serial: verdict.serial, subject: verdict.subject } };
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
  const access = accessLogger(ctx.logger);
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
      const labels = { method: req.method ?? 'UNKNOWN', code: String(status), route: routeName(path) };
      ctx.metrics.requests.inc(labels);
      ctx.metrics.responseBytes.inc(labels, exchange.bytesOut);
      // Only failures of the upstream link count here, not refusals of the device's own request.
      const code = (exchange.upstreamError as { code?: unknown } | undefined)?.code;
      if (
        exchange.upstreamError !== undefined &&
        typeof code === 'string' &&
        code.startsWith('MGW_UPSTREAM')
      ) {
        ctx.metrics.upstreamErrors.inc({ code });
        ctx.readiness.noteFailure(exchange.upstreamError.message);
      }
      access[level](
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
      case 'ready':
        ctx.readiness.report().then(
          (report) => {
            const body = JSON.stringify(report);
            exchange.bytesOut = Buffer.byteLength(body);
            res.writeHead(report.ready ? 200 : 503, {
              'content-type': 'application/json; charset=utf-8',
              'content-length': exchange.bytesOut,
              'cache-control': 'no-store',
            });
            res.end(body);
          },
          (err: unknown) => sendJsonError(res, 500, `readiness check failed: ${String(err)}`, requestId),
        );
        return;
      case 'not-found':
        sendJsonError(res, 404, 'not found: the gateway serves only the Mender device API', requestId);
        return;
      case 'unsafe':
        sendJsonError(res, 400, 'request path contains dot segments or encoded separators', requestId);
        return;
      case 'device-api': {
        const origin = authorizeOrigin(ctx, listener, req.socket);
        if (origin instanceof GatewayError) {
          exchange.upstreamError = origin;
          sendJsonError(res, origin.httpStatus, origin.message, requestId);
          return;
        }
        ctx.deviceApi(req, res, exchange, origin).catch((err: unknown) => {
          const failure = toGatewayError(err);
          ctx.logger.error({ err: failure, requestId }, 'relay failed');
          sendJsonError(res, failure.httpStatus, failure.message, requestId);
        });
        return;
      }
    }
  };
}

/** Handler for `upgrade` events, which bypass the request handler entirely (style doc C6a). */
export function createUpgradeHandler(ctx: HandlerContext, listener: 'http' | 'https') {
  return (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const clientIp = clientAddress(req.socket);
    const requestId = randomUUID();
    const { path } = splitTarget(req.url ?? '/');
    const origin =
      classifyPath(path) === 'device-api' ? authorizeOrigin(ctx, listener, req.socket) : undefined;
    if (origin === undefined || origin instanceof GatewayError || ctx.isClosing()) {
      const refusal = origin instanceof GatewayError ? origin : undefined;
      const status = ctx.isClosing() ? 503 : (refusal?.httpStatus ?? 404);
      const reason = ctx.isClosing() ? 'gateway is shutting down' : (refusal?.message ?? 'not found');
      const body = JSON.stringify({ error: reason, request_id: requestId });
      socket.end(
        `HTTP/1.1 ${status} ${status === 503 ? 'Service Unavailable' : status === 403 ? 'Forbidden' : 'Not Found'}\r\ncontent-type: application/json\r\n` +
          `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
      );
      ctx.logger.warn(
        { listener, requestId, method: req.method, path: withoutQuery(path), status, ip: clientIp },
        'upgrade refused',
      );
      return;
    }
    ctx.tunnel(req, socket, head, clientIp, requestId);
  };
}
