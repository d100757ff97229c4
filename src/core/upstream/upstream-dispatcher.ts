import { Agent, EnvHttpProxyAgent } from 'undici';
import type { Dispatcher } from 'undici';
import type { ConnectionOptions } from 'node:tls';
import type { GatewayConfig } from '../config/gateway-config.js';

/** Proxy settings read from the environment (docs/protocol.md §6.5). Lower-case names win, as in curl and Go. */
export interface ProxyEnv {
  httpProxy: string | undefined;
  httpsProxy: string | undefined;
  noProxy: string | undefined;
}

export function readProxyEnv(env: NodeJS.ProcessEnv): ProxyEnv {
  const pick = (name: string): string | undefined => {
    const value = env[name.toLowerCase()] ?? env[name];
    return value === undefined || value.trim() === '' ? undefined : value.trim();
  };
  // Mender documents NO_PROXY as space-separated, Go splits on commas: accept both (docs/protocol.md §6.5).
  const noProxy = pick('NO_PROXY')
    ?.split(/[\s,]+/)
    .filter((entry) => entry !== '')
    .join(',');
  return { httpProxy: pick('HTTP_PROXY'), httpsProxy: pick('HTTPS_PROXY'), noProxy };
}

/**
 * One long-lived undici dispatcher for all upstream traffic (docs/decisions.md §3): pooled keep-alive
 * connections, the upstream trust settings, and the outbound
 * proxy when one is configured. Timeouts: connect and response-headers are bounded so a
 * dead link turns into 502/504 quickly; body timeouts are idle timeouts, so a slow but
 * progressing artifact or log upload over a satellite link is never cut.
 */
export function createUpstreamDispatcher(
  config: GatewayConfig,
  tls: ConnectionOptions,
  proxy: ProxyEnv,
): Dispatcher {
  const options = {
    connect: { ...tls, timeout: config.timeouts.connectMs },
    connectTimeout: config.timeouts.connectMs,
    headersTimeout: config.timeouts.headersMs,
    bodyTimeout: config.timeouts.bodyIdleMs,
    keepAliveTimeout: 30_000,
    connections: 256,
  };
  if (proxy.httpProxy === undefined && proxy.httpsProxy === undefined) return new Agent(options);
  return new EnvHttpProxyAgent({
    ...options,
    // ProxyAgent uses requestTls for the TLS session to the target inside the CONNECT tunnel.
    requestTls: { ...tls },
    ...(proxy.httpProxy === undefined ? {} : { httpProxy: proxy.httpProxy }),
    ...(proxy.httpsProxy === undefined ? {} : { httpsProxy: proxy.httpsProxy }),
    ...(proxy.noProxy === undefined ? {} : { noProxy: proxy.noProxy }),
  });
}
