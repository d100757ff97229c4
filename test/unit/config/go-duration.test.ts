import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  formatDuration,
  formatDurationNs,
  parseGoDuration,
  parseGoDurationNs,
} from '../../../src/core/config/go-duration.js';

describe('parseGoDuration (Go time.ParseDuration, docs/decisions.md §5)', () => {
  it.each([
    ['0', 0],
    ['+0', 0],
    ['-0', 0],
    ['30m', 1_800_000],
    ['1h30m', 5_400_000],
    ['1.5h', 5_400_000],
    ['500ms', 500],
    ['2h45m30.5s', 9_930_500],
    ['.5s', 500],
    ['5.s', 5_000],
    ['1500us', 1.5],
    ['1µs', 0.001],
    ['1μs', 0.001],
    ['250ns', 0.00025],
    ['-1m', -60_000],
    ['+1s', 1_000],
    ['24h', 86_400_000],
  ])('%s → %d ms', (text, ms) => {
    expect(parseGoDuration(text)).toBe(ms);
  });

  it.each([
    ['', /empty/],
    ['30', /missing unit after "30"/],
    ['1d', /unknown unit "d".*no unit for days/],
    ['1h 30m', /whitespace/],
    ['ms', /expected a number before the unit/],
    ['.', /expected a digit/],
    ['-', /sign must be followed/],
    [' 1s', /unexpected " "/],
    ['1s ', /whitespace/],
    ['1H', /unknown unit "H"/],
    ['1e3s', /unknown unit "e"/],
    ['1h30', /missing unit after "30"/],
    ['2562048h', /out of range/],
  ])('rejects %j', (text, why) => {
    expect(() => parseGoDuration(text)).toThrow(why);
  });

  it('names the input in every message', () => {
    expect(() => parseGoDuration('1 day')).toThrow(/^invalid duration "1 day": /);
  });

  it('truncates sub-nanosecond fractions like Go', () => {
    expect(parseGoDurationNs('1.9ns')).toBe(1n);
    expect(parseGoDurationNs('0.0000000019s')).toBe(1n);
  });
});

describe('formatDuration (Go Duration.String)', () => {
  it.each([
    [0, '0s'],
    [5_400_000, '1h30m0s'],
    [86_400_000, '24h0m0s'],
    [90_000, '1m30s'],
    [500, '500ms'],
    [1.5, '1.5ms'],
    [0.0015, '1.5µs'],
    [0.000001, '1ns'],
    [1000.5, '1.0005s'],
    [-90_000, '-1m30s'],
  ])('%d ms → %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });

  it('refuses non-finite numbers', () => {
    expect(() => formatDuration(Number.NaN)).toThrow();
  });
});

describe('properties (fast-check)', () => {
  const MAX_NS = 2n ** 63n - 1n;

  it('format → parse is the identity on nanoseconds', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -MAX_NS, max: MAX_NS }), (ns) => {
        expect(parseGoDurationNs(formatDurationNs(ns))).toBe(ns);
      }),
      { numRuns: 2000 },
    );
  });

  it('format → parse is the identity on milliseconds with nanosecond resolution', () => {
    // Up to ±1e15 ns (≈ 11 days) ms·1e6 stays within 0.5 of an integer, so rounding in
    // formatDuration recovers the nanoseconds; the bigint property covers the full range.
    fc.assert(
      fc.property(fc.integer({ min: -1e15, max: 1e15 }), (ns) => {
        const ms = ns / 1e6;
        expect(parseGoDuration(formatDuration(ms))).toBe(ms);
      }),
      { numRuns: 2000 },
    );
  });

  it('random input either parses to a finite number or throws; never NaN', () => {
    const alphabet = fc.constantFrom(...'0123456789.+-hmsunµμd :,e'.split(''));
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: alphabet, maxLength: 12 })), (text) => {
        let ms: number;
        try {
          ms = parseGoDuration(text);
        } catch (err) {
          expect(err).toBeInstanceOf(Error);
          expect((err as Error).message).toMatch(/^invalid duration /);
          return;
        }
        expect(Number.isFinite(ms)).toBe(true);
      }),
      { numRuns: 5000 },
    );
  });

  it('accepts exactly the Go grammar', () => {
    const GO = /^[-+]?(0|(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+)$/;
    const alphabet = fc.constantFrom(...'0123456789.+-hmsunµμ'.split(''));
    fc.assert(
      fc.property(fc.string({ unit: alphabet, maxLength: 10 }), (text) => {
        let ok = true;
        try {
          parseGoDuration(text);
        } catch (err) {
          ok = /out of range/.test((err as Error).message) ? GO.test(text) : false;
        }
        expect(ok).toBe(GO.test(text));
      }),
      { numRuns: 5000 },
    );
  });
});
