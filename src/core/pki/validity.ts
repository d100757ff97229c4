import { GatewayError } from '../errors.js';

export type CertificateRole = 'ca' | 'server' | 'device';

/**
 * Default lifetimes in days (docs/certificates.md, "Validity"):
 * - CA 3650 (10 years): a root is installed on every device and in the gateway; replacing it
 *   means touching the whole fleet, so it outlives the devices' certificates.
 * - server 825: the longest lifetime Apple platforms accept for a TLS server certificate,
 *   even from a private CA; the gateway's certificate is one file on one host and is easy to
 *   renew, so it should not live long.
 * - device 3650: the Mender client cannot renew its certificate by itself and devices may
 *   stay offline for years; revocation is the gateway's serial blacklist (docs/protocol.md §3.3).
 */
export const DEFAULT_VALIDITY_DAYS: Record<CertificateRole, number> = { ca: 3650, server: 825, device: 3650 };

/** 100 years; beyond that a typo is likelier than intent. */
export const MAX_VALIDITY_DAYS = 36_500;

/**
 * notBefore is set this far in the past so a peer whose clock is a little behind the
 * issuing machine does not see a "not yet valid" certificate.
 */
export const BACKDATE_MS = 5 * 60 * 1000;

const DAY_MS = 24 * 60 * 60 * 1000;

export interface ValidityPeriod {
  notBefore: Date;
  notAfter: Date;
  /** True when notAfter was cut back to the issuer's notAfter. */
  clamped: boolean;
}

/**
 * The validity period for a certificate issued at `now` for `days` days. A certificate does
 * not usefully outlive its issuer (chain validation fails once the issuer expires), so
 * notAfter is cut back to `issuerNotAfter` when it would be later. Callers warn about that
 * only when the days were asked for explicitly: by default a leaf simply lives "N days or
 * until its CA expires, whichever is sooner" (a device issued right after a 10-year CA would
 * otherwise always be a few seconds too long).
 * Times are whole seconds: X.509 times have no fractions.
 */
export function validityPeriod(days: number, now: Date, issuerNotAfter?: Date): ValidityPeriod {
  if (!Number.isInteger(days) || days < 1 || days > MAX_VALIDITY_DAYS) {
    throw new GatewayError(
      'MGW_PKI_INVALID_INPUT',
      `validity must be 1 to ${MAX_VALIDITY_DAYS} days, got ${days}`,
      {
        hint: 'Pass --days with a whole number of days.',
      },
    );
  }
  const start = Math.floor(now.getTime() / 1000) * 1000;
  const notBefore = new Date(start - BACKDATE_MS);
  let notAfter = new Date(start + days * DAY_MS);
  let clamped = false;
  if (issuerNotAfter !== undefined && notAfter.getTime() > issuerNotAfter.getTime()) {
    notAfter = new Date(Math.floor(issuerNotAfter.getTime() / 1000) * 1000);
    clamped = true;
  }
  return { notBefore, notAfter, clamped };
}

/** The warning issuing functions return when {@link validityPeriod} clamped notAfter. */
export function clampWarning(issuerNotAfter: Date): string {
  return `validity cut back to the issuing CA's expiry (${issuerNotAfter.toISOString()}): a certificate cannot outlive its CA`;
}
