import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { loadConfig } from '../config/index.js';
import type { GatewayConfig } from '../config/index.js';
import { GatewayError } from '../errors.js';
import { certificateNameCovers, normalizeHostName } from './host-names.js';
import { errnoCode } from '../file-errors.js';
import { isHostWhitelisted } from '../artifacts/domain-whitelist.js';
import { unclaimableReason } from './claimable-names.js';
import type { LeftOutName } from './claimable-names.js';
import { key } from '../config-key.js';

/**
 * What a gateway's configuration says about how devices reach it: the scheme and port of its
 * device-facing URL and the DNS names devices may use (the `Features.ArtifactsProxy.GatewayURL`
 * host, then the DNS names of `HTTPS.ServerCertificate`).
 */
export interface GatewayIdentity {
  /** The configuration file read; for messages. */
  source: string | undefined;
  scheme: 'https' | 'http';
  /** Port devices connect to: the GatewayURL port, else the listener's (0 when it binds a random port). */
  port: number;
  /** Where `port` came from, for messages: `GatewayURL`, `HTTPS.Listen`, `HTTP.Listen`. */
  portSource: string;
  /** Host names for hosts entries: GatewayURL host first, then the certificate's DNS names; no wildcards. */
  names: string[];
  /**
   * Every DNS name of the server certificate, wildcards included, to check that aliases are
   * covered; `undefined` when there is no certificate (HTTPS off).
   */
  certificateNames: string[] | undefined;
  /** Host of `UpstreamServer.URL`, lower case. */
  upstreamHost: string;
  /** Names of the configuration or certificate that are not the gateway's to claim, and why. */
  leftOut: LeftOutName[];
  /** Things the operator should know (names skipped, GatewayURL not in the certificate). */
  warnings: string[];
}

/**
 * The dNSName entries of Node's `X509Certificate.subjectAltName` text
 * (`DNS:a.example, IP Address:10.0.0.1`). Since Node 17.3 values with special characters are
 * JSON-quoted (CVE-2021-44532); those are decoded too.
 */
export function dnsNamesOfSubjectAltName(subjectAltName: string | undefined): string[] {
  if (subjectAltName === undefined) return [];
  const names: string[] = [];
  const entry = /(?:^|, )DNS:("(?:[^"\\]|\\.)*"|[^,]*)/g;
  for (const match of subjectAltName.matchAll(entry)) {
    const raw = match[1] ?? '';
    names.push(raw.startsWith('"') ? (JSON.parse(raw) as string) : raw);
  }
  return names;
}

function defaultPort(scheme: 'https' | 'http'): number {
  return scheme === 'https' ? 443 : 80;
}

/**
 * Derive the identity from a loaded configuration and the PEM text of its server certificate
 * (the first certificate of the file is the gateway's own; the rest is its chain). Pure.
 */
export function gatewayIdentity(config: GatewayConfig, certificatePem: string | undefined): GatewayIdentity {
  const warnings: string[] = [];
  const names: string[] = [];
  const leftOut: LeftOutName[] = [];
  const upstreamHost = config.upstream.url.hostname.toLowerCase().replace(/^\[|\]$/g, '');
  const leaveOut = (name: string, reason: string): void => {
    if (!leftOut.some((l) => l.name === name)) leftOut.push({ name, reason });
  };
  const add = (name: string, what: string, fromCertificate: boolean): void => {
    let value: string;
    try {
      value = normalizeHostName(name, what);
    } catch (err) {
      warnings.push(`${(err as Error).message}; not used as a host name`);
      return;
    }
    const reserved = unclaimableReason(value);
    if (reserved !== undefined) leaveOut(value, reserved);
    // A certificate may name other hosts too (a site certificate, Mender's demo one): the upstream
    // server and the artifact storage are hosts the gateway itself connects to, never the gateway.
    else if (fromCertificate && value === upstreamHost)
      leaveOut(
        value,
        "is the upstream Mender server's name in the certificate, not the gateway's; pass --alias to claim it on purpose",
      );
    else if (fromCertificate && isHostWhitelisted(value, config.artifactsProxy.domainWhitelist))
      leaveOut(
        value,
        `is an artifact storage host (${key('Features.ArtifactsProxy.DomainWhitelist')}) the gateway downloads from; devices get links on GatewayURL`,
      );
    else if (!names.includes(value)) names.push(value);
  };

  const gatewayUrl = config.artifactsProxy.gatewayUrl;
  let scheme: 'https' | 'http';
  let port: number;
  let portSource: string;
  if (gatewayUrl !== undefined) {
    scheme = gatewayUrl.protocol === 'http:' ? 'http' : 'https';
    port = gatewayUrl.port === '' ? defaultPort(scheme) : Number(gatewayUrl.port);
    portSource = 'GatewayURL';
    const host = gatewayUrl.hostname.replace(/^\[|\]$/g, '');
    if (isIP(host) === 0) add(host, `GatewayURL host "${host}"`, false);
  } else if (config.https.enabled) {
    scheme = 'https';
    port = config.https.listen.port;
    portSource = key('HTTPS.Listen');
  } else {
    scheme = 'http';
    port = config.http.listen.port;
    portSource = key('HTTP.Listen');
  }

  let certificateNames: string[] | undefined;
  if (certificatePem !== undefined) {
    const certificate = new X509Certificate(certificatePem);
    certificateNames = dnsNamesOfSubjectAltName(certificate.subjectAltName).map((n) => n.toLowerCase());
    for (const name of certificateNames) {
      if (name.includes('*')) {
        leaveOut(
          name,
          'is a wildcard: it stands for many hosts and cannot go into a hosts file; pass the names devices use with --alias',
        );
      } else {
        add(name, `server certificate name "${name}"`, true);
      }
    }
    const urlHost = gatewayUrl?.hostname.replace(/^\[|\]$/g, '');
    if (
      urlHost !== undefined &&
      isIP(urlHost) === 0 &&
      !certificateNames.some((n) => certificateNameCovers(n, urlHost))
    ) {
      warnings.push(
        `GatewayURL host "${urlHost}" is not among the server certificate's names (${certificateNames.join(', ') || 'none'}): devices will refuse the gateway's download links; reissue the certificate with --dns ${urlHost}`,
      );
    }
  }

  return {
    source: config.sourceFile,
    scheme,
    port,
    portSource,
    names,
    certificateNames,
    upstreamHost,
    leftOut,
    warnings,
  };
}

/**
 * Read a gateway configuration (the same loader and environment overrides as `serve`, without
 * checking files other than the server certificate, so a copy of the gateway's configuration
 * can be used on another machine) and derive its {@link GatewayIdentity}.
 *
 * Throws `MGW_CONFIG_UNREADABLE`/`MGW_CONFIG_INVALID` like `serve`, and `MGW_TLS_MATERIAL`
 * when the server certificate cannot be read or parsed.
 */
export async function loadGatewayIdentity(options: {
  path: string;
  env?: NodeJS.ProcessEnv | undefined;
  cwd?: string | undefined;
}): Promise<GatewayIdentity> {
  const { config } = await loadConfig({
    path: options.path,
    env: options.env,
    cwd: options.cwd,
    checkFiles: false,
  });
  let pem: string | undefined;
  const certificatePath = config.https.enabled ? config.https.serverCertificate : undefined;
  if (certificatePath !== undefined) {
    try {
      pem = await readFile(certificatePath, 'utf8');
      new X509Certificate(pem);
    } catch (err) {
      const reason = errnoCode(err) ?? (err as Error).message;
      throw new GatewayError(
        'MGW_TLS_MATERIAL',
        `cannot read the server certificate ${certificatePath} (${key('HTTPS.ServerCertificate')}): ${reason}`,
        {
          cause: err,
          hint: `Run device-hosts gen where the certificate is readable, or fix ${key('HTTPS.ServerCertificate')}; its DNS names become hosts entries.`,
        },
      );
    }
  }
  return gatewayIdentity(config, pem);
}
