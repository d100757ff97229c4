import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { ConnectionOptions } from 'node:tls';
import type { GatewayConfig } from '../config/gateway-config.js';
import type { Logger } from '../logger.js';
import { DeviceApiRelay } from '../upstream/device-api-relay.js';
import { createUpstreamDispatcher, readProxyEnv } from '../upstream/upstream-dispatcher.js';
import { loadUpstreamTls } from '../upstream/upstream-tls.js';
import { tunnelUpgrade } from '../upstream/websocket-tunnel.js';
import { createArtifactsFeature } from '../artifacts/artifacts-feature.js';
import { createDeviceApiRouter } from './device-api-router.js';
import { createMtlsFeature } from '../mtls/mtls-feature.js';
import { checkPeer } from '../mtls/client-certificate-check.js';
import { InventoryInterceptor } from '../device-system/inventory-interceptor.js';
import { GatewayMetrics } from '../metrics/gateway-metrics.js';
import { startMetricsListener } from '../metrics/metrics-listener.js';
import { ReadinessProbe } from './readiness-probe.js';
import type { Server } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { loadServerTls } from './tls-material.js';
import type { ServerTlsMaterial } from './tls-material.js';
import { bindListener, createDeviceListeners } from './device-listeners.js';
import type { BoundAddress, DeviceListener } from './device-listeners.js';
import { createRequestHandler, createUpgradeHandler } from './request-handler.js';
import { createClientErrorHandler, createConnectRefusal } from './client-error.js';
import { ConnectionLimit } from './connection-limit.js';
import { guardDetachedSocket } from './detached-socket.js';
import type { HandlerContext } from './request-handler.js';

export type { BoundAddress } from './device-listeners.js';

export interface GatewayDeps {
  logger: Logger;
  /** Environment for proxy settings; defaults to `process.env`. */
  env?: NodeJS.ProcessEnv;
}

export interface Gateway {
  readonly config: GatewayConfig;
  /** The gateway's counters (also served on Metrics.Listen when enabled). */
  readonly metrics: GatewayMetrics;
  /** Open every configured listener; all or none (a failure closes those already open). */
  start(): Promise<BoundAddress[]>;
  /**
   * Graceful stop: refuse new connections, let in-flight exchanges finish within
   * `ShutdownGracePeriod`, then cut what is left. WebSocket tunnels are closed at once:
   * mender-connect reconnects by itself (protocol doc §2.6).
   */
  close(): Promise<void>;
}

/**
 * Build the gateway (caddy's provision/validate/start/cleanup lifecycle, style doc
 * habit 11): everything that can fail on bad files or settings fails here, before a
 * single port is open.
 */
export async function createGateway(config: GatewayConfig, deps: GatewayDeps): Promise<Gateway> {
  const { logger } = deps;
  const env = deps.env ?? process.env;
  let serverTls: ServerTlsMaterial | undefined;
  if (
    config.https.enabled &&
    config.https.serverCertificate !== undefined &&
    config.https.serverKey !== undefined
  ) {
    serverTls = await loadServerTls(config.https.serverCertificate, config.https.serverKey);
  }
  const upstreamTls: ConnectionOptions = await loadUpstreamTls(config.upstream);
  const proxy = readProxyEnv(env);
  const dispatcher: Dispatcher = createUpstreamDispatcher(config, upstreamTls, proxy);
  const metrics = new GatewayMetrics();
  const relay = new DeviceApiRelay(config.upstream.url, dispatcher);
  relay.onResponseTime = (seconds) => metrics.upstreamLatency.observe(seconds);
  const artifacts = await createArtifactsFeature(config, relay, dispatcher, logger, metrics);
  const readiness = new ReadinessProbe(
    config.upstream.url,
    dispatcher,
    artifacts?.cache === undefined ? undefined : config.artifactsProxy.cache.path,
    () => artifacts?.cache?.diskFault,
  );
  const mtls = await createMtlsFeature(config, relay, dispatcher, logger);
  const inventory =
    config.deviceSystem.enabled && config.deviceSystem.systemId !== undefined
      ? new InventoryInterceptor(
          relay,
          config.deviceSystem.systemId,
          config.deviceSystem.defaultInventory,
          logger,
        )
      : undefined;
  const deviceApi = createDeviceApiRouter({
    relay,
    next: artifacts?.next,
    downloads: artifacts?.downloads,
    auth: mtls?.auth,
    inventory,
    // Bodies the gateway reads itself (auth requests, inventory) must keep arriving (issue #7).
    bodyIdleMs: config.timeouts.bodyIdleMs,
  });

  if (config.upstream.insecureSkipVerify) {
    logger.warn(
      { upstream: config.upstream.url.origin },
      'UpstreamServer.InsecureSkipVerify is on: the upstream certificate is NOT verified; anyone on the path can impersonate the Mender server',
    );
  }
  if (proxy.httpProxy !== undefined || proxy.httpsProxy !== undefined) {
    // Only the proxy's host is logged: its URL may carry user:password (protocol doc §6.5).
    const proxyHost = (value: string | undefined): string | undefined =>
      value === undefined ? undefined : safeHost(value);
    logger.info(
      {
        httpProxy: proxyHost(proxy.httpProxy),
        httpsProxy: proxyHost(proxy.httpsProxy),
        noProxy: proxy.noProxy,
      },
      'outbound proxy configured',
    );
  }

  const active = new Set<ServerResponse>();
  const tunnels = new Set<Duplex>();
  let closing = false;
  let drained: (() => void) | undefined;

  const ctx: HandlerContext = {
    deviceApi,
    metrics,
    readiness,
    mtls:
      mtls === undefined
        ? undefined
        : { policy: mtls.policy, allowDeviceApiOnHttp: mtls.allowDeviceApiOnHttp },
    logger,
    isClosing: () => closing,
    track(res) {
      active.add(res);
      res.once('close', () => {
        active.delete(res);
        if (closing && active.size === 0) drained?.();
      });
    },
    tunnel(req, socket, head, clientIp, requestId) {
      tunnels.add(socket);
      const started = Date.now();
      tunnelUpgrade(req, socket, head, {
        upstream: config.upstream.url,
        tls: upstreamTls,
        clientIp,
        connectTimeoutMs: config.timeouts.connectMs,
        events: {
          opened: () => {
            metrics.tunnelsOpen.inc();
            logger.info({ requestId, ip: clientIp, path: req.url?.split('?')[0] }, 'websocket tunnel opened');
          },
          closed: ({ status, bytesIn, bytesOut, error }) => {
            tunnels.delete(socket);
            if (status === 101) metrics.tunnelsOpen.dec();
            logger[status >= 500 ? 'error' : status >= 400 ? 'warn' : 'info'](
              {
                requestId,
                ip: clientIp,
                status,
                bytesIn,
                bytesOut,
                durationMs: Date.now() - started,
                ...(error ? { error: error.message } : {}),
              },
              status === 101 ? 'websocket tunnel closed' : 'websocket upgrade refused',
            );
          },
        },
      });
    },
  };

  const listeners: DeviceListener[] = createDeviceListeners(config, serverTls, mtls?.clientCa);
  // One count per address across both listeners (DeviceConnections.MaxPerIP, issue #7).
  const connectionLimit = new ConnectionLimit(config.deviceConnections.maxPerIp, logger);
  for (const listener of listeners) {
    connectionLimit.attach(listener.server, listener.kind);
    listener.server.on('request', createRequestHandler(ctx, listener.kind));
    listener.server.on(
      'upgrade',
      guardDetachedSocket(createUpgradeHandler(ctx, listener.kind), listener.kind, logger),
    );
    if (listener.kind === 'https' && mtls !== undefined) {
      const policy = mtls.policy;
      // The handshake already refused untrusted or missing certificates; cut blacklisted ones
      // (and anything else checkPeer rejects) before a single request is read.
      listener.server.on('secureConnection', (socket: TLSSocket) => {
        const verdict = checkPeer(socket, policy);
        metrics.mtls.inc({ result: verdict.ok ? 'accepted' : 'refused' });
        if (!verdict.ok) {
          logger.warn(
            { ip: socket.remoteAddress, reason: verdict.reason, serial: verdict.serial },
            'mTLS: device refused',
          );
          socket.destroy();
        } else if (verdict.expiredAccepted) {
          logger.warn(
            { ip: socket.remoteAddress, serial: verdict.serial, subject: verdict.subject },
            'mTLS: expired device certificate accepted (InsecureSkipClientExpireAfter)',
          );
        }
      });
    }
    if (listener.kind === 'https') {
      // Node checks a client certificate after OpenSSL's handshake and, refusing it, destroys
      // the socket without an error ("socket hang up"): the verdict is left in
      // authorizationError, and the address must be noted before, on the raw socket.
      const peers = new WeakMap<Socket, string | undefined>();
      listener.server.on('connection', (raw: Socket) => peers.set(raw, raw.remoteAddress));
      listener.server.on('tlsClientError', (err: NodeJS.ErrnoException, socket: TLSSocket) => {
        if (mtls !== undefined) metrics.mtls.inc({ result: 'refused' });
        const raw = (socket as TLSSocket & { _parent?: Socket })._parent;
        // A code string such as CERT_HAS_EXPIRED at run time, whatever the types say.
        const verdict = socket.authorizationError as unknown;
        const reason =
          typeof verdict === 'string' ? `client certificate not trusted (${verdict})` : err.message;
        logger.warn(
          {
            ip: socket.remoteAddress ?? (raw === undefined ? undefined : peers.get(raw)),
            code: err.code,
            reason,
          },
          mtls === undefined ? 'TLS handshake failed' : 'mTLS: handshake refused',
        );
      });
    }
    // Malformed HTTP, oversized headers, slow headers: answered like Node would, logged once (issue #7).
    listener.server.on('clientError', createClientErrorHandler(listener.kind, logger));
    listener.server.on(
      'connect',
      guardDetachedSocket(createConnectRefusal(listener.kind, logger), listener.kind, logger),
    );
  }

  let started = false;
  let metricsServer: Server | undefined;
  return {
    metrics,
    config,
    async start() {
      if (started) throw new Error('gateway already started');
      started = true;
      const bound: BoundAddress[] = [];
      try {
        for (const listener of listeners) bound.push(await bindListener(listener));
      } catch (err) {
        await Promise.all(
          listeners.map(
            (l) =>
              new Promise<void>((resolve) =>
                l.server.listening ? l.server.close(() => resolve()) : resolve(),
              ),
          ),
        );
        mtls?.close();
        await artifacts?.close();
        await dispatcher.close();
        throw err;
      }
      for (const address of bound)
        logger.info({ listener: address.kind, address: address.host, port: address.port }, 'listening');
      logger.info({ upstream: config.upstream.url.origin }, 'relaying the Mender device API');
      if (config.metrics.enabled)
        metricsServer = await startMetricsListener(config.metrics.listen, metrics, logger);
      return bound;
    },
    async close() {
      if (closing) return;
      closing = true;
      logger.info({ inFlight: active.size, tunnels: tunnels.size }, 'shutting down');
      const serversClosed = Promise.all(
        listeners.map(
          (l) =>
            new Promise<void>((resolve) =>
              l.server.listening ? l.server.close(() => resolve()) : resolve(),
            ),
        ),
      );
      for (const l of listeners) l.server.closeIdleConnections();
      for (const socket of tunnels) socket.destroy();

      if (active.size > 0) {
        let timer: NodeJS.Timeout | undefined;
        const timedOut = await Promise.race([
          new Promise<false>((resolve) => (drained = () => resolve(false))),
          new Promise<true>(
            (resolve) => (timer = setTimeout(() => resolve(true), config.timeouts.shutdownGraceMs)),
          ),
        ]);
        clearTimeout(timer);
        if (timedOut) logger.warn({ cut: active.size }, 'grace period over: cutting unfinished transfers');
      }
      for (const l of listeners) l.server.closeAllConnections();
      metricsServer?.closeAllConnections();
      await Promise.all([
        serversClosed,
        new Promise<void>((resolve) =>
          metricsServer === undefined ? resolve() : metricsServer.close(() => resolve()),
        ),
      ]);
      mtls?.close();
      await artifacts?.close();
      await dispatcher.destroy();
      logger.info('stopped');
    },
  };
}

function safeHost(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return '(unparsable proxy URL)';
  }
}
