import type { ErrorCode } from '../errors.js';
/**
 * The normalised configuration every part of the gateway reads.
 *
 * It is derived from Mender Gateway's documented `mender-gateway.conf` JSON plus its
 * environment overrides (docs/protocol.md §6.2) by `loadConfig()`. Durations are
 * milliseconds, paths are absolute (resolved against the config file's folder),
 * listen addresses are split into host and port. Nothing here is optional that has
 * a default: defaults are applied once, in the loader (docs/protocol.md §9).
 */

export type TlsVersion = 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';

export interface ListenAddress {
  /** Host or IP to bind; `undefined` means all interfaces (Go's `:443`). */
  host: string | undefined;
  port: number;
  /** The value as written in the config, for messages. */
  raw: string;
}

export interface InventoryAttribute {
  name: string;
  value: string | number | string[] | number[];
}

export interface GatewayConfig {
  /** Where the configuration came from, for messages; `undefined` when env-only. */
  sourceFile: string | undefined;

  upstream: {
    /** Parsed `UpstreamServer.URL`, without trailing slash in `pathname`. */
    url: URL;
    /** Absolute path of an extra PEM bundle trusted for upstream TLS. */
    caCertificate: string | undefined;
    insecureSkipVerify: boolean;
  };

  http: { enabled: boolean; listen: ListenAddress };

  https: {
    enabled: boolean;
    listen: ListenAddress;
    minimumTlsVersion: TlsVersion;
    serverCertificate: string | undefined;
    serverKey: string | undefined;
  };

  artifactsProxy: {
    enabled: boolean;
    gatewayUrl: URL | undefined;
    /** Lower-cased host names; leading `.`/`*.` stripped (docs/protocol.md §4.2). */
    domainWhitelist: string[];
    cache: {
      enabled: boolean;
      path: string;
      /** Decoded HMAC key, or `undefined` when not configured (a random one is generated at start). */
      signatureSecret: Buffer | undefined;
      linkExpireMs: number;
    };
  };

  mtls: {
    enabled: boolean;
    caCertificate: string | undefined;
    blacklistPath: string | undefined;
    menderUsername: string | undefined;
    menderPassword: string | undefined;
    enableCache: boolean;
    insecureSkipClientExpireAfter: boolean;
    /** Whether the device API is served on the plain-HTTP listener while mTLS is on (default: refused). */
    allowDeviceApiOnHttp: boolean;
  };

  deviceSystem: {
    enabled: boolean;
    systemId: string | undefined;
    defaultInventory: InventoryAttribute[];
  };

  metrics: { enabled: boolean; listen: ListenAddress };

  /** Legacy root-level `DebugLog: true` maps to log level debug. */
  debugLog: boolean;

  /**
   * mender-gw extension: limits on the device listeners, against one address or slow
   * client holding the gateway's connections.
   */
  deviceConnections: {
    /** Open connections allowed from one IP address on the device listeners together; 0 = no limit. */
    maxPerIp: number;
    /** Time a device has to complete the TLS handshake and its request headers (Node's headersTimeout). */
    headersTimeoutMs: number;
  };

  /**
   * mender-gw extension: before shutting down on SIGTERM, answer devices so that they
   * authenticate again with the next server of their `Servers` list (docs/operator-guide.md).
   */
  drain: {
    /** Whether SIGTERM drains first (SIGUSR2 drains whatever this says). */
    enabled: boolean;
    /** How long the drain lasts before the shutdown begins. */
    periodMs: number;
  };

  /** Timeouts for the upstream link (milliseconds). */
  timeouts: {
    connectMs: number;
    /** Time to wait for upstream response headers before answering 504. */
    headersMs: number;
    /** Maximum silence while streaming a body; 0 disables. */
    bodyIdleMs: number;
    /** How long in-flight transfers may run after SIGTERM before they are cut. */
    shutdownGraceMs: number;
  };
}

/** A problem found in the configuration. */
export interface ConfigIssue {
  /** JSON path like `$.HTTPS.Listen`. */
  path: string;
  /** `file /etc/mender/mender-gateway.conf`, `env HTTPS_LISTEN`, or `defaults`. */
  source: string;
  severity: 'error' | 'warning';
  message: string;
  hint: string;
  /** The start-up check that found it (`STARTUP_CHECKS` in startup-checks.ts), if one did. */
  check?: string;
  /** The error code `serve` exits with for it when it is the only kind of error; `MGW_CONFIG_INVALID` otherwise. */
  code?: ErrorCode;
}

export interface LoadedConfig {
  config: GatewayConfig;
  warnings: ConfigIssue[];
  /** Names (never values: some are secrets) of the environment variables that set a key. */
  envOverrides: string[];
}
