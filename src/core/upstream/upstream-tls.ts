import { readFile } from 'node:fs/promises';
import { createSecureContext, rootCertificates } from 'node:tls';
import type { ConnectionOptions } from 'node:tls';
import { GatewayError } from '../errors.js';
import type { GatewayConfig } from '../config/gateway-config.js';
import { key } from '../config-key.js';

/**
 * TLS options for every outbound connection (API relay, WebSocket tunnels, management
 * calls, storage downloads): the system CAs plus `UpstreamServer.CACertificate`, or no
 * verification at all with `InsecureSkipVerify` (docs/protocol.md §6.4).
 *
 * Node replaces its default trust store when `ca` is given, so the bundled roots are
 * added explicitly; otherwise an extra private CA would silently un-trust hosted Mender.
 */
export async function loadUpstreamTls(upstream: GatewayConfig['upstream']): Promise<ConnectionOptions> {
  if (upstream.insecureSkipVerify) return { rejectUnauthorized: false };
  if (upstream.caCertificate === undefined) return { rejectUnauthorized: true };
  let extra: string;
  try {
    extra = await readFile(upstream.caCertificate, 'utf8');
  } catch (err) {
    throw new GatewayError(
      'MGW_TLS_MATERIAL',
      `cannot read ${key('UpstreamServer.CACertificate')} ${upstream.caCertificate}`,
      {
        cause: err,
        hint: 'Check the path and that the gateway user may read it.',
      },
    );
  }
  if (!extra.includes('-----BEGIN CERTIFICATE-----')) {
    throw new GatewayError(
      'MGW_TLS_MATERIAL',
      `${key('UpstreamServer.CACertificate')} ${upstream.caCertificate} holds no PEM certificate`,
      {
        hint: 'The file must contain one or more "-----BEGIN CERTIFICATE-----" blocks.',
      },
    );
  }
  // One secure context for every connection: passing `ca` instead would make Node parse the
  // ~140 bundled roots again on each new upstream connection (tens of ms of CPU each).
  return {
    rejectUnauthorized: true,
    secureContext: createSecureContext({ ca: [...rootCertificates, extra] }),
  };
}
