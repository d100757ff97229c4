import { randomBytes } from 'node:crypto';
import { basename, isAbsolute, join, resolve } from 'node:path';
import { GatewayError, isGatewayError } from '../errors.js';
import { normalizeAddress, normalizeHostName } from '../provisioning/host-names.js';

/**
 * The answers of the `mender-gw config init` first-run wizard, whether they came from flags or
 * from prompts, and the checks each answer must pass. The prompts use the same checks as
 * validators, so an interactive run and a `--no-prompt` run refuse the same values.
 */
export interface SetupAnswers {
  /** `UpstreamServer.URL`. */
  upstreamUrl: string;
  /** `UpstreamServer.CACertificate`: extra CA for a private upstream PKI. */
  upstreamCa: string | undefined;
  /** DNS name devices use for the gateway: GatewayURL host and server certificate name. */
  gatewayName: string;
  /**
   * Address of the gateway on the device network: an IP of the created server certificate
   * (and one the existing certificate must cover) and the address for device hosts files.
   * It does not restrict the listener (see `listenAddress`): behind NAT or in a container
   * the device-facing address is often not a local one.
   */
  gatewayIp: string | undefined;
  httpsPort: number;
  /** Local address the HTTPS listener binds; all interfaces when undefined. */
  listenAddress?: string | undefined;
  /** Create a CA and server certificate in `certDir` (through the `cert issue` core). */
  createCerts: boolean;
  certDir: string;
  /** Existing server certificate and key, when `createCerts` is false. */
  serverCert: string | undefined;
  serverKey: string | undefined;
  artifactsProxy: boolean;
  domainWhitelist: string[];
  cache: boolean;
  cachePath: string;
  /** Base64 HMAC key of the cache links. */
  signatureSecret: string;
  /**
   * True when `signatureSecret` was generated rather than given: a `--force` run then keeps
   * the secret of the file it replaces, so the links devices hold stay valid.
   */
  signatureSecretGenerated?: boolean | undefined;
  mtls: boolean;
  /** CA of the device certificates; the created CA when undefined and `createCerts`. */
  mtlsCa: string | undefined;
  menderUsername: string | undefined;
  menderPassword: string | undefined;
  /** DeviceSystem is enabled exactly when this is set. */
  systemId: string | undefined;
  /** With mTLS: the loopback port of the plain-HTTP health listener (`127.0.0.1:PORT`). */
  healthPort?: number | undefined;
  /** Group (name or numeric id) given read access to the configuration and the created server key. */
  serviceGroup?: string | undefined;
  /**
   * With `createCerts`: where the CA private key goes (`<stem>.key`, with a copy of the CA
   * certificate as `<stem>.crt` beside it). Must be outside the configuration's folder
   * unless `keepCaKey` (docs/decisions.md §25).
   */
  caKeyOut?: string | undefined;
  /** Write the CA key beside the configuration (`<certDir>/ca.key`), as before. */
  keepCaKey?: boolean | undefined;
}

export const SETUP_DEFAULTS = {
  httpsPort: 443,
  cachePath: '/var/cache/mender-gateway',
  certDirName: 'pki',
  linkExpireDuration: '24h',
  minimumTlsVersion: '1.2',
  /** Loopback health listener with mTLS (the HTTPS listener demands client certificates). */
  healthPort: 8080,
} as const;

/** Storage hosts of hosted Mender (docs/configuration.md, DomainWhitelist). */
export const HOSTED_MENDER_STORAGE = ['s3.amazonaws.com', 'cloudflarestorage.com', 'blob.core.windows.net'];

function invalid(message: string, hint: string): GatewayError {
  return new GatewayError('MGW_SETUP_INVALID_INPUT', message, { hint });
}

/** Re-throw a provisioning check's error under the setup code. */
function asSetupError<T>(check: () => T): T {
  try {
    return check();
  } catch (err) {
    if (isGatewayError(err)) throw invalid(err.message, err.hint ?? '');
    throw err;
  }
}

export function checkUpstreamUrl(text: string): string {
  const value = text.trim();
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw invalid(
      `upstream URL "${text}" is not an absolute URL`,
      'Write it as e.g. https://hosted.mender.io.',
    );
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw invalid(
      `upstream URL "${text}" uses ${url.protocol}`,
      'Only https:// (or http://) URLs are supported.',
    );
  }
  if (url.username !== '' || url.password !== '') {
    throw invalid('the upstream URL contains credentials', 'Remove "user:password@" from the URL.');
  }
  if (url.search !== '' || url.hash !== '') {
    throw invalid(
      `upstream URL "${text}" has a query or fragment`,
      'Give the base URL, e.g. https://hosted.mender.io.',
    );
  }
  return value.replace(/\/+$/, '');
}

export function checkGatewayName(text: string): string {
  return asSetupError(() => normalizeHostName(text, 'gateway name'));
}

export function checkGatewayIp(text: string): string {
  return asSetupError(() => normalizeAddress(text, 'gateway address'));
}

/** A local IP address for the HTTPS listener (no port: that is `--https-port`). */
export function checkListenAddress(text: string): string {
  return asSetupError(() => normalizeAddress(text, 'listen address'));
}

/** The CA key file: a `.key` file name whose stem `cert issue` accepts (it writes `<stem>.crt` beside it). */
export function checkCaKeyOut(text: string): string {
  const value = text.trim();
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}\.key$/.test(basename(value))) {
    throw invalid(
      `the CA key file "${text}" must be named like ca.key`,
      'End it in .key, with letters, digits, ".", "_" and "-" before it (the CA certificate is written beside it as .crt).',
    );
  }
  return value;
}

export function checkPort(value: number | string): number {
  const port = typeof value === 'number' ? value : Number(value.trim());
  if (
    !Number.isInteger(port) ||
    port < 1 ||
    port > 65535 ||
    (typeof value === 'string' && !/^\s*\d+\s*$/.test(value))
  ) {
    throw invalid(`port "${value}" is not a number from 1 to 65535`, 'Devices usually use 443.');
  }
  return port;
}

/** Comma- or space-separated host names of the storage the gateway may download from. */
export function parseDomainWhitelist(text: string): string[] {
  const entries = text
    .split(/[\s,]+/)
    .map((entry) => entry.trim().toLowerCase())
    .filter((entry) => entry !== '');
  for (const entry of entries) {
    if (entry.includes('/')) {
      throw invalid(
        `storage domain "${entry}" is a URL, not a host name`,
        'List host names only, e.g. s3.amazonaws.com.',
      );
    }
  }
  return [...new Set(entries)];
}

/** Hosted Mender's storage hosts for hosted.mender.io (and its regions), else the upstream host itself. */
export function defaultDomainWhitelist(upstreamUrl: string): string[] {
  let host: string;
  try {
    host = new URL(upstreamUrl).hostname.toLowerCase();
  } catch {
    return [];
  }
  if (host === 'hosted.mender.io' || host.endsWith('.hosted.mender.io')) return [...HOSTED_MENDER_STORAGE];
  return [host.replace(/^\[|\]$/g, '')];
}

export function checkSignatureSecret(text: string): string {
  const value = text.trim();
  const bytes = /^[A-Za-z0-9+/_-]+={0,2}$/.test(value) ? Buffer.from(value, 'base64') : Buffer.alloc(0);
  if (bytes.length < 16) {
    throw invalid(
      'the signature secret is not base64 of at least 16 bytes',
      'Leave it out to have one generated, or create one with: openssl rand -base64 32',
    );
  }
  return value;
}

/** A new random 32-byte SignatureSecret, base64. */
export function generateSignatureSecret(): string {
  return randomBytes(32).toString('base64');
}

export function checkNonEmpty(text: string, what: string, hint: string): string {
  if (text.trim() === '') throw invalid(`${what} is empty`, hint);
  return text;
}

/** The files `createCerts` writes. */
export function setupCertificatePaths(certDir: string): {
  caCert: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
} {
  return {
    caCert: join(certDir, 'ca.crt'),
    caKey: join(certDir, 'ca.key'),
    serverCert: join(certDir, 'server.crt'),
    serverKey: join(certDir, 'server.key'),
  };
}

/** Every path made absolute against `cwd`, so the written file does not depend on where it is read from. */
export function resolveSetupPaths(answers: SetupAnswers, cwd: string): SetupAnswers {
  const abs = (path: string | undefined): string | undefined =>
    path === undefined ? undefined : isAbsolute(path) ? path : resolve(cwd, path);
  return {
    ...answers,
    upstreamCa: abs(answers.upstreamCa),
    certDir: resolve(cwd, answers.certDir),
    serverCert: abs(answers.serverCert),
    serverKey: abs(answers.serverKey),
    cachePath: resolve(cwd, answers.cachePath),
    mtlsCa: abs(answers.mtlsCa),
    caKeyOut: abs(answers.caKeyOut),
  };
}

/**
 * Check every answer and the rules between them; one `MGW_SETUP_INVALID_INPUT` lists all
 * problems (`details.problems`). Returns the answers in canonical form.
 */
export function checkSetupAnswers(answers: SetupAnswers): SetupAnswers {
  const problems: { message: string; hint: string }[] = [];
  const attempt = <T>(check: () => T, fallback: T): T => {
    try {
      return check();
    } catch (err) {
      if (!isGatewayError(err)) throw err;
      problems.push({ message: err.message, hint: err.hint ?? '' });
      return fallback;
    }
  };
  const need = (value: string | undefined, flag: string, what: string): void => {
    if (value === undefined || value.trim() === '')
      problems.push({ message: `${what} is missing`, hint: `Pass ${flag}.` });
  };

  const checked: SetupAnswers = {
    ...answers,
    upstreamUrl: attempt(() => checkUpstreamUrl(answers.upstreamUrl), answers.upstreamUrl),
    gatewayName: attempt(() => checkGatewayName(answers.gatewayName), answers.gatewayName),
    gatewayIp:
      answers.gatewayIp === undefined
        ? undefined
        : attempt(() => checkGatewayIp(answers.gatewayIp ?? ''), answers.gatewayIp),
    httpsPort: attempt(() => checkPort(answers.httpsPort), answers.httpsPort),
    listenAddress:
      answers.listenAddress === undefined
        ? undefined
        : attempt(() => checkListenAddress(answers.listenAddress ?? ''), answers.listenAddress),
    healthPort:
      answers.healthPort === undefined
        ? undefined
        : attempt(() => checkPort(answers.healthPort ?? 0), answers.healthPort),
    signatureSecret: answers.cache
      ? attempt(() => checkSignatureSecret(answers.signatureSecret), answers.signatureSecret)
      : answers.signatureSecret,
  };
  if (!answers.createCerts) {
    need(answers.serverCert, '--server-cert (or --create-certs)', 'the server certificate');
    need(answers.serverKey, '--server-key (or --create-certs)', 'the server key');
  }
  if (answers.createCerts && answers.keepCaKey !== true && answers.caKeyOut === undefined) {
    problems.push({
      message: 'no place for the CA private key',
      hint: 'Pass --ca-key-out PATH (outside the configuration folder, e.g. on removable media), or --keep-ca-key to leave it beside the configuration.',
    });
  }
  if (answers.caKeyOut !== undefined) attempt(() => checkCaKeyOut(answers.caKeyOut ?? ''), '');
  if (answers.mtls && answers.healthPort !== undefined && answers.healthPort === answers.httpsPort) {
    problems.push({
      message: `the health port ${answers.healthPort} is the HTTPS port`,
      hint: 'Pass another --health-port.',
    });
  }
  if (answers.serviceGroup?.trim() === '') {
    problems.push({
      message: 'the service group is empty',
      hint: 'Pass --service-group with a group name (e.g. mender-gw), or leave it out.',
    });
  }
  if (answers.cache && !answers.artifactsProxy) {
    problems.push({
      message: 'the artifacts cache needs the artifacts proxy',
      hint: 'Drop --no-artifacts-proxy, or pass --no-enable-cache.',
    });
  }
  if (answers.artifactsProxy && answers.domainWhitelist.length === 0) {
    problems.push({
      message: 'the artifacts proxy has no storage domains to download from',
      hint: 'Pass --domain-whitelist with the host names of the artifact storage (e.g. s3.amazonaws.com).',
    });
  }
  if (answers.mtls) {
    if (!answers.createCerts) need(answers.mtlsCa, '--mtls-ca', 'the CA of the device certificates');
    need(answers.menderUsername, '--mender-username', 'the Mender user for preauthorization');
    need(answers.menderPassword, '--mender-password (or env MTLS_MENDER_PASSWORD)', 'the Mender password');
  }
  if (answers.systemId?.trim() === '') {
    problems.push({
      message: 'the system ID is empty',
      hint: 'Pass --system-id with a value, or leave it out.',
    });
  }

  if (problems.length > 0) {
    const first = problems[0];
    const message =
      problems.length === 1 && first !== undefined
        ? first.message
        : `${problems.length} problems with the answers: ${problems.map((p) => p.message).join('; ')}`;
    throw new GatewayError('MGW_SETUP_INVALID_INPUT', message, {
      hint: problems.length === 1 && first !== undefined ? first.hint : problems.map((p) => p.hint).join(' '),
      details: { problems },
    });
  }
  return checked;
}
