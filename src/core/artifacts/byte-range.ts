import parseRange from 'range-parser';
import type { IncomingHttpHeaders } from 'node:http';

/**
 * What to send for a request against a representation of known size (RFC 9110 §14).
 * Only single ranges are served (docs/protocol.md §2.7: the clients resume with one range);
 * a multi-range request gets the whole body, which RFC 9110 §14.2 allows.
 */
export type RangeDecision =
  { kind: 'full' } | { kind: 'partial'; start: number; end: number } | { kind: 'unsatisfiable' };

/**
 * `If-Range` (RFC 9110 §13.1.5): a range is honoured only if the validator still matches;
 * otherwise the whole current representation is sent. Strong ETag comparison only; a date
 * matches only an exact Last-Modified.
 */
function ifRangeMatches(ifRange: string, validators: { etag?: string; lastModified?: string }): boolean {
  const value = ifRange.trim();
  if (value.startsWith('"') || value.startsWith('W/')) {
    return !value.startsWith('W/') && validators.etag !== undefined && value === validators.etag;
  }
  return validators.lastModified !== undefined && value === validators.lastModified;
}

export function decideRange(
  headers: IncomingHttpHeaders,
  size: number,
  validators: { etag?: string; lastModified?: string } = {},
): RangeDecision {
  const header = headers.range;
  if (header === undefined) return { kind: 'full' };
  const ifRange = headers['if-range'];
  if (
    ifRange !== undefined &&
    !ifRangeMatches(Array.isArray(ifRange) ? ifRange.join(',') : ifRange, validators)
  )
    return { kind: 'full' };
  // Range units are case-insensitive, and a Range in any other unit MUST be ignored (§14.1, §14.2);
  // range-parser compares the unit case-sensitively and only after deciding satisfiability.
  const equals = header.indexOf('=');
  if (equals === -1 || header.slice(0, equals).trim().toLowerCase() !== 'bytes') return { kind: 'full' };
  // A suffix longer than the representation selects all of it (§14.1.3); range-parser would drop it.
  const spec = header
    .slice(equals + 1)
    .replace(/(^|,)(\s*)-(\d+)(?=\s*(?:,|$))/g, (all, sep: string, space: string, n: string) =>
      Number(n) > size ? `${sep}${space}-${size}` : all,
    );
  const parsed = parseRange(size, `bytes=${spec}`, { combine: true });
  if (parsed === -1) return { kind: 'unsatisfiable' };
  // -2: malformed header; RFC 9110 §14.2 says ignore it and send the whole body.
  if (parsed === -2 || parsed.type !== 'bytes' || parsed.length !== 1) return { kind: 'full' };
  const range = parsed[0];
  if (range === undefined) return { kind: 'full' };
  return { kind: 'partial', start: range.start, end: range.end };
}
