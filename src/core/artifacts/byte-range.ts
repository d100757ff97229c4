import parseRange from 'range-parser';
import type { IncomingHttpHeaders } from 'node:http';

/**
 * What to send for a request against a representation of known size (RFC 9110 §14).
 * Only single ranges are served (protocol doc §2.7: the clients resume with one range);
 * a multi-range request gets the whole body, which RFC 9110 §14.2 allows.
 */
export type RangeDecision =
  | { kind: 'full' }
  | { kind: 'partial'; start: number; end: number }
  | { kind: 'unsatisfiable' };

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
  if (ifRange !== undefined && !ifRangeMatches(Array.isArray(ifRange) ? ifRange.join(',') : ifRange, validators)) return { kind: 'full' };
  const parsed = parseRange(size, header, { combine: true });
  if (parsed === -1) return { kind: 'unsatisfiable' };
  // -2: malformed header; RFC 9110 §14.2 says ignore it and send the whole body.
  if (parsed === -2 || parsed.type !== 'bytes' || parsed.length !== 1) return { kind: 'full' };
  const range = parsed[0];
  if (range === undefined) return { kind: 'full' };
  return { kind: 'partial', start: range.start, end: range.end };
}
