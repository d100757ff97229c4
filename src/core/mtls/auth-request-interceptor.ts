import { GatewayError, toGatewayError } from '../errors.js';
import { readBoundedBody } from '../http/read-body.js';
import { jsonRefusal, MAX_JSON_BODY, parseBoundedJson } from '../http/bounded-json.js';
import type { Logger } from '../logger.js';
import type { DeviceApiRelay } from '../upstream/device-api-relay.js';
import type { Exchange } from '../server/exchange.js';
import { verifyAuthSignature } from './auth-signature.js';
import type { DeviceIdentity, Preauthorizer } from './preauthorizer.js';

export const AUTH_REQUESTS_PATH = '/api/devices/v1/authentication/auth_requests';

function badRequest(message: string): GatewayError {
  return new GatewayError('MGW_BAD_REQUEST', `invalid auth request: ${message}`, {
    hint: 'The body must be JSON with id_data (a JSON object as a string) and pubkey (PEM).',
  });
}

function parseJson(text: string | Buffer, what: string): unknown {
  try {
    return parseBoundedJson(text, what);
  } catch (err) {
    if (jsonRefusal(err) === undefined) throw err;
    throw badRequest((err as Error).message);
  }
}

/** Parse what preauthorization needs from the auth request body (docs/protocol.md §2.1). */
export function parseAuthRequest(body: Buffer): DeviceIdentity {
  const parsed = parseJson(body, 'body');
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw badRequest('body is not a JSON object');
  const { id_data: idDataText, pubkey, tier } = parsed as Record<string, unknown>;
  if (typeof idDataText !== 'string') throw badRequest('id_data is missing or not a string');
  if (typeof pubkey !== 'string' || !pubkey.includes('PUBLIC KEY'))
    throw badRequest('pubkey is missing or not a PEM public key');
  const idData = parseJson(idDataText, 'id_data');
  if (
    typeof idData !== 'object' ||
    idData === null ||
    Array.isArray(idData) ||
    Object.keys(idData).length === 0
  ) {
    throw badRequest('id_data is not a non-empty JSON object');
  }
  return {
    idData: idData as Record<string, unknown>,
    pubkey,
    tier: typeof tier === 'string' ? tier : undefined,
  };
}

/**
 * Auto-accept of certified devices (docs/protocol.md §3.7): for an auth request that arrived with a
 * valid client certificate, check the body's signature, preauthorize (identity, key) upstream,
 * then forward the original request byte-for-byte so the device is accepted on that very
 * request. Never on the plain-HTTP listener (docs/protocol.md §3.7 step 1): the caller only routes HTTPS+mTLS
 * here.
 */
export class AuthRequestInterceptor {
  constructor(
    private readonly relay: DeviceApiRelay,
    private readonly preauthorizer: Preauthorizer,
    private readonly logger: Logger,
  ) {}

  /**
   * Auth requests that arrived with a verified certificate, on HTTPS only: a device on plain HTTP
   * is never auto-accepted.
   */
  matches(exchange: Exchange): boolean {
    return (
      exchange.certificate !== undefined &&
      exchange.req.method === 'POST' &&
      exchange.path === AUTH_REQUESTS_PATH
    );
  }

  async handle(exchange: Exchange): Promise<void> {
    const { req, res } = exchange;
    const certificate = exchange.certificate;
    if (certificate === undefined) throw new Error('auth request interceptor without a certificate');
    let identity: DeviceIdentity | undefined;
    try {
      const body = await readBoundedBody(req, MAX_JSON_BODY);
      identity = parseAuthRequest(body);
      const signature = req.headers['x-men-signature'];
      if (typeof signature !== 'string' || !verifyAuthSignature(body, identity.pubkey, signature)) {
        throw new GatewayError(
          'MGW_BAD_SIGNATURE',
          'auth request signature (X-MEN-Signature) does not verify with its pubkey',
          {
            hint: 'The device must sign the exact body with the private key of the pubkey it sends.',
          },
        );
      }
      const outcome = await this.preauthorizer.ensure(identity, exchange.clientIp);
      this.logger.debug(
        { requestId: exchange.requestId, outcome, certificate: certificate.serial },
        'auth request preauthorization',
      );
      const upstream = await this.relay.send(exchange, { body });
      if (upstream === undefined) return;
      if (upstream.statusCode === 401) {
        // Preauthorized yet refused (device limit, decommissioning): do not trust the cache next time.
        this.preauthorizer.forget(identity);
        this.logger.warn(
          { requestId: exchange.requestId, identity: identity.idData, certificate: certificate.serial },
          'upstream refused a preauthorized device',
        );
      }
      await this.relay.respond(upstream, exchange);
    } catch (err) {
      const error = toGatewayError(err);
      const retryAfter = (error.details as { retryAfterSeconds?: number } | undefined)?.retryAfterSeconds;
      if (retryAfter !== undefined && !res.headersSent) res.setHeader('retry-after', String(retryAfter));
      this.logger.warn(
        {
          requestId: exchange.requestId,
          ip: exchange.clientIp,
          code: error.code,
          identity: identity?.idData,
          certificate: certificate.serial,
        },
        error.message,
      );
      exchange.fail(error);
    }
  }
}
