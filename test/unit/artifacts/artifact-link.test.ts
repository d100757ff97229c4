import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ARTIFACT_ROUTE,
  ArtifactLinkSigner,
  PROXY_ROUTE,
  decodeProxyLink,
  proxyLink,
} from '../../../src/core/artifacts/artifact-link.js';
import { cacheKeyFor } from '../../../src/core/artifacts/cache-key.js';
import { isGatewayError } from '../../../src/core/errors.js';
import type { ErrorCode } from '../../../src/core/errors.js';

const SECRET = Buffer.from('a-test-secret-of-32-bytes-length');
const GATEWAY = new URL('https://gateway.local:8443');
const LIFETIME_MS = 30 * 60_000;
const NOW = new Date('2024-05-01T12:00:00.500Z');
/** A presigned S3 URL as deployments/next hands it out: encoded query, case matters. */
const PRESIGNED =
  'https://hosted-mender-artifacts.s3.amazonaws.com/tenant/6d3b0c2a?X-Amz-Algorithm=AWS4-HMAC-SHA256' +
  '&X-Amz-Credential=AKIAEXAMPLE%2F20240501%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20240501T115959Z' +
  '&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&response-content-type=application%2Fvnd.mender-artifact' +
  '&X-Amz-Signature=9f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a0';
const ORIGIN = new URL(PRESIGNED);

const signer = new ArtifactLinkSigner(SECRET, GATEWAY, LIFETIME_MS);

function signed(artifact: { id?: string; name?: string } = { id: 'a1b2', name: 'release-1' }, now = NOW) {
  const { url, expires } = signer.sign(ORIGIN, artifact, now);
  return { url, expires, path: url.pathname, query: url.search };
}

function codeOf(fn: () => unknown): ErrorCode | 'no error' | 'not a GatewayError' {
  try {
    fn();
    return 'no error';
  } catch (err) {
    return isGatewayError(err) ? err.code : 'not a GatewayError';
  }
}

function messageOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    return (err as Error).message;
  }
  return '';
}

/** Rebuild a query with one parameter replaced (undefined removes it), keeping the order. */
function withParam(query: string, name: string, value: string | undefined): string {
  const params = new URLSearchParams(query);
  if (value === undefined) params.delete(name);
  else params.set(name, value);
  return `?${params.toString()}`;
}

const FORBIDDEN = 'MGW_LINK_FORBIDDEN';
const MALFORMED = 'MGW_LINK_MALFORMED';

describe('ArtifactLinkSigner (docs/protocol.md §4.4)', () => {
  describe('sign', () => {
    it('builds {GatewayURL}/api/devices/v1/gateway/artifacts/{key} with the x-men-* parameters', () => {
      const { url, expires } = signed();
      expect(url.origin).toBe('https://gateway.local:8443');
      expect(url.pathname).toBe(`${ARTIFACT_ROUTE}${cacheKeyFor(ORIGIN)}`);
      expect([...url.searchParams.keys()]).toEqual([
        'x-men-expire',
        'x-men-origin',
        'x-men-artifact-id',
        'x-men-artifact-name',
        'x-men-signature',
      ]);
      // Second precision, RFC 3339 UTC, rounded down so the link never outlives LinkExpireDuration.
      expect(url.searchParams.get('x-men-expire')).toBe('2024-05-01T12:30:00Z');
      expect(expires.toISOString()).toBe('2024-05-01T12:30:00.000Z');
      expect(Buffer.from(url.searchParams.get('x-men-origin')!, 'base64url').toString()).toBe(PRESIGNED);
      expect(url.searchParams.get('x-men-signature')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    });

    it('signs HMAC-SHA256 over the documented canonical string, so another replica can verify', () => {
      const { query, path } = signed({});
      const params = new URLSearchParams(query);
      const canonical =
        `GET\n${path}\n` +
        `x-men-expire=${params.get('x-men-expire')!}\n` +
        `x-men-origin=${params.get('x-men-origin')!}\n`;
      expect(params.get('x-men-signature')).toBe(
        createHmac('sha256', SECRET).update(canonical).digest('base64url'),
      );
    });

    it('omits the artifact parameters when they are unknown', () => {
      const { url } = signed({});
      expect(url.searchParams.has('x-men-artifact-id')).toBe(false);
      expect(url.searchParams.has('x-men-artifact-name')).toBe(false);
    });

    it('keeps a GatewayURL path prefix (gateway behind a reverse proxy), with or without trailing slash', () => {
      for (const base of [
        'https://edge.example/mender',
        'https://edge.example/mender/',
        'https://edge.example/mender//',
      ]) {
        const prefixed = new ArtifactLinkSigner(SECRET, new URL(base), LIFETIME_MS);
        const { url } = prefixed.sign(ORIGIN, {}, NOW);
        expect(url.pathname, base).toBe(`/mender${ARTIFACT_ROUTE}${cacheKeyFor(ORIGIN)}`);
        // The handler strips the prefix before verifying.
        const relative = url.pathname.slice('/mender'.length);
        expect(prefixed.verify(relative, url.search, NOW).key).toBe(cacheKeyFor(ORIGIN));
        // Signed over the relative path: the prefixed path is not a link path.
        expect(codeOf(() => prefixed.verify(url.pathname, url.search, NOW))).toBe(MALFORMED);
      }
    });
  });

  describe('verify', () => {
    it('round-trips the claims', () => {
      const { path, query, expires } = signed({ id: 'a1b2', name: 'release 1 & more=+ü' });
      const claims = signer.verify(path, query, NOW);
      expect(claims).toEqual({
        key: cacheKeyFor(ORIGIN),
        origin: ORIGIN,
        expires,
        artifactId: 'a1b2',
        artifactName: 'release 1 & more=+ü',
      });
      expect(claims.origin.href).toBe(PRESIGNED);
    });

    it('accepts the query with or without its leading "?"', () => {
      const { path, query } = signed();
      expect(signer.verify(path, query.slice(1), NOW).artifactId).toBe('a1b2');
    });

    it('leaves absent artifact claims undefined', () => {
      const { path, query } = signed({});
      const claims = signer.verify(path, query, NOW);
      expect(claims.artifactId).toBeUndefined();
      expect(claims.artifactName).toBeUndefined();
    });

    it('is valid up to and including the expiry second, and 403 one millisecond later', () => {
      const { path, query, expires } = signed();
      expect(() => signer.verify(path, query, expires)).not.toThrow();
      const later = new Date(expires.getTime() + 1);
      expect(codeOf(() => signer.verify(path, query, later))).toBe(FORBIDDEN);
      expect(messageOf(() => signer.verify(path, query, later))).toContain('expired');
    });

    it('verifies with another signer holding the same secret (replicas, restarts)', () => {
      const { path, query } = signed();
      const other = new ArtifactLinkSigner(Buffer.from(SECRET), new URL('https://other.example'), 1);
      expect(other.verify(path, query, NOW).key).toBe(cacheKeyFor(ORIGIN));
    });

    it('rejects a link signed with another secret: 403', () => {
      const { path, query } = signed();
      const other = new ArtifactLinkSigner(
        Buffer.from('another-secret-another-secret-xx'),
        GATEWAY,
        LIFETIME_MS,
      );
      expect(codeOf(() => other.verify(path, query, NOW))).toBe(FORBIDDEN);
      expect(messageOf(() => other.verify(path, query, NOW))).toContain('signature');
    });

    describe('tampering', () => {
      it('another valid-looking key in the path: 403', () => {
        const { query } = signed();
        const otherKey = cacheKeyFor(
          new URL('https://hosted-mender-artifacts.s3.amazonaws.com/tenant/other'),
        );
        expect(codeOf(() => signer.verify(`${ARTIFACT_ROUTE}${otherKey}`, query, NOW))).toBe(FORBIDDEN);
      });

      it.each([
        [
          'upper-case key',
          (p: string) => p.toUpperCase().replace(ARTIFACT_ROUTE.toUpperCase(), ARTIFACT_ROUTE),
        ],
        ['short key', (p: string) => p.slice(0, -1)],
        ['long key', (p: string) => `${p}0`],
        ['trailing slash', (p: string) => `${p}/`],
        ['traversal', (p: string) => `${ARTIFACT_ROUTE}../${p.slice(ARTIFACT_ROUTE.length + 3)}`],
        ['other route', (p: string) => p.replace('/gateway/', '/gatewax/')],
        ['proxy route', (p: string) => p.replace(ARTIFACT_ROUTE, PROXY_ROUTE)],
      ])('a malformed path (%s): 400', (_name, mutate) => {
        const { path, query } = signed();
        expect(codeOf(() => signer.verify(mutate(path), query, NOW))).toBe(MALFORMED);
      });

      it('a later expiry: 403 (signature)', () => {
        const { path, query } = signed();
        const tampered = withParam(query, 'x-men-expire', '2099-01-01T00:00:00Z');
        expect(codeOf(() => signer.verify(path, tampered, NOW))).toBe(FORBIDDEN);
        expect(messageOf(() => signer.verify(path, tampered, NOW))).toContain('signature');
      });

      it.each([
        '2024-05-01T12:30:00.000Z',
        '2024-05-01 12:30:00Z',
        '2024-05-01T12:30:00+00:00',
        '1714566600',
        'soon',
        '',
      ])('a garbled expiry %j: 400', (value) => {
        const { path, query } = signed();
        expect(codeOf(() => signer.verify(path, withParam(query, 'x-men-expire', value), NOW))).toBe(
          MALFORMED,
        );
      });

      it('another origin: 403 (signature)', () => {
        const { path, query } = signed();
        const evil = Buffer.from(PRESIGNED.replace('hosted-mender-artifacts', 'evil')).toString('base64url');
        expect(codeOf(() => signer.verify(path, withParam(query, 'x-men-origin', evil), NOW))).toBe(
          FORBIDDEN,
        );
      });

      it.each([
        ['not a URL', Buffer.from('no url here').toString('base64url')],
        ['empty', ''],
        ['not base64url', '!!!'],
      ])('an origin that is %s: 400', (_name, value) => {
        const { path, query } = signed();
        expect(codeOf(() => signer.verify(path, withParam(query, 'x-men-origin', value), NOW))).toBe(
          MALFORMED,
        );
      });

      it.each([
        ['changed artifact id', 'x-men-artifact-id', 'a1b3'],
        ['removed artifact id', 'x-men-artifact-id', undefined],
        ['changed artifact name', 'x-men-artifact-name', 'release-2'],
        ['removed artifact name', 'x-men-artifact-name', undefined],
      ])('%s: 403', (_name, param, value) => {
        const { path, query } = signed();
        expect(codeOf(() => signer.verify(path, withParam(query, param, value), NOW))).toBe(FORBIDDEN);
      });

      it('an artifact parameter added to a link signed without it: 403', () => {
        const { path, query } = signed({});
        const added = `${query.replace(/&x-men-signature=.*$/, '')}&x-men-artifact-id=x&${/x-men-signature=.*$/.exec(query)![0]}`;
        expect(codeOf(() => signer.verify(path, added, NOW))).toBe(FORBIDDEN);
      });

      it('ignores unknown parameters (devices may append their own)', () => {
        const { path, query } = signed();
        expect(signer.verify(path, `${query}&utm=1`, NOW).artifactId).toBe('a1b2');
      });

      it('a changed, shortened or lengthened signature: 403', () => {
        const { path, query } = signed();
        const signature = new URLSearchParams(query).get('x-men-signature')!;
        const flipped = (signature[0] === 'A' ? 'B' : 'A') + signature.slice(1);
        for (const value of [flipped, signature.slice(0, -1), `${signature}A`, signature.slice(0, 22)]) {
          expect(
            codeOf(() => signer.verify(path, withParam(query, 'x-men-signature', value), NOW)),
            value,
          ).toBe(FORBIDDEN);
        }
      });

      it('a signature differing only in the unused low bits of its last character: 403', () => {
        // 32 bytes take 43 base64 characters; the last one carries 2 padding bits a lenient
        // decoder ignores. The link as signed is the only valid spelling.
        const { path, query } = signed();
        const signature = new URLSearchParams(query).get('x-men-signature')!;
        const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
        const last = alphabet.indexOf(signature.at(-1)!);
        const twin = signature.slice(0, -1) + alphabet[last ^ 1]!;
        expect(Buffer.from(twin, 'base64url')).toEqual(Buffer.from(signature, 'base64url'));
        expect(codeOf(() => signer.verify(path, withParam(query, 'x-men-signature', twin), NOW))).toBe(
          FORBIDDEN,
        );
      });

      it.each(['a+b', 'a/b', 'a=b', 'x'.repeat(42) + '='])(
        'a signature with characters outside base64url (%j): 400',
        (value) => {
          const { path, query } = signed();
          expect(codeOf(() => signer.verify(path, withParam(query, 'x-men-signature', value), NOW))).toBe(
            MALFORMED,
          );
        },
      );

      it.each(['x-men-expire', 'x-men-origin', 'x-men-signature'])('missing %s: 400', (param) => {
        const { path, query } = signed();
        expect(codeOf(() => signer.verify(path, withParam(query, param, undefined), NOW))).toBe(MALFORMED);
      });

      it.each([
        'x-men-expire',
        'x-men-origin',
        'x-men-artifact-id',
        'x-men-artifact-name',
        'x-men-signature',
      ])('repeated %s, even with the same value: 400', (param) => {
        const { path, query } = signed();
        const value = new URLSearchParams(query).get(param)!;
        const twice = `${query}&${param}=${encodeURIComponent(value)}`;
        expect(codeOf(() => signer.verify(path, twice, NOW))).toBe(MALFORMED);
        const first = `?${param}=${encodeURIComponent(value)}&${query.slice(1)}`;
        expect(codeOf(() => signer.verify(path, first, NOW))).toBe(MALFORMED);
      });
    });

    describe('validation order: malformed 400, then expired 403, then signature 403', () => {
      it('a malformed link that is also expired is 400', () => {
        const { path, query, expires } = signed();
        const later = new Date(expires.getTime() + 60_000);
        expect(codeOf(() => signer.verify(path, withParam(query, 'x-men-signature', undefined), later))).toBe(
          MALFORMED,
        );
      });

      it('an expired link with a bad signature is reported as expired', () => {
        const { path, query, expires } = signed();
        const later = new Date(expires.getTime() + 60_000);
        const tampered = withParam(query, 'x-men-artifact-id', 'other');
        expect(codeOf(() => signer.verify(path, tampered, later))).toBe(FORBIDDEN);
        expect(messageOf(() => signer.verify(path, tampered, later))).toContain('expired');
      });
    });

    it('binds the key to the origin: a correctly signed link whose key is not the origin’s is 400', () => {
      // Only a holder of the secret can produce this; it must still not re-point an entry.
      const otherKey = cacheKeyFor(new URL('https://hosted-mender-artifacts.s3.amazonaws.com/tenant/other'));
      const path = `${ARTIFACT_ROUTE}${otherKey}`;
      const params = new URLSearchParams();
      params.set('x-men-expire', '2024-05-01T12:30:00Z');
      params.set('x-men-origin', Buffer.from(PRESIGNED).toString('base64url'));
      const canonical = `GET\n${path}\nx-men-expire=${params.get('x-men-expire')!}\nx-men-origin=${params.get('x-men-origin')!}\n`;
      params.set('x-men-signature', createHmac('sha256', SECRET).update(canonical).digest('base64url'));
      expect(codeOf(() => signer.verify(path, params.toString(), NOW))).toBe(MALFORMED);
      expect(messageOf(() => signer.verify(path, params.toString(), NOW))).toContain('origin');
    });
  });

  describe('properties', () => {
    const originArb = fc.webUrl({ withQueryParameters: true, withFragments: false }).map((u) => new URL(u));
    const artifactArb = fc.record(
      { id: fc.string({ maxLength: 40 }), name: fc.string({ unit: 'grapheme', maxLength: 40 }) },
      { requiredKeys: [] },
    );
    const nowArb = fc.date({
      min: new Date('2000-01-01T00:00:00Z'),
      max: new Date('2200-01-01T00:00:00Z'),
      noInvalidDate: true,
    });
    const lifetimeArb = fc.integer({ min: 1_000, max: 7 * 24 * 3_600_000 });

    /** How links were built before signText: URLSearchParams and URL setters (the reference). */
    function referenceLink(
      s: { gateway: URL; lifetime: number },
      origin: URL,
      artifact: { id?: string; name?: string },
      now: Date,
    ): string {
      const key = cacheKeyFor(origin);
      const expires = new Date(Math.floor((now.getTime() + s.lifetime) / 1000) * 1000);
      const url = new URL(s.gateway.origin);
      url.pathname = s.gateway.pathname.replace(/\/+$/, '') + ARTIFACT_ROUTE + key;
      const params = new URLSearchParams();
      params.set('x-men-expire', expires.toISOString().replace(/\.\d{3}Z$/, 'Z'));
      params.set('x-men-origin', Buffer.from(origin.href).toString('base64url'));
      if (artifact.id !== undefined) params.set('x-men-artifact-id', artifact.id);
      if (artifact.name !== undefined) params.set('x-men-artifact-name', artifact.name);
      let text = `GET\n${ARTIFACT_ROUTE}${key}\n`;
      for (const name of ['x-men-expire', 'x-men-origin', 'x-men-artifact-id', 'x-men-artifact-name'])
        if (params.get(name) !== null) text += `${name}=${params.get(name)!}\n`;
      params.set('x-men-signature', createHmac('sha256', SECRET).update(text).digest('base64url'));
      url.search = params.toString();
      return url.href;
    }

    it('signText builds the same link, byte for byte, as URLSearchParams and URL did', () => {
      const prefixArb = fc.constantFrom('', '/', '/gw', '/gw/', '/a b/ü');
      fc.assert(
        fc.property(
          originArb,
          artifactArb,
          nowArb,
          lifetimeArb,
          prefixArb,
          (origin, artifact, now, lifetime, prefix) => {
            const gateway = new URL(`https://gateway.local:8443${prefix}`);
            const s = new ArtifactLinkSigner(SECRET, gateway, lifetime);
            const { href, expire } = s.signText(origin, artifact, now);
            expect(href).toBe(referenceLink({ gateway, lifetime }, origin, artifact, now));
            expect(s.sign(origin, artifact, now).url.href).toBe(href);
            expect(new URL(href).searchParams.get('x-men-expire')).toBe(expire);
          },
        ),
      );
    });

    it('any signed link verifies at any moment up to its expiry', () => {
      fc.assert(
        fc.property(
          originArb,
          artifactArb,
          nowArb,
          lifetimeArb,
          fc.double({ min: 0, max: 1, noNaN: true }),
          (origin, artifact, now, lifetime, f) => {
            const s = new ArtifactLinkSigner(SECRET, GATEWAY, lifetime);
            const { url, expires } = s.sign(origin, artifact, now);
            const at = new Date(now.getTime() + Math.floor(f * (expires.getTime() - now.getTime())));
            const claims = s.verify(url.pathname, url.search, at);
            expect(claims.origin.href).toBe(origin.href);
            expect(claims.key).toBe(cacheKeyFor(origin));
            expect(claims.artifactId).toBe(artifact.id);
            expect(claims.artifactName).toBe(artifact.name);
          },
        ),
      );
    });

    /**
     * Changing a hex digit of a percent-escape to its other case (`%2F` → `%2f`) spells the
     * same query (RFC 3986 §6.2.2.1); every other single-character change is a different link.
     */
    function isEquivalentSpelling(text: string, index: number, replacement: string): boolean {
      const original = text[index]!;
      if (original.toLowerCase() !== replacement.toLowerCase() || !/[0-9a-f]/i.test(original)) return false;
      return text[index - 1] === '%' || text[index - 2] === '%';
    }

    const printable = fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c));

    it('any single-character change of the query fails verification', () => {
      fc.assert(
        fc.property(originArb, artifactArb, fc.nat(), printable, (origin, artifact, at, replacement) => {
          const { url } = signer.sign(origin, artifact, NOW);
          const query = url.search.slice(1);
          const index = at % query.length;
          fc.pre(query[index] !== replacement && !isEquivalentSpelling(query, index, replacement));
          const mutated = query.slice(0, index) + replacement + query.slice(index + 1);
          expect([FORBIDDEN, MALFORMED]).toContain(codeOf(() => signer.verify(url.pathname, mutated, NOW)));
        }),
        { numRuns: 2_000 },
      );
    });

    it('every single-character change of the signature fails verification (exhaustive)', () => {
      const { path, query } = signed();
      const signature = new URLSearchParams(query).get('x-men-signature')!;
      const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
      let checked = 0;
      for (let i = 0; i < signature.length; i++) {
        for (const c of alphabet) {
          if (c === signature[i]) continue;
          const mutated = signature.slice(0, i) + c + signature.slice(i + 1);
          expect(codeOf(() => signer.verify(path, withParam(query, 'x-men-signature', mutated), NOW))).toBe(
            FORBIDDEN,
          );
          checked++;
        }
      }
      expect(checked).toBe(43 * 63);
    });

    it('any single-character change of the path fails verification', () => {
      fc.assert(
        fc.property(originArb, fc.nat(), printable, (origin, at, replacement) => {
          const { url } = signer.sign(origin, {}, NOW);
          const path = url.pathname;
          const index = at % path.length;
          fc.pre(path[index] !== replacement);
          const mutated = path.slice(0, index) + replacement + path.slice(index + 1);
          expect([FORBIDDEN, MALFORMED]).toContain(codeOf(() => signer.verify(mutated, url.search, NOW)));
        }),
        { numRuns: 1_000 },
      );
    });
  });
});

describe('proxy links (docs/protocol.md §4.3)', () => {
  it('embeds the original URL byte-exact and decodes it back', () => {
    const link = proxyLink(GATEWAY, PRESIGNED);
    expect(link.origin).toBe('https://gateway.local:8443');
    expect(link.pathname.startsWith(PROXY_ROUTE)).toBe(true);
    expect(link.search).toBe('');
    const decoded = decodeProxyLink(link.pathname);
    expect(decoded.href).toBe(PRESIGNED);
    // The presigned query, encoded escapes and all, is untouched.
    expect(decoded.search).toBe(PRESIGNED.slice(PRESIGNED.indexOf('?')));
  });

  it('keeps a GatewayURL path prefix', () => {
    const link = proxyLink(new URL('https://edge.example/mender/'), PRESIGNED);
    expect(link.pathname.startsWith(`/mender${PROXY_ROUTE}`)).toBe(true);
    expect(decodeProxyLink(link.pathname.slice('/mender'.length)).href).toBe(PRESIGNED);
  });

  it('round-trips any URL in its parsed form', () => {
    fc.assert(
      fc.property(fc.webUrl({ withQueryParameters: true, withFragments: true }), (raw) => {
        const href = new URL(raw).href;
        expect(decodeProxyLink(proxyLink(GATEWAY, href).pathname).href).toBe(href);
      }),
    );
  });

  it.each([
    ['another route', `${ARTIFACT_ROUTE}${'a'.repeat(64)}`],
    ['nothing encoded', PROXY_ROUTE],
    ['characters outside base64url', `${PROXY_ROUTE}aHR0cHM6Ly9h+Lw==`],
    ['a sub-path', `${PROXY_ROUTE}aHR0cHM6Ly9hLmV4YW1wbGUv/x`],
    ['not a URL', `${PROXY_ROUTE}${Buffer.from('just text').toString('base64url')}`],
  ])('rejects %s: 400', (_name, path) => {
    expect(codeOf(() => decodeProxyLink(path))).toBe(MALFORMED);
  });
});
