import { isIP } from 'node:net';

/**
 * `Features.ArtifactsProxy.DomainWhitelist` matching (docs/protocol.md §4.2).
 *
 * A host matches an entry when it equals it or is a subdomain of it: the documented
 * `s3.amazonaws.com` entry has to admit `hosted-mender-artifacts.s3.amazonaws.com`. Never a
 * substring match: `s3.amazonaws.com.evil.test` and `evil-s3.amazonaws.com` must fail,
 * because this check is all that stops the gateway being an open proxy into the internet.
 * An empty whitelist admits nothing (fail closed).
 */

/** Canonical form of a whitelist entry: lower-case, no leading `*.` or `.`, no trailing dot. */
export function normaliseWhitelistEntry(entry: string): string {
  return entry.trim().toLowerCase().replace(/^\*\./, '').replace(/^\./, '').replace(/\.$/, '');
}

/**
 * `hostname` is a URL's hostname (no port). IP addresses match only exactly: a suffix rule
 * would let the entry `0.0.1` admit `127.0.0.1`.
 */
export function isHostWhitelisted(hostname: string, whitelist: readonly string[]): boolean {
  const host = hostname
    .toLowerCase()
    .replace(/\.$/, '')
    .replace(/^\[|\]$/g, '');
  if (host === '') return false;
  const hostIsIp = isIP(host) !== 0;
  for (const raw of whitelist) {
    const entry = normaliseWhitelistEntry(raw).replace(/^\[|\]$/g, '');
    if (entry === '') continue;
    if (host === entry || (!hostIsIp && host.endsWith(`.${entry}`))) return true;
  }
  return false;
}
