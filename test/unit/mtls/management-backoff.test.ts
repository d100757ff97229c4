import { describe, expect, it } from 'vitest';
import { ManagementBackoff } from '../../../src/core/mtls/management-session.js';

/** Devices get 503 + Retry-After while the management API says "slow down" (docs/protocol.md §3.7 step 6). */
describe('ManagementBackoff', () => {
  const t0 = 1_800_000_000_000;

  it('lets calls through until something fails', () => {
    expect(new ManagementBackoff().remainingSeconds(t0)).toBe(0);
  });

  it('waits as long as the server asked in Retry-After (seconds), at most 10 minutes', () => {
    const backoff = new ManagementBackoff();
    expect(backoff.failed('7', t0)).toBe(7);
    expect(backoff.remainingSeconds(t0)).toBe(7);
    expect(backoff.remainingSeconds(t0 + 6_500)).toBe(1);
    expect(backoff.remainingSeconds(t0 + 7_000)).toBe(0);
    expect(backoff.failed(['3600'], t0)).toBe(600);
  });

  it('backs off exponentially from 1 s up to 60 s without a usable Retry-After', () => {
    const backoff = new ManagementBackoff();
    const waits = [
      undefined,
      '0',
      'soon',
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
    ].map((h) => backoff.failed(h, t0));
    expect(waits).toEqual([1, 2, 4, 8, 16, 32, 60, 60, 60]);
  });

  it('starts over after a success', () => {
    const backoff = new ManagementBackoff();
    backoff.failed(undefined, t0);
    backoff.failed(undefined, t0);
    backoff.succeeded();
    expect(backoff.remainingSeconds(t0)).toBe(0);
    expect(backoff.failed(undefined, t0)).toBe(1);
  });
});
