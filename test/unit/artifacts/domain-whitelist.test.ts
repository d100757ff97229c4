import { describe, expect, it } from 'vitest';
import { isHostWhitelisted, normaliseWhitelistEntry } from '../../../src/core/artifacts/domain-whitelist.js';

/** The documented hosted-Mender whitelist (docs/protocol.md §4.2). */
const HOSTED = ['s3.amazonaws.com', 'cloudflarestorage.com', 'mender.blob.core.windows.net'];

describe('isHostWhitelisted (docs/protocol.md §4.2)', () => {
  it.each([
    ['s3.amazonaws.com', HOSTED],
    ['hosted-mender-artifacts.s3.amazonaws.com', HOSTED],
    ['a.b.c.s3.amazonaws.com', HOSTED],
    ['c271964d41749feb10da762816c952ee.r2.cloudflarestorage.com', HOSTED],
    ['mender.blob.core.windows.net', HOSTED],
    ['s3.docker.mender.io', ['s3.docker.mender.io']],
  ])('admits %s (equal or subdomain)', (host, whitelist) => {
    expect(isHostWhitelisted(host, whitelist)).toBe(true);
  });

  it.each([
    // Look-alikes: a substring or suffix match would admit all of these.
    ['s3.amazonaws.com.evil.test'],
    ['evil-s3.amazonaws.com'],
    ['xs3.amazonaws.com'],
    ['evil-s3.amazonaws.com.attacker.tld'],
    ['amazonaws.com'],
    ['s3.amazonaws.co'],
    ['s3-amazonaws.com'],
    ['s3.amazonaws.comm'],
    ['notcloudflarestorage.com'],
    ['other.blob.core.windows.net'],
    ['evil.test'],
  ])('rejects look-alike %s', (host) => {
    expect(isHostWhitelisted(host, HOSTED)).toBe(false);
  });

  it('admits nothing with an empty whitelist (fail closed)', () => {
    expect(isHostWhitelisted('s3.amazonaws.com', [])).toBe(false);
    expect(isHostWhitelisted('localhost', [])).toBe(false);
  });

  it('skips entries that normalise to nothing instead of admitting everything', () => {
    for (const entry of ['', ' ', '.', '*.', '*', '..']) {
      expect(isHostWhitelisted('evil.test', [entry]), JSON.stringify(entry)).toBe(false);
    }
  });

  it('rejects an empty host', () => {
    expect(isHostWhitelisted('', HOSTED)).toBe(false);
    expect(isHostWhitelisted('.', HOSTED)).toBe(false);
  });

  it('compares case-insensitively, on both sides', () => {
    expect(isHostWhitelisted('Hosted-Mender-Artifacts.S3.AmazonAWS.com', HOSTED)).toBe(true);
    expect(isHostWhitelisted('bucket.s3.amazonaws.com', ['S3.AMAZONAWS.COM'])).toBe(true);
    expect(isHostWhitelisted('EVIL-S3.AMAZONAWS.COM', ['s3.amazonaws.com'])).toBe(false);
  });

  it('ignores one trailing dot (fully-qualified form) on host and entry', () => {
    expect(isHostWhitelisted('bucket.s3.amazonaws.com.', HOSTED)).toBe(true);
    expect(isHostWhitelisted('bucket.s3.amazonaws.com', ['s3.amazonaws.com.'])).toBe(true);
    expect(isHostWhitelisted('s3.amazonaws.com.evil.test.', HOSTED)).toBe(false);
  });

  it('treats `*.` and `.` entry prefixes as the plain domain', () => {
    for (const entry of ['*.s3.amazonaws.com', '.s3.amazonaws.com']) {
      expect(isHostWhitelisted('bucket.s3.amazonaws.com', [entry]), entry).toBe(true);
      expect(isHostWhitelisted('s3.amazonaws.com', [entry]), entry).toBe(true);
      expect(isHostWhitelisted('evil-s3.amazonaws.com', [entry]), entry).toBe(false);
    }
  });

  it('does not treat a `*` inside an entry as a wildcard', () => {
    expect(isHostWhitelisted('bucket.s3.amazonaws.com', ['bucket.*.amazonaws.com'])).toBe(false);
  });

  it('matches IP literals exactly; IPv6 hostnames match without their brackets', () => {
    expect(isHostWhitelisted('10.0.0.5', ['10.0.0.5'])).toBe(true);
    expect(isHostWhitelisted('110.0.0.5', ['10.0.0.5'])).toBe(false);
    expect(isHostWhitelisted(new URL('http://[::1]:8080/').hostname, ['::1'])).toBe(true);
  });

  it('takes the hostname only: a port in the URL does not matter', () => {
    const url = new URL('https://bucket.s3.amazonaws.com:8443/a/b');
    expect(isHostWhitelisted(url.hostname, HOSTED)).toBe(true);
  });
});

describe('normaliseWhitelistEntry', () => {
  it.each([
    ['S3.AmazonAWS.com', 's3.amazonaws.com'],
    ['  s3.amazonaws.com  ', 's3.amazonaws.com'],
    ['*.s3.amazonaws.com', 's3.amazonaws.com'],
    ['.s3.amazonaws.com', 's3.amazonaws.com'],
    ['s3.amazonaws.com.', 's3.amazonaws.com'],
    ['*.', ''],
    ['.', ''],
  ])('%j → %j', (entry, expected) => {
    expect(normaliseWhitelistEntry(entry)).toBe(expected);
  });
});
