import { describe, expect, it } from 'vitest';
import { jwtSubject } from '../../../src/core/status/jwt-subject.js';
import { displayText } from '../../../src/core/status/display-text.js';
import { fakeJwt } from '../../support/unsigned-jwt.js';

describe('device JWT subject (display only)', () => {
  it('decodes the sub claim without verifying the token', () => {
    expect(jwtSubject(`Bearer ${fakeJwt({ sub: 'b3f1c0de-1' })}`)).toBe('b3f1c0de-1');
  });

  it('gives nothing for no, malformed, huge or sub-less tokens', () => {
    expect(jwtSubject(undefined)).toBeUndefined();
    expect(jwtSubject('Bearer ')).toBeUndefined();
    expect(jwtSubject('Basic dXNlcjpwYXNz')).toBeUndefined();
    expect(jwtSubject('Bearer a.b!.c')).toBeUndefined();
    expect(jwtSubject(`Bearer x.${Buffer.from('not json').toString('base64url')}.y`)).toBeUndefined();
    expect(jwtSubject(`Bearer ${fakeJwt({ sub: 42 })}`)).toBeUndefined();
    expect(jwtSubject(`Bearer ${fakeJwt({ sub: 'x'.repeat(20_000) })}`)).toBeUndefined();
  });

  it('shortens long subjects and neutralises control and bidi characters', () => {
    expect(Array.from(jwtSubject(`Bearer ${fakeJwt({ sub: 'é'.repeat(500) })}`)!)).toHaveLength(128);
    expect(displayText('a\u202eb\nc\u0000')).toBe('a\ufffdb\ufffdc\ufffd');
  });

  it('passes markup through as text: the page, not this, keeps it inert', () => {
    const sub = '<img src=x onerror=alert(1)>';
    expect(jwtSubject(`Bearer ${fakeJwt({ sub })}`)).toBe(sub);
  });
});
