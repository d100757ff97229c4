import { createHash } from 'node:crypto';

/**
 * The cache key of an artifact (docs/protocol.md §4.5): SHA-256 of the storage host and path,
 * never of the presigned query, which differs on every poll. Host is lower-cased with its
 * port; the path is taken byte-for-byte as sent (no decoding), and the two are joined with
 * a separator no host can contain, so `host + path` concatenations cannot collide (a cache-key advisory of
 * fastify/fastify-reply-from, pinned in its `test/fix-GHSA-*.test.js`).
 */
export function cacheKeyFor(url: URL): string {
  return createHash('sha256')
    .update(`${url.protocol}//${url.host.toLowerCase()}\n${url.pathname}`)
    .digest('hex');
}

// The key's shape belongs to the cache's layout on disk; links check keys with the same test.
export { isCacheKey } from '../cache/cache-layout.js';
