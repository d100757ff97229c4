/** Public API of the configuration module: `mender-gateway.conf` + environment → GatewayConfig. */
export type {
  ConfigIssue,
  GatewayConfig,
  InventoryAttribute,
  ListenAddress,
  LoadedConfig,
  TlsVersion,
} from './gateway-config.js';
export { loadConfig, DEFAULT_CONFIG_PATH } from './load-config.js';
export type { LoadConfigOptions } from './load-config.js';
export { CONFIG_DEFAULTS } from './config-defaults.js';
export { formatConfigIssue, formatJsonPath } from './config-issue.js';
export { rawConfigSchema } from './config-schema.js';
export type { RawConfig } from './config-schema.js';
export { ENV_OVERRIDES, applyEnvOverrides, parseGoBool, splitEnvList } from './env-overrides.js';
export type { EnvKind, EnvOverride, EnvAlias, EnvOverlayResult } from './env-overrides.js';
export { parseGoDuration, formatDuration } from './go-duration.js';
export { parseListenAddress } from './listen-address.js';
export { validateConfig } from './validate-config.js';
export type { ConfigValidation } from './validate-config.js';
