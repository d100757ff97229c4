import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import type { ConfigIssue, ListenAddress } from './gateway-config.js';
import type { ConfigDraft } from './build-gateway-config.js';
import { configIssue, valueAt, type ConfigSources, type JsonPath } from './config-issue.js';
import { configEntry, keyPath, type ConfigKey } from './config-table.js';
import { key } from '../config-key.js';
import { errnoCode } from '../file-errors.js';

/**
 * Rules that involve more than one key, and the files the config points at — docs/protocol.md §6.2 (last
 * paragraph): at least one listener; HTTPS needs certificate and key; mTLS
 * needs HTTPS, a CA, a username and a password; ArtifactsProxy needs GatewayURL; the cache
 * needs ArtifactsProxy; DeviceSystem needs SystemID. Plus warnings for settings that are
 * legal but risky. A missing key is blamed on whatever switched the feature on (so
 * "HTTPS is enabled (default)" reads naturally).
 */

const P = {
  upstreamUrl: keyPath('UpstreamServer.URL'),
  upstreamCa: keyPath('UpstreamServer.CACertificate'),
  insecure: keyPath('UpstreamServer.InsecureSkipVerify'),
  httpEnabled: keyPath('HTTP.Enabled'),
  httpListen: keyPath('HTTP.Listen'),
  httpsEnabled: keyPath('HTTPS.Enabled'),
  httpsListen: keyPath('HTTPS.Listen'),
  tlsVersion: keyPath('HTTPS.MinimumTLSVersion'),
  cert: keyPath('HTTPS.ServerCertificate'),
  key: keyPath('HTTPS.ServerKey'),
  proxyEnabled: keyPath('Features.ArtifactsProxy.Enabled'),
  gatewayUrl: keyPath('Features.ArtifactsProxy.GatewayURL'),
  whitelist: keyPath('Features.ArtifactsProxy.DomainWhitelist'),
  cacheEnabled: keyPath('Features.ArtifactsProxy.ArtifactsCache.Enabled'),
  cachePath: keyPath('Features.ArtifactsProxy.ArtifactsCache.Path'),
  secret: keyPath('Features.ArtifactsProxy.ArtifactsCache.SignatureSecret'),
  mtlsEnabled: keyPath('Features.mTLS.Enabled'),
  mtlsCa: keyPath('Features.mTLS.CACertificate'),
  blacklist: keyPath('Features.mTLS.BlacklistPath'),
  username: keyPath('Features.mTLS.MenderUsername'),
  password: keyPath('Features.mTLS.MenderPassword'),
  skipExpire: keyPath('Features.mTLS.InsecureSkipClientExpireAfter'),
  systemEnabled: keyPath('Features.DeviceSystem.Enabled'),
  systemId: keyPath('Features.DeviceSystem.SystemID'),
  metricsEnabled: keyPath('Metrics.Enabled'),
  metricsListen: keyPath('Metrics.Listen'),
} as const satisfies Record<string, JsonPath>;

/** Cross-field rules on the normalised draft. Pure. */
export function checkConfig(draft: ConfigDraft, sources: ConfigSources): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const error = (path: JsonPath, source: string, message: string, hint: string): void => {
    issues.push(configIssue('error', path, source, message, hint));
  };
  const warn = (path: JsonPath, message: string, hint: string): void => {
    issues.push(configIssue('warning', path, sources.of(path), message, hint));
  };
  /** "X is enabled" or "X is enabled (default)", for messages about what a feature needs. */
  const enabled = (what: string, path: JsonPath): string =>
    `${what} is enabled${sources.isSet(path) ? '' : ' (the default)'}`;

  if (draft.upstream.url === undefined) {
    error(
      P.upstreamUrl,
      'defaults',
      'no upstream Mender server is configured',
      `set ${key('UpstreamServer.URL')} in the file or UPSTREAM_SERVER_URL in the environment, e.g. "https://hosted.mender.io"`,
    );
  } else if (draft.upstream.insecureSkipVerify) {
    warn(
      P.insecure,
      "the upstream server's certificate is not verified; anyone on the path can impersonate it",
      `use ${key('UpstreamServer.CACertificate')} to trust a private CA instead`,
    );
  }

  if (!draft.http.enabled && !draft.https.enabled) {
    error(
      P.httpsEnabled,
      sources.of(P.httpsEnabled),
      `both listeners are disabled (${key('HTTP.Enabled')} and ${key('HTTPS.Enabled')} are false)`,
      'enable HTTPS (recommended) or HTTP',
    );
  }

  if (draft.https.enabled) {
    const source = sources.of(P.httpsEnabled);
    if (draft.https.serverCertificate === undefined) {
      error(
        P.cert,
        source,
        `${enabled('HTTPS', P.httpsEnabled)} but ${key('HTTPS.ServerCertificate')} is not set`,
        `set ${key('HTTPS.ServerCertificate')} and ${key('HTTPS.ServerKey')} (env HTTPS_SERVER_CERTIFICATE, HTTPS_SERVER_KEY), or set ${key('HTTPS.Enabled')} to false`,
      );
    }
    if (draft.https.serverKey === undefined) {
      error(
        P.key,
        source,
        `${enabled('HTTPS', P.httpsEnabled)} but ${key('HTTPS.ServerKey')} is not set`,
        `set ${key('HTTPS.ServerKey')} (env HTTPS_SERVER_KEY) to the PEM private key of the server certificate`,
      );
    }
    if (draft.https.minimumTlsVersion === 'TLSv1' || draft.https.minimumTlsVersion === 'TLSv1.1') {
      warn(
        P.tlsVersion,
        'TLS 1.0 and 1.1 are deprecated (RFC 8996) and may be refused by OpenSSL 3 anyway',
        'use "1.2" unless very old devices need more',
      );
    }
  }

  if (draft.mtls.enabled) {
    const source = sources.of(P.mtlsEnabled);
    const needs = (name: ConfigKey, missing: boolean): void => {
      const env = configEntry(name)?.env;
      if (missing)
        error(keyPath(name), source, `mTLS is enabled but ${name} is not set`, `set ${name} (env ${env})`);
    };
    if (!draft.https.enabled) {
      error(
        P.mtlsEnabled,
        source,
        'mTLS is enabled but the HTTPS listener is disabled; client certificates only exist on HTTPS',
        `set ${key('HTTPS.Enabled')} to true (env HTTPS_ENABLED) with a server certificate and key`,
      );
    }
    needs('Features.mTLS.CACertificate', draft.mtls.caCertificate === undefined);
    needs('Features.mTLS.MenderUsername', draft.mtls.menderUsername === undefined);
    needs('Features.mTLS.MenderPassword', draft.mtls.menderPassword === undefined);
    if (draft.mtls.insecureSkipClientExpireAfter) {
      warn(P.skipExpire, 'expired client certificates are accepted', 'turn this off in production');
    }
  }

  if (draft.artifactsProxy.enabled) {
    if (draft.artifactsProxy.gatewayUrl === undefined) {
      error(
        P.gatewayUrl,
        sources.of(P.proxyEnabled),
        'ArtifactsProxy is enabled but GatewayURL is not set',
        `set ${key('Features.ArtifactsProxy.GatewayURL')} (env ARTIFACTS_PROXY_GATEWAY_URL) to the URL devices use to reach this gateway, e.g. "https://gateway.example.com"`,
      );
    }
    if (draft.artifactsProxy.domainWhitelist.length === 0) {
      warn(
        P.whitelist,
        'no storage domain is whitelisted, so every artifact download link will be refused',
        'add your storage host, e.g. ["s3.amazonaws.com"] for hosted Mender',
      );
    }
  }

  if (draft.artifactsProxy.cache.enabled) {
    if (!draft.artifactsProxy.enabled) {
      error(
        P.cacheEnabled,
        sources.of(P.cacheEnabled),
        `the artifact cache is enabled but ${key('Features.ArtifactsProxy.Enabled')} is false`,
        `enable ${key('Features.ArtifactsProxy')} (env ARTIFACTS_PROXY_ENABLED) or disable the cache`,
      );
    }
    if (draft.artifactsProxy.cache.signatureSecret === undefined) {
      warn(
        P.secret,
        'no SignatureSecret: a random key is generated at start, so cache links die on every restart and differ between replicas',
        `set ${key('Features.ArtifactsProxy.ArtifactsCache.SignatureSecret')} (env ARTIFACTS_PROXY_CACHE_SECRET), e.g. from: openssl rand -base64 32`,
      );
    }
  }

  if (draft.deviceSystem.enabled && draft.deviceSystem.systemId === undefined) {
    error(
      P.systemId,
      sources.of(P.systemEnabled),
      'DeviceSystem is enabled but SystemID is not set',
      `set ${key('Features.DeviceSystem.SystemID')} (env DEVICE_SYSTEM_ID) to an identifier unique to this gateway`,
    );
  }

  checkListeners(draft, sources, issues);
  return issues;
}

interface NamedListener {
  name: string;
  path: JsonPath;
  listen: ListenAddress;
}

/** Enabled listeners must not share a port on overlapping addresses; port 0 is for tests. */
function checkListeners(draft: ConfigDraft, sources: ConfigSources, issues: ConfigIssue[]): void {
  const listeners: NamedListener[] = [];
  if (draft.http.enabled) listeners.push({ name: 'HTTP', path: P.httpListen, listen: draft.http.listen });
  if (draft.https.enabled) listeners.push({ name: 'HTTPS', path: P.httpsListen, listen: draft.https.listen });
  if (draft.metrics.enabled)
    listeners.push({ name: 'Metrics', path: P.metricsListen, listen: draft.metrics.listen });

  for (const l of listeners) {
    if (l.listen.port === 0) {
      issues.push(
        configIssue(
          'warning',
          l.path,
          sources.of(l.path),
          `${JSON.stringify(l.listen.raw)} uses port 0: the system picks a random free port`,
          'fine for tests; give devices a fixed port',
        ),
      );
    }
  }
  listeners.forEach((a, i) => {
    for (const b of listeners.slice(i + 1)) {
      if (a.listen.port === 0 || a.listen.port !== b.listen.port) continue;
      const overlap =
        a.listen.host === undefined || b.listen.host === undefined || a.listen.host === b.listen.host;
      if (!overlap) continue;
      issues.push(
        configIssue(
          'error',
          b.path,
          sources.of(b.path),
          `${b.name} listens on ${JSON.stringify(b.listen.raw)}, the same port as ${a.name} (${JSON.stringify(a.listen.raw)})`,
          `give each listener its own port, e.g. HTTP ":8080" and HTTPS ":8443"`,
        ),
      );
    }
  });
}

/**
 * The files the enabled features will open must exist and be readable (docs/protocol.md §6.2; the Docker
 * image runs as `nobody`, docs/protocol.md §6.1, so unreadable files are a real failure
 * mode). The cache directory may be missing (it is created at start) but must not be a
 * file.
 */
export async function checkConfigFiles(
  draft: ConfigDraft,
  sources: ConfigSources,
  raw: unknown,
): Promise<ConfigIssue[]> {
  const wanted: { path: JsonPath; file: string | undefined }[] = [];
  if (draft.https.enabled) {
    wanted.push(
      { path: P.cert, file: draft.https.serverCertificate },
      { path: P.key, file: draft.https.serverKey },
    );
  }
  wanted.push({ path: P.upstreamCa, file: draft.upstream.caCertificate });
  if (draft.mtls.enabled) {
    wanted.push(
      { path: P.mtlsCa, file: draft.mtls.caCertificate },
      { path: P.blacklist, file: draft.mtls.blacklistPath },
    );
  }

  const issues: ConfigIssue[] = [];
  for (const { path, file } of wanted) {
    if (file === undefined) continue;
    const problem = await fileProblem(file);
    if (problem === undefined) continue;
    issues.push(
      configIssue(
        'error',
        path,
        sources.of(path),
        `${describePath(valueAt(raw, path), file)} ${problem.message}`,
        problem.hint + relativeNote(valueAt(raw, path), path, sources),
      ),
    );
  }

  if (draft.artifactsProxy.cache.enabled) {
    const dir = draft.artifactsProxy.cache.path;
    const info = await stat(dir).catch(() => undefined);
    if (info !== undefined && !info.isDirectory()) {
      issues.push(
        configIssue(
          'error',
          P.cachePath,
          sources.of(P.cachePath),
          `${describePath(valueAt(raw, P.cachePath), dir)} is not a directory`,
          'point it at a directory (it is created if missing), ideally on its own partition',
        ),
      );
    }
  }
  return issues;
}

async function fileProblem(file: string): Promise<{ message: string; hint: string } | undefined> {
  try {
    const info = await stat(file);
    if (info.isDirectory())
      return { message: 'is a directory, not a file', hint: 'point it at the PEM file' };
    await access(file, constants.R_OK);
    return undefined;
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT' || code === 'ENOTDIR') return { message: 'does not exist', hint: 'check the path' };
    if (code === 'EACCES' || code === 'EPERM') {
      return {
        message: 'is not readable by this user',
        hint: 'fix its permissions (the gateway usually runs unprivileged)',
      };
    }
    return { message: `cannot be read (${code ?? String(err)})`, hint: 'check the path and its permissions' };
  }
}

/** `"certs/a.pem" (= /etc/mender/certs/a.pem)` for relative values, the path alone otherwise. */
function describePath(written: unknown, resolved: string): string {
  return typeof written === 'string' && written !== resolved
    ? `${JSON.stringify(written)} (= ${resolved})`
    : JSON.stringify(resolved);
}

function relativeNote(written: unknown, path: JsonPath, sources: ConfigSources): string {
  if (typeof written !== 'string' || written.startsWith('/')) return '';
  return sources.envVar(path) !== undefined || sources.file === undefined
    ? '; relative paths from the environment are resolved against the working directory'
    : "; relative paths in the file are resolved against the file's folder";
}
