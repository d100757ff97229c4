import { describe, expect, it } from 'vitest';
import {
  BACKDATE_MS,
  DEFAULT_VALIDITY_DAYS,
  MAX_VALIDITY_DAYS,
  validityPeriod,
} from '../../../src/core/pki/index.js';

const DAY = 86_400_000;
const NOW = new Date('2026-11-22T10:20:30.456Z');

describe('validityPeriod', () => {
  it('documents the defaults: CA 10 years, server 825 days, device 10 years', () => {
    expect(DEFAULT_VALIDITY_DAYS).toEqual({ ca: 3650, server: 825, device: 3650 });
  });

  it('starts a little in the past, in whole seconds, and runs the given days', () => {
    const { notBefore, notAfter, clamped } = validityPeriod(825, NOW);
    expect(notBefore.toISOString()).toBe('2026-11-22T10:15:30.000Z');
    expect(notAfter.getTime() - (notBefore.getTime() + BACKDATE_MS)).toBe(825 * DAY);
    expect(clamped).toBe(false);
  });

  it('cuts notAfter back to the issuer expiry', () => {
    const issuerNotAfter = new Date('2027-01-01T00:00:00.999Z');
    const { notAfter, clamped } = validityPeriod(3650, NOW, issuerNotAfter);
    expect(notAfter.toISOString()).toBe('2027-01-01T00:00:00.000Z');
    expect(clamped).toBe(true);
    expect(validityPeriod(1, NOW, issuerNotAfter).clamped).toBe(false);
  });

  it.each([0, -1, 1.5, MAX_VALIDITY_DAYS + 1, Number.NaN])('refuses %s days', (days) => {
    expect(() => validityPeriod(days, NOW)).toThrow(/validity must be 1 to 36500 days/);
  });
});
