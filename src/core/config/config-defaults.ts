import { defaultOf } from './config-table.js';

/** Mender Gateway's documented default location (docs/protocol.md §6.1). */
export const DEFAULT_CONFIG_PATH = '/etc/mender/mender-gateway.conf';

/**
 * The defaults under stable names, for library users and tests (packaging checks the cache
 * path and the grace period). A view of the config table (`config-table.ts`), where each
 * default is declared with the reason for it; not a second source. `httpsEnabled` has an
 * exception, `httpsEnabledDefault()` in build-gateway-config.ts.
 */
export const CONFIG_DEFAULTS = {
  httpsEnabled: defaultOf('HTTPS.Enabled'),
  httpsListen: defaultOf('HTTPS.Listen'),
  httpEnabled: defaultOf('HTTP.Enabled'),
  httpListen: defaultOf('HTTP.Listen'),
  minimumTlsVersion: defaultOf('HTTPS.MinimumTLSVersion'),
  insecureSkipVerify: defaultOf('UpstreamServer.InsecureSkipVerify'),
  artifactsProxyEnabled: defaultOf('Features.ArtifactsProxy.Enabled'),
  cacheEnabled: defaultOf('Features.ArtifactsProxy.ArtifactsCache.Enabled'),
  cachePath: defaultOf('Features.ArtifactsProxy.ArtifactsCache.Path'),
  linkExpireDuration: defaultOf('Features.ArtifactsProxy.ArtifactsCache.LinkExpireDuration'),
  mtlsEnabled: defaultOf('Features.mTLS.Enabled'),
  mtlsEnableCache: defaultOf('Features.mTLS.EnableCache'),
  mtlsInsecureSkipClientExpireAfter: defaultOf('Features.mTLS.InsecureSkipClientExpireAfter'),
  mtlsAllowDeviceApiOnHttp: defaultOf('Features.mTLS.AllowDeviceAPIOnHTTP'),
  deviceSystemEnabled: defaultOf('Features.DeviceSystem.Enabled'),
  metricsEnabled: defaultOf('Metrics.Enabled'),
  metricsListen: defaultOf('Metrics.Listen'),
  debugLog: defaultOf('DebugLog'),
  connectTimeout: defaultOf('UpstreamServer.ConnectTimeout'),
  responseTimeout: defaultOf('UpstreamServer.ResponseTimeout'),
  bodyIdleTimeout: defaultOf('UpstreamServer.BodyIdleTimeout'),
  shutdownGracePeriod: defaultOf('ShutdownGracePeriod'),
  drainEnabled: defaultOf('Drain.Enabled'),
  drainPeriod: defaultOf('Drain.Period'),
  deviceMaxConnectionsPerIp: defaultOf('DeviceConnections.MaxPerIP'),
  deviceHeadersTimeout: defaultOf('DeviceConnections.HeadersTimeout'),
} as const;
