import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  issueCa,
  normalizeSerialNumber,
  randomSerialNumber,
  SERIAL_NUMBER_OCTETS,
} from '../../../src/core/pki/index.js';

/** RFC 5280 §4.1.2.2: positive, at most 20 octets; we use exactly 16 with the top bit clear. */

describe('randomSerialNumber', () => {
  it('is 16 octets of upper-case hex, positive (top bit clear) and without a zero first octet', () => {
    for (let i = 0; i < 2000; i++) {
      const serial = randomSerialNumber();
      expect(serial).toMatch(/^[0-9A-F]{32}$/);
      const first = parseInt(serial.slice(0, 2), 16);
      expect(first).toBeGreaterThan(0);
      expect(first).toBeLessThan(0x80);
    }
    expect(SERIAL_NUMBER_OCTETS).toBe(16);
  });

  it('clears the top bit of the first octet', () => {
    expect(randomSerialNumber(() => Buffer.alloc(16, 0xff))).toBe('7F' + 'FF'.repeat(15));
  });

  it('draws again when the first octet would be zero, so DER needs exactly 16 octets', () => {
    const draws = [
      Buffer.from('80' + '00'.repeat(15), 'hex'),
      Buffer.from('00' + '11'.repeat(15), 'hex'),
      Buffer.from('01' + 'AB'.repeat(15), 'hex'),
    ];
    let calls = 0;
    const serial = randomSerialNumber((size) => {
      expect(size).toBe(16);
      const next = draws[calls++];
      if (next === undefined) throw new Error('too many draws');
      return Buffer.from(next);
    });
    expect(calls).toBe(3);
    expect(serial).toBe('01' + 'AB'.repeat(15));
  });

  it('does not repeat', () => {
    const serials = new Set(Array.from({ length: 5000 }, () => randomSerialNumber()));
    expect(serials.size).toBe(5000);
  });

  it('ends up in the certificate exactly as reported (Node and OpenSSL print the same hex)', async () => {
    const ca = await issueCa({ commonName: 'Serial Test CA' });
    const node = new X509Certificate(Buffer.from(ca.certificate.rawData));
    expect(node.serialNumber).toMatch(/^(?!00)[0-7][0-9A-F]{31}$/);
    // Node prints whole octets (a leading 0 when the first nibble is 0); compare canonical forms.
    expect(normalizeSerialNumber(ca.certificate.serialNumber)).toBe(normalizeSerialNumber(node.serialNumber));
  });
});

describe('normalizeSerialNumber', () => {
  it.each([
    ['0x00ab:cd:ef', 'ABCDEF'],
    ['00:AB:CD', 'ABCD'],
    ['abcd', 'ABCD'],
    [' 7F01 ', '7F01'],
    ['0', '0'],
    ['000', '0'],
  ])('%s → %s', (input, expected) => {
    expect(normalizeSerialNumber(input)).toBe(expected);
  });
});
