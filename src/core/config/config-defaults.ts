/**
 * Defaults for every key that has one, in the config's own (raw) vocabulary so docs and
 * messages can quote them. Mender publishes few defaults; where it does not, these are the
 * inferences of docs/protocol.md §9.11 and §6.2.
 */

/** Mender Gateway's documented default location (docs/protocol.md §6.1). */
export const DEFAULT_CONFIG_PATH = '/etc/mender/mender-gateway.conf';

export const CONFIG_DEFAULTS = {
  /**
   * HTTPS is on unless the configuration enables HTTP and has no HTTPS settings at all (no
   * `HTTPS` section in the file, no `HTTPS_*` variable): Mender's own integration-test
   * config (`extra/mender-gateway/mender-gateway.conf`) enables only HTTP, has no HTTPS
   * section and no certificate, and the real gateway ran with it, so "HTTPS on" cannot be
   * unconditional.
   */
  httpsEnabled: true,
  httpsListen: ':443',
  httpEnabled: false,
  httpListen: ':80',
  /** Go ≥ 1.22 servers default to TLS 1.2 (docs/protocol.md §6.2). */
  minimumTlsVersion: '1.2',
  insecureSkipVerify: false,
  artifactsProxyEnabled: false,
  cacheEnabled: false,
  /** The path used in every Mender example (docs/protocol.md §6.2). */
  cachePath: '/var/cache/mender-gateway',
  linkExpireDuration: '24h',
  mtlsEnabled: false,
  /** Unpublished; caching preauthorizations is the point of MTLS_ENABLE_CACHE (docs/protocol.md §9.7). */
  mtlsEnableCache: true,
  mtlsInsecureSkipClientExpireAfter: false,
  /** mender-gw extension: refuse the device API on plain HTTP while mTLS is on (docs/protocol.md §9.12). */
  mtlsAllowDeviceApiOnHttp: false,
  deviceSystemEnabled: false,
  metricsEnabled: false,
  /**
   * Mender binds `:9102` (all interfaces). We bind loopback: the endpoint is
   * unauthenticated (docs/protocol.md §6.6) and the gateway usually sits on the boundary of
   * an untrusted network. Set `Metrics.Listen` to `:9102` for Mender's behaviour.
   */
  metricsListen: '127.0.0.1:9102',
  debugLog: false,
  /** mender-gw extensions (docs/protocol.md §7 "Timeouts"). */
  connectTimeout: '30s',
  responseTimeout: '60s',
  bodyIdleTimeout: '5m',
  shutdownGracePeriod: '30s',
  /** mender-gw extension (docs/operator-guide.md, failover): off, so SIGTERM behaves as before. */
  drainEnabled: false,
  drainPeriod: '30s',
  /**
   * mender-gw extensions. 1024 connections per address leaves room for ~500 devices
   * behind one NAT address (a device keeps one or two connections; the mTLS load test sends 500
   * first auth requests at once from one address); larger sites behind one address, or a
   * reverse proxy on the same host, raise it or set 0 (docs/security.md).
   */
  deviceMaxConnectionsPerIp: 1024,
  /** Node's own default for headersTimeout; also bounds the TLS handshake. */
  deviceHeadersTimeout: '60s',
} as const;
