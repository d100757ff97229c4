import { createHash, createPublicKey } from 'node:crypto';
import type { Dispatcher } from 'undici';
import { GatewayError } from '../errors.js';
import type { Logger } from '../logger.js';
import { upstreamFailure } from '../upstream/upstream-error.js';
import { busyError, MANAGEMENT_TIMEOUT_MS } from './management-session.js';
import type { ManagementBackoff, ManagementSession } from './management-session.js';

export interface DeviceIdentity {
  /** Parsed `id_data` (docs/protocol.md §2.1). */
  idData: Record<string, unknown>;
  /** The auth key from the request body, not the certificate key (they may differ since 2.0.0, docs/protocol.md §3.2). */
  pubkey: string;
  tier: string | undefined;
}

/** A stable key for (identity, public key, tier): sorted identity, DER-normalised key (docs/protocol.md §3.5). */
export function identityCacheKey(identity: DeviceIdentity): string {
  const sorted = Object.fromEntries(Object.entries(identity.idData).sort(([a], [b]) => a.localeCompare(b)));
  let key: string;
  try {
    key = createPublicKey(identity.pubkey).export({ type: 'spki', format: 'der' }).toString('hex');
  } catch {
    key = identity.pubkey.replace(/\s+/g, '');
  }
  return createHash('sha256')
    .update(`${JSON.stringify(sorted)}\n${key}\n${identity.tier ?? ''}`)
    .digest('hex');
}

/**
 * Preauthorization of certified devices (docs/protocol.md §3.5): `POST
 * /api/management/v2/devauth/devices {identity_data, pubkey, force: true}`, so the device's own
 * auth request that follows is accepted at once. Results are cached per (identity, key)
 * (`MTLS_ENABLE_CACHE`, docs/protocol.md §3.5 "Caching"), and concurrent requests for the same pair share one
 * call, so a burst of devices — or one device retrying — costs one preauthorization each.
 */
export class Preauthorizer {
  readonly #done = new Map<string, number>();
  readonly #pending = new Map<string, Promise<'preauthorized'>>();

  constructor(
    private readonly upstream: URL,
    private readonly dispatcher: Dispatcher,
    private readonly session: ManagementSession,
    private readonly backoff: ManagementBackoff,
    private readonly logger: Logger,
    private readonly options: { cache: boolean; ttlMs: number },
  ) {}

  /** Resolves once the pair is preauthorized (now or earlier, per the cache). */
  ensure(identity: DeviceIdentity, forwardedFor: string): Promise<'cached' | 'preauthorized'> {
    const key = identityCacheKey(identity);
    const cachedUntil = this.#done.get(key);
    if (this.options.cache && cachedUntil !== undefined && cachedUntil > Date.now())
      return Promise.resolve('cached');
    let pending = this.#pending.get(key);
    if (pending === undefined) {
      pending = this.#preauthorize(identity, forwardedFor, true).then(
        (result) => {
          this.#pending.delete(key);
          if (this.options.cache) this.#done.set(key, Date.now() + this.options.ttlMs);
          return result;
        },
        (err: unknown) => {
          this.#pending.delete(key);
          throw err;
        },
      );
      this.#pending.set(key, pending);
    }
    return pending;
  }

  /** Drop a cached pair, e.g. after upstream still answered 401 (decommissioned, limit reached). */
  forget(identity: DeviceIdentity): void {
    this.#done.delete(identityCacheKey(identity));
  }

  async #preauthorize(
    identity: DeviceIdentity,
    forwardedFor: string,
    retryOn401: boolean,
  ): Promise<'preauthorized'> {
    const wait = this.backoff.remainingSeconds();
    if (wait > 0) throw busyError(wait, 'preauthorization is backing off');
    const token = await this.session.token(forwardedFor);
    const body = JSON.stringify({
      identity_data: identity.idData,
      pubkey: identity.pubkey,
      force: true,
      // Enterprise servers take the tier too; the open-source decoder ignores it (docs/protocol.md §3.5).
      ...(identity.tier === undefined ? {} : { tier: identity.tier }),
    });
    let response: Dispatcher.ResponseData;
    try {
      response = await this.dispatcher.request({
        origin: this.upstream.origin,
        path: `${this.upstream.pathname.replace(/\/+$/, '')}/api/management/v2/devauth/devices`,
        method: 'POST',
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/json',
          'content-length': String(Buffer.byteLength(body)),
          // Upstream resolves the device's address from this on management calls too (docs/protocol.md §3.7
          // step 8).
          'x-forwarded-for': forwardedFor,
        },
        body,
        headersTimeout: MANAGEMENT_TIMEOUT_MS,
        bodyTimeout: MANAGEMENT_TIMEOUT_MS,
      });
    } catch (err) {
      this.backoff.failed(undefined);
      throw upstreamFailure(err, this.upstream.origin);
    }
    const text = await response.body.text();
    const status = response.statusCode;
    // 409 exists only without force; treat it as done, as the PoC did (docs/protocol.md §3.5).
    if (status === 201 || status === 200 || status === 204 || status === 409) {
      this.backoff.succeeded();
      this.logger.info({ identity: identity.idData, ip: forwardedFor }, 'device preauthorized');
      return 'preauthorized';
    }
    if (status === 401 && retryOn401) {
      this.session.invalidate(token);
      return this.#preauthorize(identity, forwardedFor, false);
    }
    if (status === 429 || status >= 500) {
      const seconds = this.backoff.failed(response.headers['retry-after']);
      throw busyError(seconds, `preauthorization answered ${status}`);
    }
    throw new GatewayError(
      'MGW_UPSTREAM_BAD_RESPONSE',
      `preauthorization refused with ${status}: ${text.slice(0, 200)}`,
      {
        hint:
          status === 403
            ? 'The management user lacks permission to preauthorize devices (RBAC).'
            : 'Check the device identity and key.',
      },
    );
  }
}
