import { displayText } from './display-text.js';

/** Longer tokens are not decoded: a Mender device JWT is well under 2 KiB. */
const MAX_TOKEN_LENGTH = 8 * 1024;

/**
 * The `sub` claim of the bearer token a device sent, for display only. The gateway does not
 * verify device JWTs (the Mender server does): this is what the device *claims* to be, and any
 * device can claim anything, so it is never used for a decision. RFC 7519 §4.1.2 (`sub`),
 * RFC 7515 §3.1 (compact serialization).
 */
export function jwtSubject(authorization: string | undefined): string | undefined {
  if (authorization === undefined || authorization.length > MAX_TOKEN_LENGTH + 7) return undefined;
  const match = /^Bearer +([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.[A-Za-z0-9_-]*$/i.exec(authorization);
  if (match?.[2] === undefined) return undefined;
  let claims: unknown;
  try {
    claims = JSON.parse(Buffer.from(match[2], 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof claims !== 'object' || claims === null) return undefined;
  const sub = (claims as { sub?: unknown }).sub;
  return typeof sub === 'string' && sub.length > 0 ? displayText(sub, 128) : undefined;
}
