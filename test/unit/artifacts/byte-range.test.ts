import type { IncomingHttpHeaders } from 'node:http';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decideRange } from '../../../src/core/artifacts/byte-range.js';

const SIZE = 10_000;
const ETAG = '"5d41402abc4b2a76b9719d911017c592"';
const LAST_MODIFIED = 'Wed, 01 May 2024 12:00:00 GMT';
const validators = { etag: ETAG, lastModified: LAST_MODIFIED };

const range = (value: string, extra: IncomingHttpHeaders = {}): IncomingHttpHeaders => ({
  range: value,
  ...extra,
});

describe('decideRange (RFC 9110 §14, docs/protocol.md §2.7)', () => {
  it('sends the whole body without a Range header', () => {
    expect(decideRange({}, SIZE)).toEqual({ kind: 'full' });
  });

  it('serves the open-ended resume range of the 3.x client: bytes=N-', () => {
    expect(decideRange(range('bytes=4096-'), SIZE)).toEqual({ kind: 'partial', start: 4096, end: SIZE - 1 });
    expect(decideRange(range('bytes=0-'), SIZE)).toEqual({ kind: 'partial', start: 0, end: SIZE - 1 });
    expect(decideRange(range(`bytes=${SIZE - 1}-`), SIZE)).toEqual({
      kind: 'partial',
      start: SIZE - 1,
      end: SIZE - 1,
    });
  });

  it('serves the closed resume range of the 4.x client: bytes=N-M', () => {
    expect(decideRange(range(`bytes=4096-${SIZE - 1}`), SIZE)).toEqual({
      kind: 'partial',
      start: 4096,
      end: SIZE - 1,
    });
    expect(decideRange(range('bytes=0-0'), SIZE)).toEqual({ kind: 'partial', start: 0, end: 0 });
    expect(decideRange(range('bytes=10-19'), SIZE)).toEqual({ kind: 'partial', start: 10, end: 19 });
  });

  it('compares the range unit case-insensitively (§14.1)', () => {
    expect(decideRange(range('Bytes=10-19'), SIZE)).toEqual({ kind: 'partial', start: 10, end: 19 });
    expect(decideRange(range('BYTES=-10'), SIZE)).toEqual({
      kind: 'partial',
      start: SIZE - 10,
      end: SIZE - 1,
    });
  });

  it('clamps a last position beyond the end to the last byte (§14.1.2)', () => {
    expect(decideRange(range('bytes=9000-20000'), SIZE)).toEqual({
      kind: 'partial',
      start: 9000,
      end: SIZE - 1,
    });
  });

  it('serves suffix ranges: bytes=-N is the last N bytes', () => {
    expect(decideRange(range('bytes=-500'), SIZE)).toEqual({
      kind: 'partial',
      start: SIZE - 500,
      end: SIZE - 1,
    });
    expect(decideRange(range('bytes=-1'), SIZE)).toEqual({ kind: 'partial', start: SIZE - 1, end: SIZE - 1 });
    // A suffix longer than the representation is the whole of it, as a 206.
    expect(decideRange(range('bytes=-20000'), SIZE)).toEqual({ kind: 'partial', start: 0, end: SIZE - 1 });
    expect(decideRange(range(`bytes=-${SIZE}`), SIZE)).toEqual({ kind: 'partial', start: 0, end: SIZE - 1 });
    expect(decideRange(range('bytes= -99999999999999999999'), SIZE)).toEqual({
      kind: 'partial',
      start: 0,
      end: SIZE - 1,
    });
    expect(decideRange(range('bytes=0-9, -20000'), SIZE)).toEqual({
      kind: 'partial',
      start: 0,
      end: SIZE - 1,
    });
  });

  it.each([`bytes=${SIZE}-`, `bytes=${SIZE}-${SIZE + 10}`, 'bytes=20000-30000', 'bytes=-0'])(
    '%s is unsatisfiable (416)',
    (value) => {
      expect(decideRange(range(value), SIZE)).toEqual({ kind: 'unsatisfiable' });
    },
  );

  it('finds every range of an empty representation unsatisfiable', () => {
    expect(decideRange(range('bytes=0-'), 0)).toEqual({ kind: 'unsatisfiable' });
    expect(decideRange(range('bytes=-5'), 0)).toEqual({ kind: 'unsatisfiable' });
  });

  it('answers a request for several ranges with the whole body (§14.2 allows it)', () => {
    expect(decideRange(range('bytes=0-9,20-29'), SIZE)).toEqual({ kind: 'full' });
    expect(decideRange(range('bytes=0-9, -10'), SIZE)).toEqual({ kind: 'full' });
  });

  it('merges overlapping or adjacent ranges into one', () => {
    expect(decideRange(range('bytes=0-9,5-19'), SIZE)).toEqual({ kind: 'partial', start: 0, end: 19 });
    expect(decideRange(range('bytes=0-9,10-19'), SIZE)).toEqual({ kind: 'partial', start: 0, end: 19 });
  });

  it('drops unsatisfiable members of a range set and serves the rest', () => {
    expect(decideRange(range(`bytes=100-199,${SIZE + 5}-`), SIZE)).toEqual({
      kind: 'partial',
      start: 100,
      end: 199,
    });
  });

  it.each([
    'bytes',
    'bytes=',
    'bytes=-',
    'bytes=a-b',
    'bytes=1-a',
    'bytes=1.5-2',
    'bytes=0x10-',
    'bytes=--1',
    'nonsense',
    '=0-1',
    'bytes=1-2,x',
  ])('ignores a malformed Range %j and sends the whole body', (value) => {
    expect(decideRange(range(value), SIZE)).toEqual({ kind: 'full' });
  });

  it.each(['items=0-9', 'items=20000-', 'items=5-2', 'bytesx=0-9'])(
    'ignores a Range with a unit it does not serve (%s): MUST per §14.2',
    (value) => {
      expect(decideRange(range(value), SIZE)).toEqual({ kind: 'full' });
    },
  );

  describe('If-Range (§13.1.5)', () => {
    it('honours the range when the strong ETag matches', () => {
      expect(decideRange(range('bytes=100-', { 'if-range': ETAG }), SIZE, validators)).toEqual({
        kind: 'partial',
        start: 100,
        end: SIZE - 1,
      });
    });

    it('sends the whole body when the ETag does not match', () => {
      expect(decideRange(range('bytes=100-', { 'if-range': '"other"' }), SIZE, validators)).toEqual({
        kind: 'full',
      });
    });

    it('never matches a weak ETag, on either side', () => {
      expect(decideRange(range('bytes=100-', { 'if-range': `W/${ETAG}` }), SIZE, validators)).toEqual({
        kind: 'full',
      });
      expect(
        decideRange(range('bytes=100-', { 'if-range': `W/${ETAG}` }), SIZE, { etag: `W/${ETAG}` }),
      ).toEqual({
        kind: 'full',
      });
      expect(decideRange(range('bytes=100-', { 'if-range': ETAG }), SIZE, { etag: `W/${ETAG}` })).toEqual({
        kind: 'full',
      });
    });

    it('sends the whole body when the representation has no ETag', () => {
      expect(
        decideRange(range('bytes=100-', { 'if-range': ETAG }), SIZE, { lastModified: LAST_MODIFIED }),
      ).toEqual({
        kind: 'full',
      });
    });

    it('honours the range for a date exactly equal to Last-Modified', () => {
      expect(decideRange(range('bytes=100-', { 'if-range': LAST_MODIFIED }), SIZE, validators)).toEqual({
        kind: 'partial',
        start: 100,
        end: SIZE - 1,
      });
    });

    it('sends the whole body for any other date, or without Last-Modified', () => {
      expect(
        decideRange(range('bytes=100-', { 'if-range': 'Wed, 01 May 2024 12:00:01 GMT' }), SIZE, validators),
      ).toEqual({
        kind: 'full',
      });
      expect(decideRange(range('bytes=100-', { 'if-range': LAST_MODIFIED }), SIZE, { etag: ETAG })).toEqual({
        kind: 'full',
      });
    });

    it('does not turn a failed If-Range into a 416', () => {
      expect(decideRange(range(`bytes=${SIZE}-`, { 'if-range': '"other"' }), SIZE, validators)).toEqual({
        kind: 'full',
      });
    });

    it('is ignored without a Range header', () => {
      expect(decideRange({ 'if-range': '"other"' }, SIZE, validators)).toEqual({ kind: 'full' });
    });
  });

  it('property: any valid single range of any size gives start ≤ end < size', () => {
    const sizeAndRange = fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }).chain((size) =>
      fc.tuple(
        fc.constant(size),
        fc.oneof(
          fc.nat({ max: size - 1 }).map((start) => `bytes=${start}-`),
          fc
            .tuple(fc.nat({ max: size - 1 }), fc.nat({ max: Number.MAX_SAFE_INTEGER }))
            .map(
              ([start, extra]) =>
                `bytes=${start}-${start + Math.min(extra, Number.MAX_SAFE_INTEGER - start)}`,
            ),
          fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }).map((n) => `bytes=-${n}`),
        ),
      ),
    );
    fc.assert(
      fc.property(sizeAndRange, ([size, value]) => {
        const decision = decideRange(range(value), size);
        expect(decision.kind).toBe('partial');
        if (decision.kind !== 'partial') return;
        expect(decision.start).toBeGreaterThanOrEqual(0);
        expect(decision.start).toBeLessThanOrEqual(decision.end);
        expect(decision.end).toBeLessThan(size);
      }),
      { numRuns: 500 },
    );
  });

  it('property: whatever the header, a partial decision lies inside the representation', () => {
    fc.assert(
      fc.property(fc.nat({ max: 1_000_000 }), fc.string(), (size, tail) => {
        const decision = decideRange(range(`bytes=${tail}`), size);
        if (decision.kind === 'partial') {
          expect(decision.start).toBeGreaterThanOrEqual(0);
          expect(decision.start).toBeLessThanOrEqual(decision.end);
          expect(decision.end).toBeLessThan(size);
        }
      }),
    );
  });
});
