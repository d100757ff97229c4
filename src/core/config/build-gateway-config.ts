import { dirname, resolve } from 'node:path';
import type {
  ConfigIssue,
  GatewayConfig,
  InventoryAttribute,
  ListenAddress,
  TlsVersion,
} from './gateway-config.js';
import { CONFIG_DEFAULTS } from './config-defaults.js';
import { configIssue, type ConfigSources, type JsonPath } from './config-issue.js';
import { decodeSignatureSecret, type RawConfig } from './config-schema.js';
import { parseGoDuration } from './go-duration.js';
import { parseListenAddress } from './listen-address.js';

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

/** Go's zero-value convention: `""` is "not set" (see config-schema.ts). */
const set = (value: string | undefined): string | undefined =>
  value === undefined || value === '' ? undefined : value;

export function buildGatewayConfig(
  raw: RawConfig,
  sources: ConfigSources,
  cwd: string,
): { draft: ConfigDraft; issues: ConfigIssue[] } {
  const issues: ConfigIssue[] = [];
  const features = raw.Features ?? {};
  const proxy = features.ArtifactsProxy ?? {};
  const cache = proxy.ArtifactsCache ?? {};
  const mtls = features.mTLS ?? {};
  const system = features.DeviceSystem ?? {};
  const upstream = raw.UpstreamServer ?? {};

  /**
   * Relative paths: from the file → against the file's folder (so a config and its
   * certificates can move together); from an env var → against the working directory,
   * where the person typing it is.
   */
  const filePath = (value: string | undefined, path: JsonPath): string | undefined => {
    const text = set(value);
    if (text === undefined) return undefined;
    const base =
      sources.envVar(path) !== undefined || sources.file === undefined ? cwd : dirname(sources.file);
    return resolve(base, text);
  };

  const httpEnabled = raw.HTTP?.Enabled ?? CONFIG_DEFAULTS.httpEnabled;
  // See CONFIG_DEFAULTS.httpsEnabled: HTTP on and no HTTPS settings at all (no section in the
  // file, no HTTPS_* variable) means HTTP only.
  const httpOnly = httpEnabled && raw.HTTPS === undefined;
  const httpsEnabled = raw.HTTPS?.Enabled ?? (httpOnly ? false : CONFIG_DEFAULTS.httpsEnabled);

  const draft: ConfigDraft = {
    sourceFile: sources.file,
    upstream: {
      url: upstreamUrl(set(upstream.URL)),
      caCertificate: filePath(upstream.CACertificate, ['UpstreamServer', 'CACertificate']),
      insecureSkipVerify: upstream.InsecureSkipVerify ?? CONFIG_DEFAULTS.insecureSkipVerify,
    },
    http: {
      enabled: httpEnabled,
      listen: listenAddress(raw.HTTP?.Listen, CONFIG_DEFAULTS.httpListen),
    },
    https: {
      enabled: httpsEnabled,
      listen: listenAddress(raw.HTTPS?.Listen, CONFIG_DEFAULTS.httpsListen),
      minimumTlsVersion:
        TLS_VERSIONS[raw.HTTPS?.MinimumTLSVersion ?? CONFIG_DEFAULTS.minimumTlsVersion] ?? 'TLSv1.2',
      serverCertificate: filePath(raw.HTTPS?.ServerCertificate, ['HTTPS', 'ServerCertificate']),
      serverKey: filePath(raw.HTTPS?.ServerKey, ['HTTPS', 'ServerKey']),
    },
    artifactsProxy: {
      enabled: proxy.Enabled ?? CONFIG_DEFAULTS.artifactsProxyEnabled,
      gatewayUrl: set(proxy.GatewayURL) === undefined ? undefined : new URL(proxy.GatewayURL ?? ''),
      domainWhitelist: normaliseWhitelist(proxy.DomainWhitelist ?? [], sources, issues),
      cache: {
        enabled: cache.Enabled ?? CONFIG_DEFAULTS.cacheEnabled,
        path:
          filePath(cache.Path, ['Features', 'ArtifactsProxy', 'ArtifactsCache', 'Path']) ??
          CONFIG_DEFAULTS.cachePath,
        signatureSecret: signatureSecret(set(cache.SignatureSecret), sources, issues),
        linkExpireMs: durationMs(cache.LinkExpireDuration, CONFIG_DEFAULTS.linkExpireDuration),
      },
    },
    mtls: {
      enabled: mtls.Enabled ?? CONFIG_DEFAULTS.mtlsEnabled,
      caCertificate: filePath(mtls.CACertificate, ['Features', 'mTLS', 'CACertificate']),
      blacklistPath: filePath(mtls.BlacklistPath, ['Features', 'mTLS', 'BlacklistPath']),
      menderUsername: set(mtls.MenderUsername),
      menderPassword: set(mtls.MenderPassword),
      enableCache: mtls.EnableCache ?? CONFIG_DEFAULTS.mtlsEnableCache,
      insecureSkipClientExpireAfter:
        mtls.InsecureSkipClientExpireAfter ?? CONFIG_DEFAULTS.mtlsInsecureSkipClientExpireAfter,
      allowDeviceApiOnHttp: mtls.AllowDeviceAPIOnHTTP ?? CONFIG_DEFAULTS.mtlsAllowDeviceApiOnHttp,
    },
    deviceSystem: {
      enabled: system.Enabled ?? CONFIG_DEFAULTS.deviceSystemEnabled,
      systemId: set(system.SystemID),
      defaultInventory: mergeInventory(system.DefaultInventory, raw.DefaultInventory, sources, issues),
    },
    metrics: {
      enabled: raw.Metrics?.Enabled ?? CONFIG_DEFAULTS.metricsEnabled,
      listen: listenAddress(raw.Metrics?.Listen, CONFIG_DEFAULTS.metricsListen, true),
    },
    debugLog: raw.DebugLog ?? CONFIG_DEFAULTS.debugLog,
    deviceConnections: {
      maxPerIp: raw.DeviceConnections?.MaxPerIP ?? CONFIG_DEFAULTS.deviceMaxConnectionsPerIp,
      headersTimeoutMs: durationMs(
        raw.DeviceConnections?.HeadersTimeout,
        CONFIG_DEFAULTS.deviceHeadersTimeout,
      ),
    },
    drain: {
      enabled: raw.Drain?.Enabled ?? CONFIG_DEFAULTS.drainEnabled,
      periodMs: durationMs(raw.Drain?.Period, CONFIG_DEFAULTS.drainPeriod),
    },
    timeouts: {
      connectMs: durationMs(upstream.ConnectTimeout, CONFIG_DEFAULTS.connectTimeout),
      headersMs: durationMs(upstream.ResponseTimeout, CONFIG_DEFAULTS.responseTimeout),
      bodyIdleMs: durationMs(upstream.BodyIdleTimeout, CONFIG_DEFAULTS.bodyIdleTimeout),
      shutdownGraceMs: durationMs(raw.ShutdownGracePeriod, CONFIG_DEFAULTS.shutdownGracePeriod),
    },
  };
  return { draft, issues };
}

/** The schema already rejected bad syntax; a failure here is a bug, not a user error. */
function listenAddress(value: string | undefined, fallback: string, ipOnly = false): ListenAddress {
  const parsed = parseListenAddress(set(value) ?? fallback, { ipOnly });
  if (!parsed.ok) throw new Error(`listen address passed validation but does not parse: ${parsed.message}`);
  return parsed.value;
}

function durationMs(value: string | undefined, fallback: string): number {
  return parseGoDuration(set(value) ?? fallback);
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

interface RawInventoryEntry {
  Name: string;
  Value: InventoryAttribute['value'];
}

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
        'DefaultInventory is set both at the top level and under Features.DeviceSystem; they are merged and Features.DeviceSystem wins for the same Name',
        'move the entries under Features.DeviceSystem.DefaultInventory',
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
            'mender_gateway_system_id is set by Features.DeviceSystem.SystemID; this entry is ignored',
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
