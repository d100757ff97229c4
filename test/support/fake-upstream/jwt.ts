import { generateKeyPairSync, sign, verify } from 'node:crypto';
import type { KeyObject } from 'node:crypto';

export type JwtClaims = Record<string, unknown> & {
  exp: number;
  iat: number;
  sub: string;
  jti: string;
  iss: string;
};

function b64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * RS256 JSON Web Tokens with a key made at start-up, like deviceauth/useradm sign theirs
 * (docs/protocol.md §2.1, §3.4). Only this fake verifies them; the gateway never needs to.
 */
export class JwtIssuer {
  readonly #privateKey: KeyObject;
  readonly publicKey: KeyObject;

  constructor() {
    const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
    this.#privateKey = pair.privateKey;
    this.publicKey = pair.publicKey;
  }

  issue(claims: JwtClaims): string {
    const head = b64url(JSON.stringify({ alg: 'RS256', typ: 'JWT' }));
    const body = b64url(JSON.stringify(claims));
    const signature = sign('sha256', Buffer.from(`${head}.${body}`), this.#privateKey);
    return `${head}.${body}.${b64url(signature)}`;
  }

  /** Claims of a token signed by this issuer and not expired; otherwise undefined. */
  verify(token: string, now = Date.now()): JwtClaims | undefined {
    const parts = token.split('.');
    if (parts.length !== 3) return undefined;
    const [head, body, signature] = parts as [string, string, string];
    try {
      const header: unknown = JSON.parse(Buffer.from(head, 'base64url').toString('utf8'));
      if (!isRecord(header) || header.alg !== 'RS256') return undefined;
      const ok = verify(
        'sha256',
        Buffer.from(`${head}.${body}`),
        this.publicKey,
        Buffer.from(signature, 'base64url'),
      );
      if (!ok) return undefined;
      const claims: unknown = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
      if (!isRecord(claims)) return undefined;
      const { exp, iat, sub, jti, iss } = claims;
      if (typeof exp !== 'number' || typeof iat !== 'number' || typeof sub !== 'string') return undefined;
      if (typeof jti !== 'string' || typeof iss !== 'string') return undefined;
      if (exp * 1000 <= now) return undefined;
      return { ...claims, exp, iat, sub, jti, iss };
    } catch {
      return undefined;
    }
  }
}

/** The token of an `Authorization: Bearer …` header, if any. */
export function bearerToken(authorization: string | undefined): string | undefined {
  if (authorization === undefined) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
  return match?.[1];
}
