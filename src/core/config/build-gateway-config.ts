import { dirname, resolve } from 'node:path';
import type {
  ConfigIssue,
  GatewayConfig,
  InventoryAttribute,
  ListenAddress,
  TlsVersion,
} from './gateway-config.js';
import { configIssue, valueAt, type ConfigSources, type JsonPath } from './config-issue.js';
import { decodeSignatureSecret, type InventoryEntry } from './config-kinds.js';
import type { RawConfig } from './config-schema.js';
import {
  defaultOf,
  keyPath,
  type ConfigKey,
  type ConfigKeyOfKind,
  type ConfigValueOf,
} from './config-table.js';
import { parseGoDuration } from './go-duration.js';
import { parseListenAddress } from './listen-address.js';
import { key } from '../config-key.js';

/**
 * Raw (validated) JSON → normalised {@link GatewayConfig}: defaults applied once (docs/protocol.md §9.11),
 * durations in milliseconds, paths absolute, listen addresses split,
 * whitelist and inventory normalised. Cross-field rules are checked afterwards on the
 * result (`config-checks.ts`), which is why the upstream URL may still be missing here.
 */

/** A GatewayConfig before the required-key checks: only the upstream URL may be absent. */
export type ConfigDraft = Omit<GatewayConfig, 'upstream'> & {
  upstream: Omit<GatewayConfig['upstream'], 'url'> & { url: URL | undefined };
};

const TLS_VERSIONS: Readonly<Record<string, TlsVersion>> = {
  '1.0': 'TLSv1',
  '1.1': 'TLSv1.1',
  '1.2': 'TLSv1.2',
  '1.3': 'TLSv1.3',
};

/**
 * The value the file or the environment gives a key, after validation; `undefined` when not
 * set. Go's zero-value convention: `""` is "not set" (see config-schema.ts).
 */
export function rawValue<K extends ConfigKey>(raw: RawConfig, name: K): ConfigValueOf<K> | undefined {
  const value = valueAt(raw, keyPath(name));
  return value === undefined || value === '' ? undefined : (value as ConfigValueOf<K>);
}

/**
 * `HTTPS.Enabled` when neither the file nor the environment sets it: on, unless HTTP is on and
 * there are no HTTPS settings at all (no section in the file, no HTTPS_* variable). Mender's own
 * integration-test config enables only HTTP, has no HTTPS section and no certificate, and the
 * real gateway ran with it, so "HTTPS on" cannot be unconditional.
 */
export function httpsEnabledDefault(raw: RawConfig): boolean {
  const httpEnabled = rawValue(raw, 'HTTP.Enabled') ?? defaultOf('HTTP.Enabled');
  return httpEnabled && valueAt(raw, ['HTTPS']) === undefined ? false : defaultOf('HTTPS.Enabled');
}

export function buildGatewayConfig(
  raw: RawConfig,
  sources: ConfigSources,
  cwd: string,
): { draft: ConfigDraft; issues: ConfigIssue[] } {
  const issues: ConfigIssue[] = [];
  /** The key's value, else its default from the table. */
  const setting = <K extends Parameters<typeof defaultOf>[0]>(name: K): ConfigValueOf<K> =>
    rawValue(raw, name) ?? defaultOf(name);
  const duration = (name: DurationKey): number => parseGoDuration(setting(name));

  /**
   * Relative paths: from the file → against the file's folder (so a config and its
   * certificates can move together); from an env var → against the working directory,
   * where the person typing it is.
   */
  const filePath = (text: string | undefined, path: JsonPath): string | undefined => {
    if (text === undefined) return undefined;
    const base =
      sources.envVar(path) !== undefined || sources.file === undefined ? cwd : dirname(sources.file);
    return resolve(base, text);
  };
  const pathSetting = (name: PathKey): string | undefined => filePath(rawValue(raw, name), keyPath(name));
  const gatewayUrl = rawValue(raw, 'Features.ArtifactsProxy.GatewayURL');

  const draft: ConfigDraft = {
    sourceFile: sources.file,
    upstream: {
      url: upstreamUrl(rawValue(raw, 'UpstreamServer.URL')),
      caCertificate: pathSetting('UpstreamServer.CACertificate'),
      insecureSkipVerify: setting('UpstreamServer.InsecureSkipVerify'),
    },
    http: {
      enabled: setting('HTTP.Enabled'),
      listen: listenAddress(setting('HTTP.Listen')),
    },
    https: {
      enabled: rawValue(raw, 'HTTPS.Enabled') ?? httpsEnabledDefault(raw),
      listen: listenAddress(setting('HTTPS.Listen')),
      minimumTlsVersion: TLS_VERSIONS[setting('HTTPS.MinimumTLSVersion')] ?? 'TLSv1.2',
      serverCertificate: pathSetting('HTTPS.ServerCertificate'),
      serverKey: pathSetting('HTTPS.ServerKey'),
    },
    artifactsProxy: {
      enabled: setting('Features.ArtifactsProxy.Enabled'),
      gatewayUrl: gatewayUrl === undefined ? undefined : new URL(gatewayUrl),
      domainWhitelist: normaliseWhitelist(
        setting('Features.ArtifactsProxy.DomainWhitelist'),
        sources,
        issues,
      ),
      cache: {
        enabled: setting('Features.ArtifactsProxy.ArtifactsCache.Enabled'),
        path:
          pathSetting('Features.ArtifactsProxy.ArtifactsCache.Path') ??
          defaultOf('Features.ArtifactsProxy.ArtifactsCache.Path'),
        signatureSecret: signatureSecret(
          rawValue(raw, 'Features.ArtifactsProxy.ArtifactsCache.SignatureSecret'),
          sources,
          issues,
        ),
        linkExpireMs: duration('Features.ArtifactsProxy.ArtifactsCache.LinkExpireDuration'),
      },
    },
    mtls: {
      enabled: setting('Features.mTLS.Enabled'),
      caCertificate: pathSetting('Features.mTLS.CACertificate'),
      blacklistPath: pathSetting('Features.mTLS.BlacklistPath'),
      menderUsername: rawValue(raw, 'Features.mTLS.MenderUsername'),
      menderPassword: rawValue(raw, 'Features.mTLS.MenderPassword'),
      enableCache: setting('Features.mTLS.EnableCache'),
      insecureSkipClientExpireAfter: setting('Features.mTLS.InsecureSkipClientExpireAfter'),
      allowDeviceApiOnHttp: setting('Features.mTLS.AllowDeviceAPIOnHTTP'),
    },
    deviceSystem: {
      enabled: setting('Features.DeviceSystem.Enabled'),
      systemId: rawValue(raw, 'Features.DeviceSystem.SystemID'),
      defaultInventory: mergeInventory(
        rawValue(raw, 'Features.DeviceSystem.DefaultInventory'),
        rawValue(raw, 'DefaultInventory'),
        sources,
        issues,
      ),
    },
    metrics: {
      enabled: setting('Metrics.Enabled'),
      listen: listenAddress(setting('Metrics.Listen'), true),
    },
    debugLog: setting('DebugLog'),
    deviceConnections: {
      maxPerIp: setting('DeviceConnections.MaxPerIP'),
      headersTimeoutMs: duration('DeviceConnections.HeadersTimeout'),
    },
    drain: {
      enabled: setting('Drain.Enabled'),
      periodMs: duration('Drain.Period'),
    },
    timeouts: {
      connectMs: duration('UpstreamServer.ConnectTimeout'),
      headersMs: duration('UpstreamServer.ResponseTimeout'),
      bodyIdleMs: duration('UpstreamServer.BodyIdleTimeout'),
      shutdownGraceMs: duration('ShutdownGracePeriod'),
    },
  };
  return { draft, issues };
}

type DurationKey = ConfigKeyOfKind<'duration'>;
type PathKey = ConfigKeyOfKind<'path'>;

/** The schema already rejected bad syntax; a failure here is a bug, not a user error. */
function listenAddress(value: string, ipOnly = false): ListenAddress {
  const parsed = parseListenAddress(value, { ipOnly });
  if (!parsed.ok) throw new Error(`listen address passed validation but does not parse: ${parsed.message}`);
  return parsed.value;
}

/** Parsed upstream URL with trailing slashes trimmed from the path (GatewayConfig contract). */
function upstreamUrl(text: string | undefined): URL | undefined {
  if (text === undefined) return undefined;
  const url = new URL(text);
  if (url.pathname !== '/') url.pathname = url.pathname.replace(/\/+$/, '') || '/';
  return url;
}

const WHITELIST_PATH = ['Features', 'ArtifactsProxy', 'DomainWhitelist'] as const;

/**
 * Lower-case, strip a leading `.`/`*.` and a trailing `.`, drop ports (matching ignores
 * them, docs/protocol.md §4.2), de-duplicate. Warn about entries that can never match a host
 * under suffix matching: Mender's 2.1.0 example whitelisted the bare word
 * "cloudflarestorage", which suggests substring matching there; we match whole labels.
 */
function normaliseWhitelist(
  entries: readonly string[],
  sources: ConfigSources,
  issues: ConfigIssue[],
): string[] {
  const out: string[] = [];
  entries.forEach((entry, index) => {
    const path = [...WHITELIST_PATH, index];
    let host = entry
      .trim()
      .toLowerCase()
      .replace(/^\*?\./, '')
      .replace(/\.$/, '');
    const port = /^(.*):(\d+)$/.exec(host);
    if (port?.[1] !== undefined) {
      host = port[1];
      issues.push(
        configIssue(
          'warning',
          path,
          sources.of(path),
          `${JSON.stringify(entry)} has a port; whitelist matching ignores ports`,
          `write "${host}"`,
        ),
      );
    }
    if (!host.includes('.')) {
      issues.push(
        configIssue(
          'warning',
          path,
          sources.of(path),
          `${JSON.stringify(entry)} is not a domain name; mender-gw matches whole domain suffixes, not substrings, so it matches only the host "${host}"`,
          host === 'cloudflarestorage'
            ? 'write "cloudflarestorage.com" (or "r2.cloudflarestorage.com")'
            : 'write the full domain, e.g. "s3.amazonaws.com"',
        ),
      );
    }
    if (!out.includes(host)) out.push(host);
  });
  return out;
}

const SECRET_PATH = ['Features', 'ArtifactsProxy', 'ArtifactsCache', 'SignatureSecret'] as const;

function signatureSecret(
  text: string | undefined,
  sources: ConfigSources,
  issues: ConfigIssue[],
): Buffer | undefined {
  if (text === undefined) return undefined;
  const key = decodeSignatureSecret(text);
  if (key !== undefined && key.length < 16) {
    // Mender publishes no minimum, so a short key is not an error; RFC 2104 §3 advises at
    // least the hash output length (32 bytes for SHA-256).
    issues.push(
      configIssue(
        'warning',
        SECRET_PATH,
        sources.of(SECRET_PATH),
        `the key is only ${key.length} bytes long`,
        'use at least 16 random bytes, better 32: openssl rand -base64 32',
      ),
    );
  }
  return key;
}

type RawInventoryEntry = InventoryEntry;

const SYSTEM_INVENTORY_PATH = ['Features', 'DeviceSystem', 'DefaultInventory'] as const;
const ROOT_INVENTORY_PATH = ['DefaultInventory'] as const;

/**
 * DefaultInventory may sit under Features.DeviceSystem (current docs) or at the root
 * (1.1.0 changelog) — docs/protocol.md §5. Both are merged; the DeviceSystem entry wins for
 * a Name present in both, and within one list the first entry for a Name wins.
 */
function mergeInventory(
  system: readonly RawInventoryEntry[] | undefined,
  root: readonly RawInventoryEntry[] | undefined,
  sources: ConfigSources,
  issues: ConfigIssue[],
): InventoryAttribute[] {
  if (system !== undefined && root !== undefined) {
    issues.push(
      configIssue(
        'warning',
        ROOT_INVENTORY_PATH,
        sources.of(ROOT_INVENTORY_PATH),
        `DefaultInventory is set both at the top level and under ${key('Features.DeviceSystem')}; they are merged and ${key('Features.DeviceSystem')} wins for the same Name`,
        `move the entries under ${key('Features.DeviceSystem.DefaultInventory')}`,
      ),
    );
  }
  const out: InventoryAttribute[] = [];
  const seen = new Set<string>();
  const take = (list: readonly RawInventoryEntry[] | undefined, base: readonly string[]): void => {
    const inThisList = new Set<string>();
    (list ?? []).forEach((entry, index) => {
      const path = [...base, index, 'Name'];
      if (entry.Name === 'mender_gateway_system_id') {
        issues.push(
          configIssue(
            'warning',
            path,
            sources.of(path),
            `mender_gateway_system_id is set by ${key('Features.DeviceSystem.SystemID')}; this entry is ignored`,
            'remove it and set SystemID instead',
          ),
        );
        return;
      }
      if (inThisList.has(entry.Name)) {
        issues.push(
          configIssue(
            'warning',
            path,
            sources.of(path),
            `duplicate Name ${JSON.stringify(entry.Name)}; the first entry wins`,
            'remove the duplicate',
          ),
        );
        return;
      }
      inThisList.add(entry.Name);
      // A top-level entry for a Name the DeviceSystem list has: covered by the warning above.
      if (seen.has(entry.Name)) return;
      seen.add(entry.Name);
      out.push({ name: entry.Name, value: entry.Value });
    });
  };
  take(system, SYSTEM_INVENTORY_PATH);
  take(root, ROOT_INVENTORY_PATH);
  return out;
}
