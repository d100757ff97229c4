import { randomUUID, timingSafeEqual } from 'node:crypto';
import type { JwtIssuer } from './jwt.js';

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Credentials of an `Authorization: Basic …` header. */
export function basicCredentials(
  authorization: string | undefined,
): { username: string; password: string } | undefined {
  const match = /^Basic\s+(\S+)\s*$/i.exec(authorization ?? '');
  if (match?.[1] === undefined) return undefined;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/**
 * useradm in miniature: one user, user JWTs (`mender.user: true`) that expire after the
 * configured lifetime and can be revoked wholesale to exercise the gateway's re-login path
 * (docs/protocol.md §3.4: refresh on expiry or on a 401, single-flight).
 */
export class ManagementAuth {
  readonly #userId = randomUUID();
  #generation = 0;

  constructor(
    private readonly jwt: JwtIssuer,
    private readonly user: { username: string; password: string },
    private readonly lifetimeSeconds: number,
    private readonly tenantId: string,
  ) {}

  login(credentials: { username: string; password: string } | undefined): string | undefined {
    if (credentials === undefined) return undefined;
    if (
      !sameText(credentials.username, this.user.username) ||
      !sameText(credentials.password, this.user.password)
    ) {
      return undefined;
    }
    const iat = Math.floor(Date.now() / 1000);
    return this.jwt.issue({
      jti: randomUUID(),
      sub: this.#userId,
      iss: 'Mender Users',
      iat,
      exp: iat + this.lifetimeSeconds,
      'mender.user': true,
      'mender.tenant': this.tenantId,
      // Lets `revokeAll` invalidate tokens issued so far without touching later ones.
      'fake.generation': this.#generation,
    });
  }

  valid(token: string | undefined): boolean {
    if (token === undefined) return false;
    const claims = this.jwt.verify(token);
    if (claims?.['mender.user'] !== true) return false;
    return claims['fake.generation'] === this.#generation;
  }

  /** Every management token issued so far stops working (as if it had expired). */
  revokeAll(): void {
    this.#generation += 1;
  }
}
