import { createHmac, timingSafeEqual } from 'node:crypto';
import { GatewayError } from '../errors.js';
import { ARTIFACT_ROUTE, PROXY_ROUTE } from '../http/device-path.js';
import { cacheKeyFor, isCacheKey } from './cache-key.js';
import { parseStorageUrl } from './storage-url.js';

/**
 * Gateway download links (docs/protocol.md §4.3, §4.4). Devices treat `artifact.source.uri`
 * as opaque, so the format is ours; it lives under the device API so the same listener
 * rules (and mTLS) apply to downloads as to API calls (docs/protocol.md §9.19).
 *
 *   cache mode: {GatewayURL}/api/devices/v1/gateway/artifacts/{key}
 *                 ?x-men-expire=…&x-men-origin=…[&x-men-artifact-id=…][&x-men-artifact-name=…]&x-men-signature=…
 *   proxy mode: {GatewayURL}/api/devices/v1/gateway/artifacts/proxy/{b64url(original URL)}
 *
 * Cache links are self-contained: the original presigned URL travels inside, signed, so
 * any gateway holding the same `SignatureSecret` can serve or refill them, also after a
 * restart. The canonical string follows the deployments service's
 * configuration-download signatures (docs/protocol.md §4.4): method, path, then every
 * `x-men-*` parameter in a fixed order.
 */

export { ARTIFACT_ROUTE, PROXY_ROUTE };

export interface CacheLinkClaims {
  key: string;
  origin: URL;
  expires: Date;
  artifactId: string | undefined;
  artifactName: string | undefined;
}

const SIGNED_PARAMS = ['x-men-expire', 'x-men-origin', 'x-men-artifact-id', 'x-men-artifact-name'] as const;

function b64url(data: string | Buffer): string {
  return Buffer.from(data).toString('base64url');
}

/** RFC 3339 UTC with second precision, as Mender writes expiries. */
function rfc3339(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * A query value encoded exactly as `URLSearchParams` serialises it (application/x-www-form-urlencoded,
 * https://url.spec.whatwg.org/#concept-urlencoded-serializer): `encodeURIComponent` leaves
 * `!'()~` as they are and writes a space as `%20`, the serialiser encodes them and writes `+`.
 */
function formEncode(value: string): string {
  return encodeURIComponent(value).replace(/[!'()~]|%20/g, (c) =>
    c === '%20' ? '+' : `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

/** The signed text for the given parameter values, in SIGNED_PARAMS order (§4.4). */
function canonicalText(path: string, values: readonly (string | undefined)[]): string {
  let text = `GET\n${path}\n`;
  for (let i = 0; i < SIGNED_PARAMS.length; i++) {
    const value = values[i];
    if (value !== undefined) text += `${SIGNED_PARAMS[i]}=${value}\n`;
  }
  return text;
}

function canonical(path: string, params: URLSearchParams): string {
  let text = `GET\n${path}\n`;
  for (const name of SIGNED_PARAMS) {
    const value = params.get(name);
    if (value !== null) text += `${name}=${value}\n`;
  }
  return text;
}

function joinBase(gatewayUrl: URL, path: string): URL {
  // GatewayURL may carry a path prefix when the gateway sits behind a reverse proxy.
  const base = gatewayUrl.pathname.replace(/\/+$/, '');
  const url = new URL(gatewayUrl.origin);
  url.pathname = base + path;
  return url;
}

export class ArtifactLinkSigner {
  readonly #secret: Buffer;
  readonly #lifetimeMs: number;
  /** `{GatewayURL origin}{path prefix}`, as joinBase builds it, for links built as text. */
  readonly #base: string;

  constructor(secret: Buffer, gatewayUrl: URL, lifetimeMs: number) {
    this.#secret = secret;
    this.#lifetimeMs = lifetimeMs;
    this.#base = joinBase(gatewayUrl, '/').href.replace(/\/$/, '');
  }

  #mac(path: string, params: URLSearchParams): Buffer {
    return createHmac('sha256', this.#secret).update(canonical(path, params)).digest();
  }

  /** A signed cache link for `origin`, valid for `LinkExpireDuration` from `now`. */
  sign(origin: URL, artifact: { id?: string; name?: string }, now = new Date()): { url: URL; expires: Date } {
    const { href, expires } = this.signText(origin, artifact, now);
    return { url: new URL(href), expires };
  }

  /**
   * {@link sign} as text, for deployments/next (the hot path): the same link, byte for byte, built
   * by concatenation instead of `URLSearchParams` and `URL` setters, which took about half of the
   * ~19 µs a link cost (docs/performance.md, "What was tried"). `expire` is the RFC 3339 expiry.
   */
  signText(
    origin: URL,
    artifact: { id?: string | undefined; name?: string | undefined },
    now = new Date(),
  ): { href: string; expires: Date; expire: string } {
    const key = cacheKeyFor(origin);
    const expires = new Date(Math.floor((now.getTime() + this.#lifetimeMs) / 1000) * 1000);
    const expire = rfc3339(expires);
    const path = `${ARTIFACT_ROUTE}${key}`;
    const values = [expire, b64url(origin.href), artifact.id, artifact.name] as const;
    const signature = createHmac('sha256', this.#secret)
      .update(canonicalText(path, values))
      .digest('base64url');
    let query = '';
    for (let i = 0; i < SIGNED_PARAMS.length; i++) {
      const value = values[i];
      if (value !== undefined) query += `${query === '' ? '' : '&'}${SIGNED_PARAMS[i]}=${formEncode(value)}`;
    }
    return { href: `${this.#base}${path}?${query}&x-men-signature=${signature}`, expires, expire };
  }

  /**
   * Check a cache link as it arrived. Order as in the deployments service (§4.4):
   * malformed → 400, expired → 403, bad signature → 403. The comparison is constant-time.
   * `path` is the request path relative to the gateway (its prefix already removed).
   */
  verify(path: string, query: string, now = new Date()): CacheLinkClaims {
    const bad = (what: string): GatewayError =>
      new GatewayError('MGW_LINK_MALFORMED', `malformed artifact link: ${what}`, {
        hint: 'Use the download link from the latest deployments/next answer unchanged.',
      });
    if (!path.startsWith(ARTIFACT_ROUTE)) throw bad('wrong path');
    const key = path.slice(ARTIFACT_ROUTE.length);
    if (!isCacheKey(key)) throw bad('bad cache key');
    const params = new URLSearchParams(query.startsWith('?') ? query.slice(1) : query);
    for (const name of [...SIGNED_PARAMS, 'x-men-signature']) {
      if (params.getAll(name).length > 1) throw bad(`repeated ${name}`);
    }
    const expireText = params.get('x-men-expire');
    const originText = params.get('x-men-origin');
    const signatureText = params.get('x-men-signature');
    if (expireText === null || originText === null || signatureText === null) throw bad('missing parameter');
    const expires = new Date(expireText);
    if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/.test(expireText) || Number.isNaN(expires.getTime()))
      throw bad('bad x-men-expire');
    let origin: URL;
    try {
      origin = new URL(Buffer.from(originText, 'base64url').toString('utf8'));
    } catch {
      throw bad('bad x-men-origin');
    }
    if (!/^[A-Za-z0-9_-]+$/.test(signatureText)) throw bad('bad x-men-signature');
    // Compared as text: decoding would accept other spellings of the same bytes (the unused
    // low bits of the last base64 character), so a link could be altered and still verify.
    const given = Buffer.from(signatureText);

    if (now.getTime() > expires.getTime()) {
      throw new GatewayError('MGW_LINK_FORBIDDEN', `artifact link expired at ${expireText}`, {
        hint: 'The device gets a fresh link at its next deployments/next poll; raise LinkExpireDuration for slow sites.',
      });
    }
    const expected = Buffer.from(this.#mac(path, params).toString('base64url'));
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw new GatewayError('MGW_LINK_FORBIDDEN', 'artifact link signature does not match', {
        hint: 'The link was altered, or signed by a gateway with another SignatureSecret.',
      });
    }
    // The key is bound to the origin too: a signed link cannot be re-pointed at another entry.
    if (cacheKeyFor(origin) !== key) throw bad('key does not match origin');
    return {
      key,
      origin,
      expires,
      artifactId: params.get('x-men-artifact-id') ?? undefined,
      artifactName: params.get('x-men-artifact-name') ?? undefined,
    };
  }
}

/** Proxy-only links: the original URL, base64url-encoded byte-exact (S3 signatures break if re-encoded, §4.3). */
export function proxyLink(gatewayUrl: URL, origin: string): URL {
  return joinBase(gatewayUrl, `${PROXY_ROUTE}${b64url(origin)}`);
}

/**
 * The storage URL a proxy link carries, parsed once (parseStorageUrl): that object is what is
 * checked and fetched. Only URLs in their normal form are accepted, so the bytes fetched are the
 * bytes embedded (docs/protocol.md §4.3: presigned signatures cover them).
 */
export function decodeProxyLink(path: string): URL {
  const encoded = path.slice(PROXY_ROUTE.length);
  if (!path.startsWith(PROXY_ROUTE) || !/^[A-Za-z0-9_-]+$/.test(encoded)) {
    throw new GatewayError('MGW_LINK_MALFORMED', 'malformed artifact proxy link', {
      hint: 'Use the download link from the latest deployments/next answer unchanged.',
    });
  }
  return parseStorageUrl(Buffer.from(encoded, 'base64url').toString('utf8'));
}
