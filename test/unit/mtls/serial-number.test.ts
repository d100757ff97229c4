import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { normaliseSerial } from '../../../src/core/mtls/serial-number.js';

/** Serial formats differ between tools; the blacklist must match them all (docs/protocol.md §9.10). */
describe('normaliseSerial', () => {
  it.each([
    ['0A1B2C', 'A1B2C'],
    ['0a1b2c', 'A1B2C'],
    ['0x0A1B2C', 'A1B2C'],
    ['0X0a1b2c', 'A1B2C'],
    ['0a:1b:2c', 'A1B2C'],
    ['0A 1B 2C', 'A1B2C'],
    ['0a-1b-2c', 'A1B2C'],
    ['00000A1B2C', 'A1B2C'],
    ['serial=0A1B2C', 'A1B2C'],
    ['SERIAL = 0A1B2C', 'A1B2C'],
    ['  0a1b2c\t', 'A1B2C'],
    ['00', '0'],
    ['0x0', '0'],
  ])('normalises %j to %j', (input, expected) => {
    expect(normaliseSerial(input)).toBe(expected);
  });

  it.each(['', '   ', '0x', 'serial=', 'xyz', '12G4', '0A1B2C # comment', '0x0x12', '::'])(
    'rejects %j',
    (input) => {
      expect(normaliseSerial(input)).toBeUndefined();
    },
  );

  it('gives Node’s X509Certificate.serialNumber form, minus leading zeros', () => {
    // Node prints whole octets in upper case, e.g. "01F3…" for a serial whose first octet is 0x01.
    expect(normaliseSerial('01F3A0')).toBe('1F3A0');
  });

  const hexDigits = fc
    .array(
      fc.integer({ min: 0, max: 15 }).map((n) => n.toString(16)),
      { minLength: 1, maxLength: 40 },
    )
    .map((d) => d.join(''));

  it('maps every spelling of the same number to the same value (property)', () => {
    fc.assert(
      fc.property(
        hexDigits,
        fc.array(fc.boolean(), { minLength: 40, maxLength: 40 }),
        fc.boolean(),
        fc.boolean(),
        fc.nat({ max: 6 }),
        (digits, upper, prefix, colons, zeros) => {
          const canonical = BigInt(`0x${digits}`).toString(16).toUpperCase();
          let spelled =
            '0'.repeat(zeros) +
            digits.replace(/./g, (c, i: number) => (upper[i] === true ? c.toUpperCase() : c));
          if (colons) {
            // Colons between octets, counted from the right as tools print them.
            const padded = spelled.length % 2 === 1 ? `0${spelled}` : spelled;
            spelled = (padded.match(/../g) ?? []).join(':');
          }
          if (prefix) spelled = `0x${spelled}`;
          expect(normaliseSerial(spelled)).toBe(canonical);
          expect(normaliseSerial(spelled)).toBe(normaliseSerial(canonical));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('never maps different numbers to the same value (property)', () => {
    fc.assert(
      fc.property(hexDigits, hexDigits, (a, b) => {
        fc.pre(BigInt(`0x${a}`) !== BigInt(`0x${b}`));
        expect(normaliseSerial(a)).not.toBe(normaliseSerial(b));
      }),
    );
  });
});
