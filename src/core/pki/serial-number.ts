import { randomBytes } from 'node:crypto';

/** 16 octets: 127 random bits, well above the 64 bits CA/Browser Forum rules ask for. */
export const SERIAL_NUMBER_OCTETS = 16;

/**
 * A fresh certificate serial number as upper-case hex (the form `openssl x509 -serial` and
 * Node's `X509Certificate.serialNumber` print, and the form Mender Gateway's blacklist file
 * holds).
 *
 * RFC 5280 §4.1.2.2: a positive INTEGER of at most 20 octets. The top bit is cleared so the
 * DER INTEGER needs no 0x00 sign octet and is never negative; a zero first octet is drawn
 * again, so the minimal DER encoding is always exactly 16 octets (Go's x509 parser rejects
 * non-minimal and negative serials).
 */
export function randomSerialNumber(random: (size: number) => Buffer = randomBytes): string {
  for (;;) {
    const octets = random(SERIAL_NUMBER_OCTETS);
    octets[0] = (octets[0] ?? 0) & 0x7f;
    if (octets[0] !== 0) return octets.toString('hex').toUpperCase();
  }
}

/**
 * Normalise a serial number written by any tool (`0x` prefix, colons, lower case, leading
 * zeros) to the upper-case hex used here, so serials from different tools compare equal.
 */
export function normalizeSerialNumber(serial: string): string {
  const hex = serial
    .trim()
    .replace(/^0x/i, '')
    .replace(/[:\s]/g, '')
    .toUpperCase()
    .replace(/^0+(?=.)/, '');
  return hex;
}
