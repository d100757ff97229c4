import { describe, expect, it } from 'vitest';
import { generateKeyPairSync } from 'node:crypto';
import fc from 'fast-check';
import { identityCacheKey } from '../../../src/core/mtls/preauthorizer.js';

/** The preauthorization cache key (docs/protocol.md §3.5 "Caching"): one entry per (identity, key, tier). */
describe('identityCacheKey', () => {
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
  const pem = ec.export({ type: 'spki', format: 'pem' }).toString();
  const other = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    .publicKey.export({ type: 'spki', format: 'pem' })
    .toString();
  const key = (idData: Record<string, unknown>, pubkey = pem, tier?: string): string =>
    identityCacheKey({ idData, pubkey, tier });

  it('ignores the order of identity attributes (4.x clients serialise them in any order)', () => {
    expect(key({ mac: '02:00:00:00:00:01', sku: 'A-7', serial: '42' })).toBe(
      key({ serial: '42', sku: 'A-7', mac: '02:00:00:00:00:01' }),
    );
  });

  it('ignores PEM whitespace: CRLF, other line lengths, trailing spaces, no final newline', () => {
    const body = pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
    const variants = [
      pem.replace(/\n/g, '\r\n'),
      `-----BEGIN PUBLIC KEY-----\n${(body.match(/.{1,40}/g) ?? []).join('\n')}\n-----END PUBLIC KEY-----`,
      pem.split('\n').join('  \n'),
      `\n\n${pem}\n\n`,
    ];
    for (const variant of variants) expect(key({ mac: 'x' }, variant)).toBe(key({ mac: 'x' }));
  });

  it('sees the same RSA key in PKCS#1 and SPKI form as one key', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey;
    const spki = rsa.export({ type: 'spki', format: 'pem' }).toString();
    const pkcs1 = rsa.export({ type: 'pkcs1', format: 'pem' }).toString();
    expect(key({ mac: 'x' }, pkcs1)).toBe(key({ mac: 'x' }, spki));
  });

  it('tells different keys, identities, values and tiers apart', () => {
    const base = key({ mac: 'x' });
    expect(key({ mac: 'x' }, other)).not.toBe(base);
    expect(key({ mac: 'y' })).not.toBe(base);
    expect(key({ mac: 'x', sku: '1' })).not.toBe(base);
    expect(key({ mac: 1 })).not.toBe(key({ mac: '1' }));
    expect(key({ mac: 'x' }, pem, 'micro')).not.toBe(base);
    expect(key({ mac: 'x' }, pem, 'micro')).not.toBe(key({ mac: 'x' }, pem, 'standard'));
  });

  it('still gives a whitespace-insensitive key for text that is not a parsable key', () => {
    expect(key({ mac: 'x' }, 'not a\n key')).toBe(key({ mac: 'x' }, 'notakey'));
  });

  it('is order-insensitive for any identity (property)', () => {
    fc.assert(
      fc.property(
        fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }), fc.oneof(fc.string(), fc.integer())),
        (identity) => {
          const reversed = Object.fromEntries(Object.entries(identity).reverse());
          expect(key(reversed)).toBe(key(identity));
        },
      ),
    );
  });
});
