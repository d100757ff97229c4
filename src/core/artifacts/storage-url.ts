import { GatewayError } from '../errors.js';

/**
 * Storage URLs carried in artifact links, parsed once: the URL object returned is the one that
 * is checked (storage-target.ts) and then fetched as is.
 */

const HINT = 'Use the download link from the latest deployments/next answer unchanged.';

export function malformedLink(what: string): GatewayError {
  return new GatewayError('MGW_LINK_MALFORMED', `malformed artifact link: ${what}`, { hint: HINT });
}

/** The part of a URL string after its authority, as written. */
function writtenPathAndQuery(uri: string): string {
  const afterScheme = uri.indexOf('//') + 2;
  const end = uri.slice(afterScheme).search(/[/?#\\]/);
  const rest = end === -1 ? '' : uri.slice(afterScheme + end);
  return rest.startsWith('/') || rest.startsWith('\\') ? rest : `/${rest}`;
}

/**
 * Parse a storage URL carried in a link. Only URLs already in their parsed form are accepted
 * (WHATWG URL: no backslashes, no dot segments, nothing re-encoded), so the bytes sent to
 * storage are the bytes of the link: presigned S3/Azure URLs are, and their signatures cover
 * those bytes.
 */
export function parseStorageUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw malformedLink('not a URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw malformedLink(`${url.protocol} URL`);
  if (url.username !== '' || url.password !== '') throw malformedLink('credentials in the URL');
  // The fragment is never sent, but it must not hide a different path either.
  // `href` after the origin keeps an empty `?` or `#`, as written (no credentials: refused above).
  if (writtenPathAndQuery(raw) !== url.href.slice(url.origin.length))
    throw malformedLink(
      'the URL is not in its normal form (backslashes, dot segments or unencoded characters)',
    );
  return url;
}
