import type { IncomingHttpHeaders } from 'node:http';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decideRange } from '../../../src/core/artifacts/byte-range.js';
import type { RangeDecision } from '../../../src/core/artifacts/byte-range.js';

/**
 * Properties of the Range decision, beyond the examples and the two bounds
 * properties of test/unit/artifacts/byte-range.test.ts: it never throws on any header, it agrees
 * with a small reference model of RFC 9110 §14 for single ranges, and what a device cannot
 * influence (unit case, If-Range mismatch, other units) never changes the answer to a partial one.
 */

const ETAG = '"0123456789abcdef"';

/** RFC 9110 §14.1.2/§14.1.3 for one range-spec over `size` bytes, written independently of the code. */
function reference(spec: { first: number; last?: number } | { suffix: number }, size: number): RangeDecision {
  if ('suffix' in spec) {
    if (spec.suffix === 0 || size === 0) return { kind: 'unsatisfiable' };
    return { kind: 'partial', start: Math.max(0, size - spec.suffix), end: size - 1 };
  }
  if (spec.first >= size) return { kind: 'unsatisfiable' };
  return { kind: 'partial', start: spec.first, end: Math.min(spec.last ?? size - 1, size - 1) };
}

const sizeArb = fc.oneof(fc.nat({ max: 4096 }), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }));

/** A valid single range-spec and its text, positions around the size of the representation. */
const specArb = (size: number) =>
  fc.oneof(
    fc.nat({ max: size + 10 }).map((first) => ({ spec: { first }, text: `${first}-` })),
    fc
      .tuple(fc.nat({ max: size + 10 }), fc.nat({ max: size + 10 }))
      .filter(([a, b]) => a <= b)
      .map(([first, last]) => ({ spec: { first, last }, text: `${first}-${last}` })),
    fc.nat({ max: size + 10 }).map((suffix) => ({ spec: { suffix }, text: `-${suffix}` })),
  );

describe('decideRange properties', () => {
  it('never throws, for any Range, If-Range and validators, and always gives a well-formed decision', () => {
    fc.assert(
      fc.property(
        fc.option(fc.string({ unit: 'binary', maxLength: 200 }), { nil: undefined }),
        fc.option(fc.string({ maxLength: 60 }), { nil: undefined }),
        sizeArb,
        fc.record(
          { etag: fc.string({ maxLength: 30 }), lastModified: fc.string({ maxLength: 40 }) },
          { requiredKeys: [] },
        ),
        (rangeHeader, ifRange, size, validators) => {
          const headers: IncomingHttpHeaders = {};
          if (rangeHeader !== undefined) headers.range = rangeHeader;
          if (ifRange !== undefined) headers['if-range'] = ifRange;
          const decision = decideRange(headers, size, validators);
          expect(['full', 'partial', 'unsatisfiable']).toContain(decision.kind);
          if (decision.kind === 'partial') {
            expect(Number.isSafeInteger(decision.start) && Number.isSafeInteger(decision.end)).toBe(true);
            expect(decision.start).toBeGreaterThanOrEqual(0);
            expect(decision.start).toBeLessThanOrEqual(decision.end);
            expect(decision.end).toBeLessThan(size);
          }
        },
      ),
      { numRuns: 2_000 },
    );
  });

  it('never throws on hostile range-sets: huge numbers, many members, odd whitespace', () => {
    const member = fc.oneof(
      fc.bigInt({ min: 0n, max: 10n ** 30n }).map((n) => `${n}-`),
      fc
        .tuple(fc.bigInt({ min: 0n, max: 10n ** 30n }), fc.bigInt({ min: 0n, max: 10n ** 30n }))
        .map(([a, b]) => `${a}-${b}`),
      fc.bigInt({ min: 0n, max: 10n ** 30n }).map((n) => `-${n}`),
      fc.constantFrom('', ' ', '-', '--', '1e3-', '0x1-', 'NaN-', 'Infinity-'),
    );
    fc.assert(
      fc.property(
        fc.array(member, { maxLength: 300 }),
        fc.constantFrom(',', ', ', ' ,', ',\t'),
        fc.constantFrom('bytes=', 'BYTES=', 'Bytes =', ' bytes= '),
        sizeArb,
        (members, separator, prefix, size) => {
          const decision = decideRange({ range: prefix + members.join(separator) }, size);
          if (decision.kind === 'partial') expect(decision.end).toBeLessThan(size);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('agrees with the RFC 9110 reference model for every single range', () => {
    fc.assert(
      fc.property(
        sizeArb.chain((size) =>
          fc.tuple(fc.constant(Math.min(size, 100_000)), specArb(Math.min(size, 100_000))),
        ),
        ([size, { spec, text }]) => {
          expect(decideRange({ range: `bytes=${text}` }, size)).toEqual(reference(spec, size));
        },
      ),
      { numRuns: 2_000 },
    );
  });

  it('reads the unit case-insensitively: any spelling of "bytes" gives the same decision', () => {
    const casing = fc
      .array(fc.boolean(), { minLength: 5, maxLength: 5 })
      .map((upper) => ['b', 'y', 't', 'e', 's'].map((c, i) => (upper[i] ? c.toUpperCase() : c)).join(''));
    fc.assert(
      fc.property(
        fc.nat({ max: 5000 }).chain((size) => fc.tuple(fc.constant(size), specArb(size), casing)),
        ([size, { text }, unit]) => {
          expect(decideRange({ range: `${unit}=${text}` }, size)).toEqual(
            decideRange({ range: `bytes=${text}` }, size),
          );
        },
      ),
    );
  });

  it('sends the whole body, never a part and never 416, when If-Range does not match', () => {
    fc.assert(
      fc.property(
        fc.nat({ max: 5000 }).chain((size) => fc.tuple(fc.constant(size), specArb(size))),
        fc.string({ maxLength: 40 }).filter((v) => v !== ETAG),
        ([size, { text }], ifRange) => {
          expect(decideRange({ range: `bytes=${text}`, 'if-range': ifRange }, size, { etag: ETAG })).toEqual({
            kind: 'full',
          });
        },
      ),
    );
  });

  it('ignores a Range in any other unit (RFC 9110 §14.2: MUST)', () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^[a-z]{1,10}$/).filter((unit) => unit !== 'bytes'),
        fc.nat({ max: 5000 }).chain((size) => fc.tuple(fc.constant(size), specArb(size))),
        (unit, [size, { text }]) => {
          expect(decideRange({ range: `${unit}=${text}` }, size)).toEqual({ kind: 'full' });
        },
      ),
    );
  });
});
