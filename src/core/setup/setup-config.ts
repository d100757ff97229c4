import { isIPv6 } from 'node:net';
import type { SetupAnswers } from './setup-answers.js';
import { SETUP_DEFAULTS, setupCertificatePaths } from './setup-answers.js';

/**
 * The `mender-gateway.conf` document the wizard writes, from checked answers with absolute
 * paths. Pure: the same answers always give the same document (key order included), which
 * is what lets a prompted run and a `--no-prompt` run be compared byte for byte.
 *
 * Only HTTPS faces the network (plain HTTP must never face an untrusted one); with mTLS a
 * plain-HTTP listener on 127.0.0.1 serves the health probes, which cannot present a client
 * certificate (docs/operator-guide.md §2). HTTPS listens on all interfaces unless a listen
 * address is given: the gateway IP only names the gateway. Every path is absolute; the
 * device-facing URL goes into GatewayURL even when the proxy is off, because
 * `device-hosts gen` reads it. `$schema` lets editors check the file (docs/configuration.md).
 */
/**
 * The JSON Schema shipped with the package (`docs/config.schema.json`, listed in
 * package.json "files"), as a file: URL editors can open.
 */
export const SETUP_SCHEMA_URL = new URL('../../../docs/config.schema.json', import.meta.url).href;

export function buildSetupConfig(answers: SetupAnswers): Record<string, unknown> {
  const certificates = setupCertificatePaths(answers.certDir);
  const serverCert = answers.createCerts ? certificates.serverCert : answers.serverCert;
  const serverKey = answers.createCerts ? certificates.serverKey : answers.serverKey;
  const listenHost =
    answers.listenAddress === undefined
      ? ''
      : isIPv6(answers.listenAddress)
        ? `[${answers.listenAddress}]`
        : answers.listenAddress;
  const gatewayUrl = `https://${answers.gatewayName}${answers.httpsPort === 443 ? '' : `:${answers.httpsPort}`}`;

  const artifactsProxy: Record<string, unknown> = { Enabled: answers.artifactsProxy, GatewayURL: gatewayUrl };
  if (answers.artifactsProxy) {
    artifactsProxy.DomainWhitelist = [...answers.domainWhitelist];
    artifactsProxy.ArtifactsCache = answers.cache
      ? {
          Enabled: true,
          Path: answers.cachePath,
          SignatureSecret: answers.signatureSecret,
          LinkExpireDuration: SETUP_DEFAULTS.linkExpireDuration,
        }
      : { Enabled: false };
  }

  const features: Record<string, unknown> = { ArtifactsProxy: artifactsProxy };
  features.mTLS = answers.mtls
    ? {
        Enabled: true,
        CACertificate: answers.mtlsCa ?? certificates.caCert,
        MenderUsername: answers.menderUsername,
        MenderPassword: answers.menderPassword,
      }
    : { Enabled: false };
  features.DeviceSystem =
    answers.systemId === undefined ? { Enabled: false } : { Enabled: true, SystemID: answers.systemId };

  const healthPort = answers.healthPort ?? SETUP_DEFAULTS.healthPort;
  return {
    $schema: SETUP_SCHEMA_URL,
    UpstreamServer: {
      URL: answers.upstreamUrl,
      ...(answers.upstreamCa === undefined ? {} : { CACertificate: answers.upstreamCa }),
    },
    HTTP: answers.mtls ? { Enabled: true, Listen: `127.0.0.1:${healthPort}` } : { Enabled: false },
    HTTPS: {
      Enabled: true,
      Listen: `${listenHost}:${answers.httpsPort}`,
      MinimumTLSVersion: SETUP_DEFAULTS.minimumTlsVersion,
      ServerCertificate: serverCert,
      ServerKey: serverKey,
    },
    Features: features,
  };
}

/** The file text: two-space JSON and a final newline. */
export function renderSetupConfig(config: Record<string, unknown>): string {
  return `${JSON.stringify(config, null, 2)}\n`;
}

/** The document with the management password and the link secret replaced, for `--json` and logs. */
export function redactSetupConfig(config: Record<string, unknown>): Record<string, unknown> {
  return JSON.parse(
    JSON.stringify(config, (key, value: unknown) =>
      (key === 'MenderPassword' || key === 'SignatureSecret') && typeof value === 'string'
        ? '(secret)'
        : value,
    ),
  ) as Record<string, unknown>;
}
