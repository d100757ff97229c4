import { describe, expect, it } from 'vitest';
import { checkStorageTarget } from '../../../src/core/artifacts/storage-target.js';
import { parseStorageUrl } from '../../../src/core/artifacts/storage-url.js';

const policy = {
  whitelist: ['s3.amazonaws.com', 'mender.example.com'],
  upstream: new URL('https://mender.example.com'),
};
const PRESIGNED =
  'https://bucket.s3.amazonaws.com/t/a%20b?X-Amz-Credential=AK%2F20261122%2Fus-east-1&X-Amz-Signature=ab12';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    return (err as { code?: string }).code;
  }
}

describe('parseStorageUrl', () => {
  it('accepts a presigned URL and keeps its path and query byte-exact', () => {
    const url = parseStorageUrl(PRESIGNED);
    expect(url.pathname + url.search).toBe(PRESIGNED.slice('https://bucket.s3.amazonaws.com'.length));
  });

  it.each([
    ['a backslash', 'https://bucket.s3.amazonaws.com/t\\a'],
    ['a dot segment', 'https://bucket.s3.amazonaws.com/t/../a'],
    ['an encoded dot segment', 'https://bucket.s3.amazonaws.com/t/%2E%2e/a'],
    ['a backslash before the authority ends', 'https://bucket.s3.amazonaws.com\\@evil.test/a'],
    ['a character the parser would encode', 'https://bucket.s3.amazonaws.com/t/a b'],
    ['credentials', 'https://user:pw@bucket.s3.amazonaws.com/a'],
    ['another scheme', 'file:///etc/passwd'],
    ['text', 'not a url'],
  ])('refuses %s with MGW_LINK_MALFORMED', (_name, raw) => {
    expect(codeOf(() => parseStorageUrl(raw))).toBe('MGW_LINK_MALFORMED');
  });
});

describe('checkStorageTarget', () => {
  it('admits whitelisted storage and the upstream artifact route, returning the same object', () => {
    const url = new URL(PRESIGNED);
    expect(checkStorageTarget(url, policy)).toBe(url);
    expect(
      codeOf(() =>
        checkStorageTarget(new URL('https://mender.example.com/api/devices/v1/gateway/artifacts/k'), policy),
      ),
    ).toBeUndefined();
    expect(
      codeOf(() => checkStorageTarget(new URL('https://mender.example.com/storage/bucket/a'), policy)),
    ).toBeUndefined();
  });

  it.each([
    ['a host off the whitelist', 'https://evil.test/a', 'MGW_NOT_WHITELISTED'],
    [
      "the upstream's management API, its host whitelisted",
      'https://mender.example.com/api/management/v1/useradm/users',
      'MGW_LINK_FORBIDDEN',
    ],
    [
      "the upstream's device API",
      'https://mender.example.com/api/devices/v1/deployments/device/deployments/next',
      'MGW_LINK_FORBIDDEN',
    ],
    [
      'an encoded backslash',
      'https://mender.example.com/api/devices/v1/gateway/artifacts/..%5cmanagement',
      'MGW_LINK_MALFORMED',
    ],
    ['an encoded slash', 'https://bucket.s3.amazonaws.com/a/..%2F..%2Fb', 'MGW_LINK_MALFORMED'],
  ])('refuses %s', (_name, href, code) => {
    expect(codeOf(() => checkStorageTarget(new URL(href), policy))).toBe(code);
  });
});
