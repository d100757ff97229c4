import { describe, expect, it } from 'vitest';
import { generateKeyPairSync, sign } from 'node:crypto';
import { verifyAuthSignature } from '../../../src/core/mtls/auth-signature.js';
import { parseAuthRequest } from '../../../src/core/mtls/auth-request-interceptor.js';

/** `X-MEN-Signature` as the Mender clients make it (docs/protocol.md §2.1). */
describe('verifyAuthSignature', () => {
  const pairs = {
    rsa: generateKeyPairSync('rsa', { modulusLength: 2048 }),
    ec: generateKeyPairSync('ec', { namedCurve: 'P-256' }),
    ed25519: generateKeyPairSync('ed25519'),
  };
  const body = Buffer.from(
    '{"id_data":"{\\"mac\\":\\"02:00:00:00:00:01\\"}","pubkey":"…","tenant_token":""}\n',
  );

  describe.each(Object.entries(pairs))('%s', (type, pair) => {
    const pubkey = pair.publicKey.export({ type: 'spki', format: 'pem' }).toString();
    // RSA PKCS#1 v1.5 and ECDSA (DER) over SHA-256; Ed25519 over the raw body.
    const signature = sign(type === 'ed25519' ? null : 'sha256', body, pair.privateKey).toString('base64');

    it('accepts a signature over the exact body', () => {
      expect(verifyAuthSignature(body, pubkey, signature)).toBe(true);
    });

    it('refuses the same signature over a body changed by one byte', () => {
      const changed = Buffer.from(body);
      changed[changed.length - 1] = 0x20;
      expect(verifyAuthSignature(changed, pubkey, signature)).toBe(false);
    });

    it('refuses a signature made with another key', () => {
      const other = Object.values(pairs).find((p) => p !== pair)!;
      const otherPem = other.publicKey.export({ type: 'spki', format: 'pem' }).toString();
      expect(verifyAuthSignature(body, otherPem, signature)).toBe(false);
    });
  });

  it('accepts an RSA key given in PKCS#1 form', () => {
    const signature = sign('sha256', body, pairs.rsa.privateKey).toString('base64');
    expect(
      verifyAuthSignature(
        body,
        pairs.rsa.publicKey.export({ type: 'pkcs1', format: 'pem' }).toString(),
        signature,
      ),
    ).toBe(true);
  });

  it('is false, never a throw, for a garbage key or signature', () => {
    const pem = pairs.ec.publicKey.export({ type: 'spki', format: 'pem' }).toString();
    expect(verifyAuthSignature(body, 'not a key', 'AAAA')).toBe(false);
    expect(verifyAuthSignature(body, pem, '')).toBe(false);
    expect(verifyAuthSignature(body, pem, '%%% not base64 %%%')).toBe(false);
  });
});

describe('parseAuthRequest', () => {
  const pubkey = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    .publicKey.export({ type: 'spki', format: 'pem' })
    .toString();
  const body = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));

  it('returns the parsed identity, the pubkey and the tier', () => {
    expect(
      parseAuthRequest(body({ id_data: '{"mac":"m","sku":"s"}', pubkey, tenant_token: 't', tier: 'micro' })),
    ).toEqual({
      idData: { mac: 'm', sku: 's' },
      pubkey,
      tier: 'micro',
    });
    expect(parseAuthRequest(body({ id_data: '{"mac":"m"}', pubkey })).tier).toBeUndefined();
  });

  it.each([
    ['not JSON', Buffer.from('{')],
    ['an array', body([])],
    ['no id_data', body({ pubkey })],
    ['id_data as an object, not a string', body({ id_data: { mac: 'm' }, pubkey })],
    ['id_data that is not JSON', body({ id_data: 'mac=m', pubkey })],
    ['an empty identity', body({ id_data: '{}', pubkey })],
    ['no pubkey', body({ id_data: '{"mac":"m"}' })],
    ['a pubkey that is not PEM', body({ id_data: '{"mac":"m"}', pubkey: 'abc' })],
  ])('refuses %s with MGW_BAD_REQUEST', (_label, input) => {
    let error: unknown;
    try {
      parseAuthRequest(input);
    } catch (err) {
      error = err;
    }
    expect(error).toMatchObject({ code: 'MGW_BAD_REQUEST' });
  });
});
