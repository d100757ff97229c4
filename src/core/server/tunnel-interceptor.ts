import type { Duplex } from 'node:stream';
import type { ConnectionOptions } from 'node:tls';
import { GatewayError, isGatewayError } from '../errors.js';
import type { Instrumentation } from '../diagnostics.js';
import type { Logger } from '../logger.js';
import { DEVICE_GONE, tunnelUpgrade } from '../upstream/websocket-tunnel.js';
import type { Interceptor } from './interceptor.js';
import { announcesBody } from '../http/read-body.js';

/**
 * The device API's WebSocket endpoints: mender-connect's remote terminal, file transfer and port
 * forwarding all use this one (https://docs.mender.io/api/#devices-api-device-connect). Only these
 * may be upgraded; any other `Upgrade` request is an ordinary request to the pipeline.
 */
export const WEBSOCKET_PATHS: ReadonlySet<string> = new Set(['/api/devices/v1/deviceconnect/connect']);

export interface TunnelOptions {
  upstream: URL;
  tls: ConnectionOptions;
  connectTimeoutMs: number;
  instrumentation: Instrumentation;
  logger: Logger;
  /** Open tunnels, so shutdown can close them. */
  tunnels: Set<Duplex>;
  isClosing(): boolean;
}

/** Tunnel a WebSocket upgrade to upstream as raw bytes (`upstream/websocket-tunnel.ts`). */
export function tunnelInterceptor(options: TunnelOptions): Interceptor {
  const { instrumentation, logger, tunnels } = options;
  return {
    name: 'websocket-tunnel',
    matches: (exchange) => exchange.upgrade !== undefined && WEBSOCKET_PATHS.has(exchange.path),
    handle(exchange, next) {
      const upgrade = exchange.upgrade;
      if (upgrade === undefined) return next();
      if (options.isClosing()) {
        exchange.fail(
          new GatewayError('MGW_SHUTTING_DOWN', 'gateway is shutting down', {
            hint: 'mender-connect reconnects by itself.',
          }),
        );
        return Promise.resolve();
      }
      // A WebSocket opening handshake is a GET asking for `Upgrade: websocket` (RFC 6455 §4.1).
      // Anything else is the device's mistake, refused here, never a question for upstream.
      if (exchange.req.method !== 'GET') {
        exchange.res.setHeader('allow', 'GET');
        exchange.fail(
          new GatewayError('MGW_METHOD_NOT_ALLOWED', `${exchange.req.method ?? ''} cannot open a WebSocket`, {
            hint: 'A WebSocket handshake is a GET request.',
          }),
        );
        return Promise.resolve();
      }
      if (!/(^|,)\s*websocket\s*(,|$)/i.test(exchange.req.headers.upgrade ?? '')) {
        exchange.fail(
          new GatewayError('MGW_BAD_REQUEST', `${exchange.path} upgrades to WebSocket only`, {
            hint: 'Send Upgrade: websocket.',
          }),
        );
        return Promise.resolve();
      }
      // From here the bytes on this connection are the tunnel's, not an HTTP response's.
      exchange.takeOver();
      exchange.res.detachSocket(upgrade.socket);
      const { socket } = upgrade;
      tunnels.add(socket);
      const started = Date.now();
      const fields = { requestId: exchange.id, ip: exchange.clientIp, path: exchange.path };
      tunnelUpgrade(exchange.req, socket, upgrade.head, {
        upstream: options.upstream,
        tls: options.tls,
        clientIp: exchange.clientIp,
        connectTimeoutMs: options.connectTimeoutMs,
        events: {
          opened: () => {
            instrumentation.tunnelOpened();
            logger.info(fields, 'websocket tunnel opened');
          },
          closed: ({ status, bytesIn, bytesOut, error }) => {
            tunnels.delete(socket);
            instrumentation.tunnelClosed(status);
            exchange.statusOverride = status;
            exchange.bytesOut = bytesOut;
            // A refusal the gateway produced (upstream unreachable or silent) is an upstream failure;
            // a running tunnel that ends with a socket error is just a closed connection.
            if (status !== 101 && isGatewayError(error)) exchange.record(error);
            const abandoned = status === DEVICE_GONE;
            logger[status >= 500 ? 'error' : status >= 400 && !abandoned ? 'warn' : 'info'](
              {
                ...fields,
                status,
                bytesIn,
                bytesOut,
                durationMs: Date.now() - started,
                ...(error ? { error: error.message } : {}),
              },
              status === 101
                ? 'websocket tunnel closed'
                : abandoned
                  ? 'websocket upgrade abandoned by the device'
                  : 'websocket upgrade refused',
            );
            exchange.end();
          },
        },
      });
      return Promise.resolve();
    },
  };
}

/**
 * An `Upgrade` request to any other path is served as an ordinary request: a server may ignore
 * `Upgrade` (RFC 9110 §7.8), and the header is hop-by-hop, so it never reaches upstream. Such a
 * request cannot carry a body here (Node stopped parsing at the headers), so one that announces a
 * body is refused.
 */
export const upgradeWithBody: Interceptor = {
  name: 'upgrade-with-body',
  matches: (exchange) =>
    exchange.upgrade !== undefined && !WEBSOCKET_PATHS.has(exchange.path) && announcesBody(exchange.req),
  handle(exchange) {
    exchange.fail(
      new GatewayError('MGW_BAD_REQUEST', `${exchange.path} cannot be upgraded`, {
        hint: `Only ${[...WEBSOCKET_PATHS].join(', ')} accepts Upgrade.`,
      }),
    );
    return Promise.resolve();
  },
};
