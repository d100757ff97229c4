import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cacheKeyFor, isCacheKey } from '../../../src/core/artifacts/cache-key.js';

const key = (url: string): string => cacheKeyFor(new URL(url));

describe('cacheKeyFor (docs/protocol.md §4.5, docs/decisions.md §13)', () => {
  it('is 64 lower-case hex characters', () => {
    const k = key('https://bucket.s3.amazonaws.com/tenant/image');
    expect(k).toMatch(/^[0-9a-f]{64}$/);
    expect(isCacheKey(k)).toBe(true);
  });

  it('ignores the query: every poll brings a new presigned signature', () => {
    const base = 'https://bucket.s3.amazonaws.com/tenant/image-id';
    expect(key(`${base}?X-Amz-Signature=aaa&X-Amz-Date=20240101T000000Z`)).toBe(key(base));
    expect(key(`${base}?X-Amz-Signature=bbb`)).toBe(key(`${base}?X-Amz-Signature=ccc`));
  });

  it('ignores the fragment', () => {
    expect(key('https://h.example/a#x')).toBe(key('https://h.example/a'));
  });

  it('ignores host case (hostnames are case-insensitive)', () => {
    expect(key('https://Bucket.S3.AmazonAWS.com/a')).toBe(key('https://bucket.s3.amazonaws.com/a'));
  });

  it('keeps the path case: object keys are case-sensitive', () => {
    expect(key('https://h.example/Image')).not.toBe(key('https://h.example/image'));
  });

  it('differs for different hosts, ports, schemes and paths', () => {
    const keys = [
      'https://a.example/x',
      'https://b.example/x',
      'https://a.example:8443/x',
      'http://a.example/x',
      'https://a.example/y',
      'https://a.example/x/',
      'https://a.example/x%2Fy',
      'https://a.example/x/y',
    ].map(key);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('treats an explicit default port like no port (the URL parser drops it)', () => {
    expect(key('https://a.example:443/x')).toBe(key('https://a.example/x'));
  });

  it('cannot be made to collide by moving characters between host and path', () => {
    // Plain `host + path` concatenation would give "a.example/b.example/x" for both.
    expect(key('https://a.example/b.example/x')).not.toBe(key('https://a.example.b.example/x'));
    expect(key('https://a.example/b/x')).not.toBe(key('https://a.exampleb/x'));
    // Distinct (host, path) pairs never share a key.
    fc.assert(
      fc.property(fc.domain(), fc.webPath(), fc.domain(), fc.webPath(), (hostA, pathA, hostB, pathB) => {
        const a = new URL(`https://${hostA}${pathA}`);
        const b = new URL(`https://${hostB}${pathB}`);
        const same = a.host === b.host && a.pathname === b.pathname;
        expect(cacheKeyFor(a) === cacheKeyFor(b)).toBe(same);
      }),
    );
  });
});

describe('isCacheKey', () => {
  it.each([
    ['', false],
    ['a'.repeat(63), false],
    ['a'.repeat(65), false],
    ['A'.repeat(64), false],
    ['g'.repeat(64), false],
    [`../${'a'.repeat(61)}`, false],
    ['0'.repeat(64), true],
  ])('%j → %s', (value, ok) => {
    expect(isCacheKey(value)).toBe(ok);
  });
});
