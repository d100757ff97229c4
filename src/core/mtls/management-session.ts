import type { Dispatcher } from 'undici';
import { GatewayError } from '../errors.js';
import type { Logger } from '../logger.js';
import { upstreamFailure } from '../upstream/upstream-error.js';
import { key } from '../config-key.js';

/** Management calls are small; a slow answer should fail fast so the device retries (docs/protocol.md §7: 5 s in the PoC). */
export const MANAGEMENT_TIMEOUT_MS = 10_000;
/** Refresh a management token this long before its `exp`. */
const REFRESH_MARGIN_MS = 60_000;

/**
 * Back-off after the management API said "slow down" (429) or failed (5xx): devices get 503
 * with Retry-After instead of each one hammering a struggling server (docs/protocol.md §3.5).
 */
export class ManagementBackoff {
  #until = 0;
  #failures = 0;

  /** Seconds to wait, or 0 when calls may go ahead. */
  remainingSeconds(now = Date.now()): number {
    return this.#until > now ? Math.ceil((this.#until - now) / 1000) : 0;
  }

  failed(retryAfterHeader: string | string[] | undefined, now = Date.now()): number {
    this.#failures += 1;
    const header = Array.isArray(retryAfterHeader) ? retryAfterHeader[0] : retryAfterHeader;
    const given = header === undefined ? NaN : Number(header);
    // Exponential from 1 s, capped at 60 s, unless the server named its own delay.
    const seconds =
      Number.isFinite(given) && given > 0 ? Math.min(given, 600) : Math.min(60, 2 ** (this.#failures - 1));
    this.#until = now + seconds * 1000;
    return seconds;
  }

  succeeded(): void {
    this.clear();
  }

  /** Forget the failures so far: the next call goes ahead. */
  clear(): void {
    this.#failures = 0;
    this.#until = 0;
  }
}

export function busyError(seconds: number, what: string): GatewayError {
  return new GatewayError('MGW_UPSTREAM_BUSY', `${what}; retry in ${seconds} s`, {
    details: { retryAfterSeconds: seconds },
    hint: 'The Mender server is rate-limiting or failing management calls; the device retries on its own.',
  });
}

function jwtExpiry(token: string): number | undefined {
  const payload = token.split('.')[1];
  if (payload === undefined) return undefined;
  try {
    const exp = (JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { exp?: unknown }).exp;
    return typeof exp === 'number' ? exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The gateway's login to the upstream management API (docs/protocol.md §3.4): Basic auth to
 * `POST /api/management/v1/useradm/auth/login`, one login shared by every concurrent caller
 * (single flight, as Mender Gateway 2.1.0 fixed in MEN-9043), refreshed before `exp` or when a
 * management call answers 401. The password and the token are never logged.
 */
/** The management login as `/ready` shows it. */
export interface ManagementStatus {
  loggedIn: boolean;
  /** Why the last login failed; cleared by a successful one. */
  lastError: string | undefined;
}

export class ManagementSession {
  #token: string | undefined;
  #lastError: string | undefined;
  #expiresAt = 0;
  #pending: Promise<string> | undefined;
  readonly #basic: string;

  constructor(
    private readonly upstream: URL,
    private readonly dispatcher: Dispatcher,
    username: string,
    password: string,
    private readonly backoff: ManagementBackoff,
    private readonly logger: Logger,
  ) {
    this.#basic = `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
  }

  /**
   * A valid management token, logging in if needed. `forwardedFor` is the device IP
   * (docs/protocol.md §3.7 step 8); the gateway's own start-up check passes none.
   */
  token(forwardedFor?: string): Promise<string> {
    if (this.#token !== undefined && Date.now() < this.#expiresAt - REFRESH_MARGIN_MS)
      return Promise.resolve(this.#token);
    this.#pending ??= this.#login(forwardedFor)
      .then(
        (token) => {
          this.#lastError = undefined;
          return token;
        },
        (err: unknown) => {
          this.#lastError = err instanceof Error ? err.message : String(err);
          throw err;
        },
      )
      .finally(() => {
        this.#pending = undefined;
      });
    return this.#pending;
  }

  /**
   * Log in once as a check (at start): the outcome shows in {@link status} and is returned, and a
   * failure does not make devices wait, since no device asked for this login.
   */
  async check(): Promise<string | undefined> {
    try {
      await this.token();
      return undefined;
    } catch (err) {
      this.backoff.clear();
      return err instanceof Error ? err.message : String(err);
    }
  }

  status(): ManagementStatus {
    return {
      loggedIn: this.#token !== undefined && Date.now() < this.#expiresAt,
      lastError: this.#lastError,
    };
  }

  /** Forget a token a management call rejected with 401, so the next call logs in again. */
  invalidate(token: string): void {
    if (this.#token === token) this.#token = undefined;
  }

  async #login(forwardedFor: string | undefined): Promise<string> {
    const wait = this.backoff.remainingSeconds();
    if (wait > 0) throw busyError(wait, 'management login is backing off');
    let response: Dispatcher.ResponseData;
    try {
      response = await this.dispatcher.request({
        origin: this.upstream.origin,
        path: `${this.upstream.pathname.replace(/\/+$/, '')}/api/management/v1/useradm/auth/login`,
        method: 'POST',
        headers: {
          authorization: this.#basic,
          ...(forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor }),
          'content-length': '0',
        },
        headersTimeout: MANAGEMENT_TIMEOUT_MS,
        bodyTimeout: MANAGEMENT_TIMEOUT_MS,
      });
    } catch (err) {
      this.backoff.failed(undefined);
      throw upstreamFailure(err, this.upstream.origin);
    }
    const text = await response.body.text();
    if (response.statusCode === 200) {
      this.backoff.succeeded();
      this.#token = text.trim();
      this.#expiresAt = jwtExpiry(this.#token) ?? Date.now() + 3600_000;
      this.logger.info(
        { expiresAt: new Date(this.#expiresAt).toISOString() },
        'logged in to the management API',
      );
      return this.#token;
    }
    if (response.statusCode === 429 || response.statusCode >= 500) {
      const seconds = this.backoff.failed(response.headers['retry-after']);
      throw busyError(seconds, `management login answered ${response.statusCode}`);
    }
    // Refused credentials will be refused again: back off too, so devices arriving meanwhile do not
    // hammer the server (or lock the account) with one failing login each.
    this.backoff.failed(undefined);
    throw new GatewayError(
      'MGW_MANAGEMENT_LOGIN',
      `management login as the configured user failed with ${response.statusCode}`,
      {
        hint: `Check ${key('Features.mTLS.MenderUsername')}/MenderPassword (MTLS_MENDER_USERNAME/_PASSWORD): the user must exist in the devices' tenant and must not use 2FA.`,
      },
    );
  }
}
