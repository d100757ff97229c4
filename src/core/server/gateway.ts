import type { Server } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Dispatcher } from 'undici';
import type { ConnectionOptions } from 'node:tls';
import type { GatewayConfig } from '../config/gateway-config.js';
import type { Logger } from '../logger.js';
import { Instrumentation } from '../diagnostics.js';
import { DeviceApiRelay } from '../upstream/device-api-relay.js';
import { createUpstreamDispatcher, readProxyEnv } from '../upstream/upstream-dispatcher.js';
import type { ProxyEnv } from '../upstream/upstream-dispatcher.js';
import { loadUpstreamTls } from '../upstream/upstream-tls.js';
import { createArtifactsFeature } from '../artifacts/artifacts-feature.js';
import type { ArtifactsFeature } from '../artifacts/artifacts-feature.js';
import { createMtlsFeature } from '../mtls/mtls-feature.js';
import type { MtlsFeature } from '../mtls/mtls-feature.js';
import { InventoryInterceptor } from '../device-system/inventory-interceptor.js';
import { GatewayError } from '../errors.js';
import { GatewayMetrics } from '../metrics/gateway-metrics.js';
import { subscribeMetrics } from '../metrics/metrics-subscriber.js';
import { startMetricsListener } from '../metrics/metrics-listener.js';
import { createStatusEndpoint } from '../status/status-endpoint.js';
import type { StatusEndpoint } from '../status/status-endpoint.js';
import { ReadinessProbe } from './readiness-probe.js';
import { loadServerTls } from './tls-material.js';
import type { ServerTlsMaterial } from './tls-material.js';
import { createDeviceListeners } from './device-listeners.js';
import { createRequestHandler, createUpgradeHandler } from './exchange-entry.js';
import type { EntryOptions } from './exchange-entry.js';
import { createClientErrorHandler, createConnectRefusal } from './client-error.js';
import { ConnectionLimit } from './connection-limit.js';
import { guardDetachedSocket } from './detached-socket.js';
import { Lifecycle } from './lifecycle.js';
import { subscribeAccessLog } from './access-log.js';
import { watchTlsHandshakes } from './tls-events.js';
import { aliveEndpoint, mtlsAdmission, pathPolicy, readyEndpoint } from './gateway-endpoints.js';
import { tunnelInterceptor, upgradeWithBody } from './tunnel-interceptor.js';
import { drainInterceptor } from './drain.js';
import type { Interceptor } from './interceptor.js';
import { setBodyIdleTimeout } from '../http/read-body.js';
import { ARTIFACT_ROUTE } from '../artifacts/artifact-link.js';
import type { BoundAddress } from './device-listeners.js';
import { key } from '../config-key.js';

export type { BoundAddress } from './device-listeners.js';

export interface GatewayDeps {
  logger: Logger;
  /** The mender-gw version, for `mender_gw_build_info`. */
  version?: string;
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
   * mender-connect reconnects by itself.
   */
  close(): Promise<void>;
  /**
   * Start draining (idempotent; SIGTERM with `Drain.Enabled`, and SIGUSR2): device calls get 401
   * and auth requests 503, so devices authenticate again with the next server of their `Servers`
   * list; `/ready` answers 503; downloads go on. Resolves once `Drain.Period` has passed since the
   * first call (or at close); the gateway keeps draining until it is closed.
   */
  drain(): Promise<void>;
  /** Whether {@link drain} was called. */
  readonly draining: boolean;
}

/**
 * Build the gateway from its parts. Everything that can fail on bad files or settings fails
 * here, before a single port is open. Composition only: the pipeline's steps, the lifecycle and
 * the instrumentation each live in their own module.
 */
export async function createGateway(config: GatewayConfig, deps: GatewayDeps): Promise<Gateway> {
  const { logger } = deps;
  const env = deps.env ?? process.env;
  const serverTls = await loadListenerTls(config);
  const upstreamTls: ConnectionOptions = await loadUpstreamTls(config.upstream);
  const proxy = readProxyEnv(env);
  const dispatcher: Dispatcher = createUpstreamDispatcher(config, upstreamTls, proxy);
  const instrumentation = new Instrumentation();
  const metrics = new GatewayMetrics(deps.version);
  const relay = new DeviceApiRelay(config.upstream.url, dispatcher, instrumentation);
  const artifacts = await createArtifactsFeature(config, relay, dispatcher, logger, instrumentation);
  const mtls = await createMtlsFeature(config, relay, dispatcher, logger, metrics);
  const listeners = createDeviceListeners(config, serverTls, mtls?.clientCa);
  const lifecycle = new Lifecycle(listeners, config.timeouts.shutdownGraceMs, logger, config.drain.periodMs);
  const readiness = new ReadinessProbe(config.upstream.url, dispatcher, {
    cachePath: artifacts?.cache === undefined ? undefined : config.artifactsProxy.cache.path,
    cacheFault: () => artifacts?.cache?.diskFault,
    blacklist: () => mtls?.blacklistStatus(),
    ...(mtls === undefined ? {} : { management: () => mtls.managementStatus() }),
    draining: () => lifecycle.draining,
  });
  logStartupWarnings(config, proxy, logger);
  const chain = interceptorChain(config, {
    relay,
    readiness,
    artifacts,
    mtls,
    logger,
    instrumentation,
    upstreamTls,
    lifecycle,
  });
  const entry: EntryOptions = {
    chain,
    logger,
    started: (exchange) => {
      lifecycle.started(exchange);
      instrumentation.exchangeStart(exchange);
    },
    ended: (exchange) => {
      lifecycle.ended(exchange);
      instrumentation.exchangeEnd(exchange);
    },
    isClosing: () => lifecycle.closing,
  };
  // The status page lives on the metrics listener (docs/operator-guide.md §6): none without it.
  const status: StatusEndpoint | undefined = config.metrics.enabled
    ? createStatusEndpoint(
        instrumentation,
        {
          version: deps.version ?? 'unknown',
          readiness: () => readiness.report(),
          draining: () => lifecycle.draining,
          cache:
            artifacts?.cache === undefined
              ? undefined
              : { store: artifacts.cache.store, fault: () => artifacts.cache?.diskFault },
        },
        logger,
      )
    : undefined;
  const unsubscribe = [
    subscribeMetrics(instrumentation, metrics),
    readiness.subscribe(instrumentation),
    subscribeAccessLog(instrumentation, logger),
  ];

  // One count per address across both listeners (DeviceConnections.MaxPerIP).
  const connectionLimit = new ConnectionLimit(config.deviceConnections.maxPerIp, logger);
  for (const listener of listeners) {
    const { server, kind } = listener;
    connectionLimit.attach(server, kind);
    server.on('request', createRequestHandler(entry, kind));
    server.on('upgrade', guardDetachedSocket(createUpgradeHandler(entry, kind), kind, logger));
    server.on('connect', guardDetachedSocket(createConnectRefusal(kind, logger), kind, logger));
    // Malformed HTTP, oversized headers, slow headers: answered like Node would, logged once.
    server.on('clientError', createClientErrorHandler(kind, logger));
    if (kind === 'https') watchTlsHandshakes(server as HttpsServer, mtls?.policy, instrumentation, logger);
  }

  let started = false;
  let metricsServer: Server | undefined;
  const releaseFeatures = async (): Promise<void> => {
    mtls?.close();
    await artifacts?.close();
  };
  return {
    metrics,
    config,
    get draining() {
      return lifecycle.draining;
    },
    drain: () => lifecycle.drain(),
    async start() {
      if (started) throw new Error('gateway already started');
      started = true;
      let bound: BoundAddress[];
      try {
        bound = await lifecycle.open();
      } catch (err) {
        await releaseFeatures();
        await dispatcher.close();
        throw err;
      }
      for (const address of bound)
        logger.info({ listener: address.kind, address: address.host, port: address.port }, 'listening');
      logger.info({ upstream: config.upstream.url.origin }, 'relaying the Mender device API');
      // Wrong management credentials show now, as a warning and in /ready, not at the first device.
      if (mtls !== undefined) void mtls.checkManagementLogin();
      if (config.metrics.enabled)
        metricsServer = await startMetricsListener(config.metrics.listen, metrics, logger, status?.handle);
      return bound;
    },
    async close() {
      // Open status pages are told now (they fall back to polling), not after the grace period.
      status?.close();
      if (!(await lifecycle.close())) return;
      metricsServer?.closeAllConnections();
      await new Promise<void>((resolve) =>
        metricsServer === undefined ? resolve() : metricsServer.close(() => resolve()),
      );
      await releaseFeatures();
      await dispatcher.destroy();
      for (const off of unsubscribe) off();
      logger.info('stopped');
    },
  };
}

interface ChainParts {
  relay: DeviceApiRelay;
  readiness: ReadinessProbe;
  artifacts: ArtifactsFeature | undefined;
  mtls: MtlsFeature | undefined;
  logger: Logger;
  instrumentation: Instrumentation;
  upstreamTls: ConnectionOptions;
  lifecycle: Lifecycle;
}

/**
 * The request pipeline, in order: the gateway's own endpoints and path policy, mTLS admission,
 * the drain (while draining), upgrades, then the intercepted device-API endpoints of the enabled features, and the relay for
 * everything else, so new device endpoints pass through without a code change.
 */
function interceptorChain(config: GatewayConfig, parts: ChainParts): Interceptor[] {
  const { relay, artifacts, mtls } = parts;
  const bodyIdleMs = config.timeouts.bodyIdleMs;
  const chain: Interceptor[] = [aliveEndpoint, readyEndpoint(parts.readiness), pathPolicy];
  if (mtls !== undefined) chain.push(mtlsAdmission(mtls.policy, mtls.allowDeviceApiOnHttp));
  // Right after admission, so /alive and /ready keep answering and nothing is relayed upstream.
  chain.push(drainInterceptor(parts.lifecycle, Math.max(1, Math.ceil(config.drain.periodMs / 1000))));
  chain.push(
    bodyIdleLimit(bodyIdleMs),
    upgradeWithBody,
    tunnelInterceptor({
      upstream: config.upstream.url,
      tls: parts.upstreamTls,
      connectTimeoutMs: config.timeouts.connectMs,
      instrumentation: parts.instrumentation,
      logger: parts.logger,
      tunnels: parts.lifecycle.tunnels,
      isClosing: () => parts.lifecycle.closing,
    }),
    artifacts === undefined ? artifactLinksDisabled : named('artifact-downloads', artifacts.downloads),
  );
  if (mtls !== undefined) chain.push(named('auth-requests', mtls.auth));
  if (artifacts !== undefined) chain.push(named('deployments-next', artifacts.next));
  if (config.deviceSystem.enabled && config.deviceSystem.systemId !== undefined)
    chain.push(
      named(
        'inventory',
        new InventoryInterceptor(
          relay,
          config.deviceSystem.systemId,
          config.deviceSystem.defaultInventory,
          parts.logger,
        ),
      ),
    );
  chain.push({ name: 'relay', matches: () => true, handle: (exchange) => relay.relay(exchange) });
  return chain;
}

function named(name: string, step: Omit<Interceptor, 'name'>): Interceptor {
  return { name, matches: (e) => step.matches(e), handle: (e, next) => step.handle(e, next) };
}

/**
 * Bodies the gateway reads itself (auth requests, inventory) must keep arriving
 * (`UpstreamServer.BodyIdleTimeout`); relayed bodies stream through and are never cut.
 */
function bodyIdleLimit(ms: number | undefined): Interceptor {
  return {
    name: 'body-idle-limit',
    matches: () => ms !== undefined,
    handle(exchange, next) {
      setBodyIdleTimeout(exchange.req, ms ?? 0);
      return next();
    },
  };
}

const artifactLinksDisabled: Interceptor = {
  name: 'artifact-links-disabled',
  matches: (exchange) => exchange.path.startsWith(ARTIFACT_ROUTE),
  handle(exchange) {
    exchange.fail(
      new GatewayError(
        'MGW_NOT_FOUND',
        `artifact links are not served: ${key('Features.ArtifactsProxy')} is disabled`,
        {
          hint: `Enable ${key('Features.ArtifactsProxy')}, or poll deployments/next for a link to storage.`,
        },
      ),
    );
    return Promise.resolve();
  },
};

async function loadListenerTls(config: GatewayConfig): Promise<ServerTlsMaterial | undefined> {
  const { https } = config;
  if (!https.enabled || https.serverCertificate === undefined || https.serverKey === undefined)
    return undefined;
  return loadServerTls(https.serverCertificate, https.serverKey);
}

function logStartupWarnings(config: GatewayConfig, proxy: ProxyEnv, logger: Logger): void {
  if (config.upstream.insecureSkipVerify) {
    logger.warn(
      { upstream: config.upstream.url.origin },
      `${key('UpstreamServer.InsecureSkipVerify')} is on: the upstream certificate is NOT verified; anyone on the path can impersonate the Mender server`,
    );
  }
  if (proxy.httpProxy !== undefined || proxy.httpsProxy !== undefined) {
    // Only the proxy's host is logged: its URL may carry user:password.
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
}

function safeHost(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return '(unparsable proxy URL)';
  }
}
