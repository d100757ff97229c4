import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Dispatcher } from 'undici';
import type { GatewayConfig } from '../config/gateway-config.js';
import { GatewayError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { GatewayMetrics } from '../metrics/gateway-metrics.js';
import type { DeviceApiRelay } from '../upstream/device-api-relay.js';
import { AuthRequestInterceptor } from './auth-request-interceptor.js';
import type { PeerPolicy } from './client-certificate-check.js';
import { ManagementBackoff, ManagementSession } from './management-session.js';
import type { ManagementStatus } from './management-session.js';
import { Preauthorizer } from './preauthorizer.js';
import { SerialBlacklist } from './serial-blacklist.js';
import type { BlacklistStatus } from './serial-blacklist.js';
import { key } from '../config-key.js';

/** How long a preauthorization is trusted before the gateway repeats it (docs/protocol.md §3.5 "Caching"). */
export const PREAUTH_CACHE_TTL_MS = 6 * 3600_000;

export interface MtlsFeature {
  /** PEM bundle of trusted device CAs for the HTTPS listener. */
  clientCa: string;
  policy: PeerPolicy;
  auth: AuthRequestInterceptor;
  allowDeviceApiOnHttp: boolean;
  /** The blacklist in force and its last reload error, for readiness; `undefined` without one. */
  blacklistStatus(): BlacklistStatus | undefined;
  /** The management login, for readiness. */
  managementStatus(): ManagementStatus;
  /**
   * Log in once now, so wrong credentials show at start instead of when the first device
   * arrives. Never throws: a failure is a warning, and devices retry.
   */
  checkManagementLogin(): Promise<void>;
  close(): void;
}

/** Every certificate of a PEM bundle; a file without one, or with an unreadable one, is an error. */
function parseCaBundle(pem: string, path: string): X509Certificate[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) {
    throw new GatewayError(
      'MGW_TLS_MATERIAL',
      `${key('Features.mTLS.CACertificate')} ${path} holds no PEM certificate`,
      {
        hint: 'Give the PEM bundle of the CA(s) that sign device certificates.',
      },
    );
  }
  return blocks.map((block, index) => {
    try {
      return new X509Certificate(block);
    } catch (err) {
      throw new GatewayError(
        'MGW_TLS_MATERIAL',
        `${key('Features.mTLS.CACertificate')} ${path}: certificate ${index + 1} cannot be parsed`,
        {
          cause: err,
          hint: 'Give the PEM bundle of the CA(s) that sign device certificates.',
        },
      );
    }
  });
}

/**
 * Provision `Features.mTLS` (docs/protocol.md §3): the device CA bundle, the serial blacklist
 * (watched for changes), and auto-accept through the management API. Everything that can be
 * wrong with the files fails here, before a listener opens.
 */
export async function createMtlsFeature(
  config: GatewayConfig,
  relay: DeviceApiRelay,
  dispatcher: Dispatcher,
  logger: Logger,
  metrics?: GatewayMetrics,
): Promise<MtlsFeature | undefined> {
  const mtls = config.mtls;
  if (!mtls.enabled) return undefined;
  if (
    mtls.caCertificate === undefined ||
    mtls.menderUsername === undefined ||
    mtls.menderPassword === undefined
  ) {
    throw new GatewayError(
      'MGW_CONFIG_INVALID',
      `${key('Features.mTLS')} needs CACertificate, MenderUsername and MenderPassword`,
      {
        hint: 'Run `mender-gw config validate` for details.',
      },
    );
  }
  let clientCa: string;
  try {
    clientCa = await readFile(mtls.caCertificate, 'utf8');
  } catch (err) {
    throw new GatewayError(
      'MGW_TLS_MATERIAL',
      `cannot read ${key('Features.mTLS.CACertificate')} ${mtls.caCertificate}`,
      { cause: err, hint: 'Check the path and permissions.' },
    );
  }
  const anchors = parseCaBundle(clientCa, mtls.caCertificate);

  let blacklist: SerialBlacklist | undefined;
  if (mtls.blacklistPath !== undefined) {
    const loaded = await SerialBlacklist.load(mtls.blacklistPath);
    blacklist = loaded.blacklist;
    for (const bad of loaded.invalid)
      logger.warn(
        { path: mtls.blacklistPath, line: bad.line },
        'blacklist line is not a hex serial: ignored',
      );
    logger.info({ path: mtls.blacklistPath, serials: blacklist.size }, 'certificate blacklist loaded');
    metrics?.blacklistSerials.set(blacklist.size);
    const watched = blacklist;
    watched.watch({
      reloaded: (count, invalid) => {
        for (const bad of invalid)
          logger.warn(
            { path: mtls.blacklistPath, line: bad.line },
            'blacklist line is not a hex serial: ignored',
          );
        logger.info({ path: mtls.blacklistPath, serials: count }, 'certificate blacklist reloaded');
        metrics?.blacklistSerials.set(count);
      },
      failed: (error) => {
        logger.error(
          { path: mtls.blacklistPath, error: error.message, serials: watched.size },
          'certificate blacklist reload failed: keeping the previous list',
        );
        metrics?.blacklistReloadFailures.inc();
        metrics?.blacklistSerials.set(watched.size);
      },
    });
  }
  if (mtls.insecureSkipClientExpireAfter) {
    logger.warn(
      `${key('Features.mTLS.InsecureSkipClientExpireAfter')} is on: expired device certificates are accepted (each acceptance is logged)`,
    );
  }

  const backoff = new ManagementBackoff();
  const session = new ManagementSession(
    config.upstream.url,
    dispatcher,
    mtls.menderUsername,
    mtls.menderPassword,
    backoff,
    logger,
  );
  const preauthorizer = new Preauthorizer(config.upstream.url, dispatcher, session, backoff, logger, {
    cache: mtls.enableCache,
    ttlMs: PREAUTH_CACHE_TTL_MS,
  });
  return {
    clientCa,
    policy: { blacklist, skipExpiry: mtls.insecureSkipClientExpireAfter, anchors },
    auth: new AuthRequestInterceptor(relay, preauthorizer, logger),
    allowDeviceApiOnHttp: mtls.allowDeviceApiOnHttp,
    blacklistStatus: () => blacklist?.status(),
    managementStatus: () => session.status(),
    async checkManagementLogin() {
      const error = await session.check();
      if (error !== undefined)
        logger.warn(
          { error },
          `mTLS: management login failed at start; devices cannot be auto-accepted until it works (check ${key('Features.mTLS.MenderUsername')} and MenderPassword)`,
        );
    },
    close: () => blacklist?.close(),
  };
}
