import { createServer as createHttpServer } from 'node:http';
import type { Server as HttpServer, ServerOptions as HttpServerOptions } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { GatewayConfig, ListenAddress } from '../config/gateway-config.js';
import { GatewayError } from '../errors.js';
import { key as configKey } from '../config-key.js';
import type { ServerTlsMaterial } from './tls-material.js';

export interface DeviceListener {
  kind: 'http' | 'https';
  server: HttpServer | HttpsServer;
  listen: ListenAddress;
}

export interface BoundAddress {
  kind: 'http' | 'https';
  host: string;
  port: number;
  /** A URL a local client can use, e.g. `https://127.0.0.1:8443`. */
  url: string;
}

/**
 * Node's HTTP server defaults are wrong for a gateway (docs/decisions.md §12): `requestTimeout`
 * (300 s for the whole request) would cut slow deployment-log uploads from a satellite
 * site, so it is off; headers must still arrive promptly; idle keep-alive connections
 * stay ≥ 90 s (docs/protocol.md §7, "Timeouts") so a polling device reuses its connection.
 *
 * `headersTimeout` is `DeviceConnections.HeadersTimeout` (slow-header clients). Node
 * checks it only every `connectionsCheckingInterval` (30 s by default), so the interval follows
 * the timeout: a connection is cut at most a quarter of the timeout late.
 */
function serverOptions(config: GatewayConfig): HttpServerOptions {
  const headersTimeout = config.deviceConnections.headersTimeoutMs;
  return {
    requestTimeout: 0,
    headersTimeout,
    connectionsCheckingInterval: Math.min(30_000, Math.max(50, Math.floor(headersTimeout / 4))),
    keepAliveTimeout: 90_000,
  };
}

/**
 * `clientCa` set: mTLS (docs/protocol.md §3.3). The handshake requires a certificate chaining to a
 * root in the bundle; intermediates may come from the device, and a configured intermediate
 * counts as an anchor like in Go (`allowPartialTrustChain`). With InsecureSkipClientExpireAfter
 * OpenSSL must not reject expired leaves itself, so verification moves to checkPeer().
 */
export function createDeviceListeners(
  config: GatewayConfig,
  tls: ServerTlsMaterial | undefined,
  clientCa?: string,
): DeviceListener[] {
  const listeners: DeviceListener[] = [];
  if (config.http.enabled) {
    listeners.push({
      kind: 'http',
      server: createHttpServer(serverOptions(config)),
      listen: config.http.listen,
    });
  }
  if (config.https.enabled && tls !== undefined) {
    const server = createHttpsServer({
      ...serverOptions(config),
      // A connection that never completes its handshake is a slow-header client too (Node's
      // default would hold it for 120 s); it is reported as a failed handshake.
      handshakeTimeout: config.deviceConnections.headersTimeoutMs,
      cert: tls.cert,
      key: tls.key,
      minVersion: config.https.minimumTlsVersion,
      ...(clientCa === undefined
        ? {}
        : {
            requestCert: true,
            rejectUnauthorized: !config.mtls.insecureSkipClientExpireAfter,
            ca: clientCa,
            allowPartialTrustChain: true,
          }),
    });
    listeners.push({ kind: 'https', server, listen: config.https.listen });
  }
  return listeners;
}

/** Bind one listener; a failure names the config key and what to do (no partial start). */
export function bindListener(listener: DeviceListener): Promise<BoundAddress> {
  const { server, listen, kind } = listener;
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      const key = kind === 'http' ? configKey('HTTP.Listen') : configKey('HTTPS.Listen');
      const hint =
        err.code === 'EADDRINUSE'
          ? 'Another process listens on that port; stop it or choose another port.'
          : err.code === 'EACCES'
            ? 'Ports below 1024 need root or CAP_NET_BIND_SERVICE; use a higher port or grant the capability.'
            : 'Check that the address belongs to this host.';
      reject(
        new GatewayError(
          'MGW_LISTEN_FAILED',
          `cannot listen on ${key} "${listen.raw}": ${err.code ?? err.message}`,
          { cause: err, hint },
        ),
      );
    };
    server.once('error', onError);
    server.listen({ port: listen.port, ...(listen.host === undefined ? {} : { host: listen.host }) }, () => {
      server.off('error', onError);
      const address = server.address() as AddressInfo;
      const wildcard = address.address === '::' || address.address === '0.0.0.0';
      const host = wildcard ? '127.0.0.1' : address.address;
      const urlHost = host.includes(':') ? `[${host}]` : host;
      resolve({
        kind,
        host: address.address,
        port: address.port,
        url: `${kind}://${urlHost}:${address.port}`,
      });
    });
  });
}
