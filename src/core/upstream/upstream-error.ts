import { GatewayError } from '../errors.js';
import { errnoCode } from '../file-errors.js';
import { key } from '../config-key.js';

/**
 * Map a failure of an upstream call to the gateway's error codes, in one place (as fastify/fastify-reply-from
 * does in `lib/errors.js`). Upstream unreachable →
 * 502, upstream too slow → 504 (docs/protocol.md §7, "Upstream outage"). We match on
 * `err.code`, never on `instanceof`: undici's classes differ between copies.
 */
const TIMEOUT_CODES = new Set([
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'ETIMEDOUT',
]);

function errorCode(err: unknown): string | undefined {
  let current: unknown = err;
  // undici wraps socket errors; the useful code may sit one or two levels down.
  for (let depth = 0; depth < 3 && typeof current === 'object' && current !== null; depth++) {
    const code = errnoCode(current);
    if (code !== undefined && code !== 'UND_ERR_SOCKET') return code;
    current = (current as { cause?: unknown }).cause;
  }
  return errnoCode(err);
}

/**
 * undici refuses some requests before sending anything (a header or method it will not send):
 * that is the device's request, not the upstream link, and must never count against upstream.
 */
const REQUEST_REFUSED_CODES = new Set(['UND_ERR_INVALID_ARG', 'UND_ERR_NOT_SUPPORTED']);

export function upstreamFailure(err: unknown, target: string): GatewayError {
  const code = errorCode(err) ?? 'unknown';
  if (REQUEST_REFUSED_CODES.has(code)) {
    return new GatewayError(
      'MGW_BAD_REQUEST',
      `the request cannot be forwarded (${(err as Error).message})`,
      {
        cause: err,
        hint: 'Send the request as the Mender client does.',
      },
    );
  }
  if (TIMEOUT_CODES.has(code)) {
    return new GatewayError('MGW_UPSTREAM_TIMEOUT', `upstream ${target} did not answer in time (${code})`, {
      cause: err,
      hint: 'The upstream Mender server or the link to it is slow or down; devices will retry.',
    });
  }
  return new GatewayError('MGW_UPSTREAM_UNREACHABLE', `upstream ${target} unreachable (${code})`, {
    cause: err,
    hint: `Check the uplink, DNS, proxy settings and ${key('UpstreamServer.URL')}; devices will retry.`,
  });
}
