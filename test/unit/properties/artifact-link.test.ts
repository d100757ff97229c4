import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ARTIFACT_ROUTE,
  ArtifactLinkSigner,
  decodeProxyLink,
  PROXY_ROUTE,
} from '../../../src/core/artifacts/artifact-link.js';
import { isCacheKey } from '../../../src/core/artifacts/cache-key.js';
import { isGatewayError } from '../../../src/core/errors.js';

/**
 * Properties of the link signer that test/unit/artifacts/artifact-link.test.ts
 * does not state yet (it has: round trip up to expiry, any one-character change of query, path or
 * signature fails). Here: hostile input never escapes as anything but a 400/403 GatewayError, a
 * link is bound to its secret, expiry is final, and what a device may legitimately do to a link
 * (append its own parameters) keeps it valid.
 */

const GATEWAY = new URL('https://gateway.local:8443');
const LIFETIME_MS = 3_600_000;
const NOW = new Date('2024-05-01T12:00:00.000Z');
const OUTCOMES = new Set(['MGW_LINK_MALFORMED', 'MGW_LINK_FORBIDDEN']);

const secretArb = fc.uint8Array({ minLength: 1, maxLength: 64 }).map((bytes) => Buffer.from(bytes));
const originArb = fc.webUrl({ withQueryParameters: true, withFragments: false }).map((u) => new URL(u));

/** Whatever verify() throws must be one of the two answers a device may get (400, 403). */
function outcome(fn: () => unknown): 'valid' | 'MGW_LINK_MALFORMED' | 'MGW_LINK_FORBIDDEN' {
  try {
    fn();
    return 'valid';
  } catch (err) {
    if (!isGatewayError(err) || !OUTCOMES.has(err.code)) throw err;
    return err.code as 'MGW_LINK_MALFORMED' | 'MGW_LINK_FORBIDDEN';
  }
}

/** Link-shaped text: the route, something key-like, and x-men-* parameters with hostile values. */
const hostileLinkArb = fc
  .tuple(
    fc.oneof(
      fc.constant(ARTIFACT_ROUTE),
      fc.constant(PROXY_ROUTE),
      fc.string({ maxLength: 40 }).map((s) => `/${s}`),
    ),
    fc.oneof(
      fc.stringMatching(/^[0-9a-f]{64}$/),
      fc.stringMatching(/^[0-9a-fA-F]{60,68}$/),
      fc.string({ unit: 'binary', maxLength: 80 }),
    ),
    fc.array(
      fc.tuple(
        fc.constantFrom(
          'x-men-expire',
          'x-men-origin',
          'x-men-signature',
          'x-men-artifact-id',
          'x-men-artifact-name',
          'other',
        ),
        fc.oneof(
          fc.string({ unit: 'binary', maxLength: 60 }),
          fc
            .date({ noInvalidDate: false })
            .map((d) => (Number.isNaN(d.getTime()) ? 'Invalid' : d.toISOString())),
          fc.string({ maxLength: 60 }).map((s) => Buffer.from(s).toString('base64url')),
        ),
      ),
      { maxLength: 8 },
    ),
  )
  .map(([route, key, params]) => ({
    path: route + key,
    query: params.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&'),
  }));

describe('ArtifactLinkSigner.verify on hostile input', () => {
  const signer = new ArtifactLinkSigner(
    Buffer.from('a-test-secret-of-32-bytes-length'),
    GATEWAY,
    LIFETIME_MS,
  );

  it('answers any path and query with claims, 400 or 403, never another error', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary', maxLength: 200 }),
        fc.string({ unit: 'binary', maxLength: 400 }),
        (path, query) => {
          outcome(() => signer.verify(path, query, NOW));
        },
      ),
      { numRuns: 2_000 },
    );
  });

  it('answers link-shaped hostile input with 400 or 403, and only ever returns a 64-hex key', () => {
    fc.assert(
      fc.property(hostileLinkArb, ({ path, query }) => {
        let key: string | undefined;
        const result = outcome(() => (key = signer.verify(path, query, NOW).key));
        if (result === 'valid') expect(isCacheKey(key ?? '')).toBe(true);
        // Without the secret nobody produces a valid link by chance.
        expect(result).not.toBe('valid');
      }),
      { numRuns: 2_000 },
    );
  });

  it('decodes any proxy link to a URL or refuses it with 400, never another error', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (tail) => {
        try {
          decodeProxyLink(PROXY_ROUTE + tail);
        } catch (err) {
          expect(isGatewayError(err) && err.code === 'MGW_LINK_MALFORMED').toBe(true);
        }
      }),
      { numRuns: 1_000 },
    );
  });
});

describe('ArtifactLinkSigner: secrets, expiry, appended parameters', () => {
  it('never accepts a link signed with another secret (403), for any two different secrets', () => {
    fc.assert(
      fc.property(secretArb, secretArb, originArb, (mine, theirs, origin) => {
        fc.pre(!mine.equals(theirs));
        const forged = new ArtifactLinkSigner(theirs, GATEWAY, LIFETIME_MS).sign(origin, {}, NOW).url;
        const verifier = new ArtifactLinkSigner(mine, GATEWAY, LIFETIME_MS);
        expect(outcome(() => verifier.verify(forged.pathname, forged.search, NOW))).toBe(
          'MGW_LINK_FORBIDDEN',
        );
      }),
      { numRuns: 500 },
    );
  });

  it('refuses every replay after expiry (403), however long after, and accepts it up to the expiry second', () => {
    fc.assert(
      fc.property(
        secretArb,
        originArb,
        fc.integer({ min: 1_000, max: 30 * 24 * 3_600_000 }),
        fc.integer({ min: 1, max: 10 * 365 * 24 * 3_600_000 }),
        (secret, origin, lifetime, lateBy) => {
          const signer = new ArtifactLinkSigner(secret, GATEWAY, lifetime);
          const { url, expires } = signer.sign(origin, {}, NOW);
          expect(outcome(() => signer.verify(url.pathname, url.search, expires))).toBe('valid');
          const replayAt = new Date(expires.getTime() + lateBy);
          expect(outcome(() => signer.verify(url.pathname, url.search, replayAt))).toBe('MGW_LINK_FORBIDDEN');
        },
      ),
      { numRuns: 500 },
    );
  });

  it('stays valid when a device appends parameters of its own, anywhere in the query', () => {
    const nameArb = fc.stringMatching(/^[a-z][a-z0-9_]{0,12}$/).filter((n) => !n.startsWith('x-men-'));
    fc.assert(
      fc.property(
        originArb,
        fc.array(fc.tuple(nameArb, fc.string({ maxLength: 20 })), { maxLength: 5 }),
        fc.nat(),
        (origin, extra, at) => {
          const signer = new ArtifactLinkSigner(Buffer.alloc(32, 9), GATEWAY, LIFETIME_MS);
          const { url } = signer.sign(origin, { id: 'a1', name: 'release-1' }, NOW);
          const params = [...new URLSearchParams(url.search)];
          const added = extra.map(([k, v]) => [k, v] as [string, string]);
          const index = params.length === 0 ? 0 : at % (params.length + 1);
          const query = new URLSearchParams([
            ...params.slice(0, index),
            ...added,
            ...params.slice(index),
          ]).toString();
          expect(outcome(() => signer.verify(url.pathname, `?${query}`, NOW))).toBe('valid');
        },
      ),
      { numRuns: 500 },
    );
  });

  it('refuses a link whose signed parameter is repeated with another value (parameter pollution): 400', () => {
    fc.assert(
      fc.property(
        originArb,
        fc.constantFrom(
          'x-men-expire',
          'x-men-origin',
          'x-men-signature',
          'x-men-artifact-id',
          'x-men-artifact-name',
        ),
        fc.string({ maxLength: 30 }),
        (origin, name, value) => {
          const signer = new ArtifactLinkSigner(Buffer.alloc(32, 3), GATEWAY, LIFETIME_MS);
          const { url } = signer.sign(origin, { id: 'a1', name: 'release-1' }, NOW);
          const polluted = `${url.search}&${name}=${encodeURIComponent(value)}`;
          expect(outcome(() => signer.verify(url.pathname, polluted, NOW))).toBe('MGW_LINK_MALFORMED');
        },
      ),
      { numRuns: 300 },
    );
  });
});
