import { GatewayError } from '../errors.js';
import { ARTIFACT_ROUTE } from './artifact-link.js';
import { isHostWhitelisted } from './domain-whitelist.js';
import { malformedLink } from './storage-url.js';
import { key } from '../config-key.js';

/**
 * What an artifact link may make the gateway fetch. The URL checked here is the URL fetched,
 * unchanged (its `origin`, `pathname` and `search`): a link is never checked in one form and
 * fetched in another, which is how a proxy link with backslashes or encoded dot segments once
 * looked like an artifact link while the upstream's management API was fetched.
 */

export interface StoragePolicy {
  /** `Features.ArtifactsProxy.DomainWhitelist`. */
  whitelist: readonly string[];
  /** The configured upstream server. */
  upstream: URL;
}

/**
 * The path as a server that decodes percent-escapes would route it. Encoded separators and dot
 * segments (`%2f`, `%5c`, `%2e%2e`) are refused: some servers and proxies decode them before
 * routing, so they could climb out of a storage bucket or the artifact route.
 */
function checkPath(url: URL): void {
  let decoded: string;
  try {
    decoded = decodeURIComponent(url.pathname);
  } catch {
    throw malformedLink('bad percent-encoding in the path');
  }
  if (
    /%2f|%5c/i.test(url.pathname) ||
    decoded.includes('\\') ||
    decoded.split('/').some((segment) => segment === '.' || segment === '..')
  )
    throw malformedLink('encoded separators or dot segments in the path');
}

/**
 * May the gateway fetch this URL for a device? A host on the whitelist (subdomains included,
 * see domain-whitelist.ts), or, without a whitelist entry, artifact links of the configured
 * upstream when that is another mender-gw. On the upstream's own host nothing else under
 * `/api/` is ever fetched, even when the host is whitelisted (a storage proxy on the server
 * host, docs/security.md): artifact links must not become a way into its management API.
 * Returns `url` itself, the object to fetch.
 */
export function checkStorageTarget(url: URL, policy: StoragePolicy): URL {
  checkPath(url);
  const upstream = policy.upstream;
  const onUpstreamHost = url.hostname.toLowerCase() === upstream.hostname.toLowerCase();
  const upstreamArtifact =
    onUpstreamHost &&
    url.protocol === upstream.protocol &&
    url.port === upstream.port &&
    url.pathname.startsWith(ARTIFACT_ROUTE);
  if (upstreamArtifact) return url;
  if (onUpstreamHost && url.pathname.startsWith('/api/')) {
    throw new GatewayError('MGW_LINK_FORBIDDEN', `artifact links never reach the Mender server's API`, {
      hint: 'Storage links on the Mender server host are fetched only outside /api/.',
    });
  }
  if (!isHostWhitelisted(url.hostname, policy.whitelist)) {
    throw new GatewayError('MGW_NOT_WHITELISTED', `${url.hostname} is not whitelisted`, {
      hint: `Only hosts in ${key('Features.ArtifactsProxy.DomainWhitelist')} are fetched.`,
    });
  }
  return url;
}
