import { GatewayError } from '../errors.js';
import { isHostWhitelisted } from './domain-whitelist.js';
import { ARTIFACT_ROUTE } from './artifact-link.js';
import { key } from '../config-key.js';

/**
 * Rewrite of deployments/next instructions (docs/protocol.md §4.1, §4.7): only
 * `artifact.source.uri` (and, for cache links, `artifact.source.expire`) change; every
 * other field is kept as upstream sent it, because the 3.x client rejects unknown fields
 * in some objects and 4.x reads only a few (docs/protocol.md §2.2).
 */

export interface GatewayLink {
  uri: string;
  /** RFC 3339 expiry of the gateway link; `undefined` keeps upstream's. */
  expire: string | undefined;
}

export interface RewriteOptions {
  whitelist: readonly string[];
  upstream: URL;
  gatewayUrl: URL;
  /**
   * Builds the gateway link for a storage URL (cache or proxy mode). `raw` is the link exactly
   * as upstream wrote it: storage signatures may break if it is re-encoded (§4.3).
   */
  link(origin: URL, artifact: { id: string | undefined; name: string | undefined }, raw: string): GatewayLink;
}

interface Instructions {
  artifact?: { id?: unknown; artifact_name?: unknown; source?: { uri?: unknown; expire?: unknown } };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The part of a URL string after its authority, byte-exact (no re-encoding of path or query). */
export function pathAndQuery(uri: string): string {
  const afterScheme = uri.indexOf('//') + 2;
  const slash = uri.indexOf('/', afterScheme);
  const question = uri.indexOf('?', afterScheme);
  const start = slash === -1 ? question : question === -1 ? slash : Math.min(slash, question);
  return start === -1 ? '/' : uri.slice(start);
}

function sameOrigin(a: URL, b: URL): boolean {
  return (
    a.protocol === b.protocol && a.hostname.toLowerCase() === b.hostname.toLowerCase() && a.port === b.port
  );
}

/**
 * Returns the rewritten instructions, or `undefined` when there is no download link to
 * rewrite. Throws MGW_NOT_WHITELISTED for a storage host outside `DomainWhitelist`: the
 * device must never receive the raw link (§4.1), it gets an error and retries at its next poll.
 */
export function rewriteInstructions(body: unknown, options: RewriteOptions): unknown {
  if (!isObject(body)) return undefined;
  const instructions = body as Instructions;
  const artifact = instructions.artifact;
  if (!isObject(artifact) || !isObject(artifact.source) || typeof artifact.source.uri !== 'string')
    return undefined;
  const raw = artifact.source.uri;
  let origin: URL;
  try {
    origin = new URL(raw);
  } catch {
    throw new GatewayError(
      'MGW_UPSTREAM_BAD_RESPONSE',
      'the Mender server returned a download link that is not a URL',
      {
        hint: 'Check the upstream server; the device retries at its next poll.',
      },
    );
  }
  if (origin.protocol !== 'https:' && origin.protocol !== 'http:') {
    throw new GatewayError('MGW_NOT_WHITELISTED', `${origin.protocol} download links are not supported`, {
      hint: 'Only http and https storage links can be relayed.',
    });
  }

  let next: GatewayLink;
  const onUpstream = sameOrigin(origin, options.upstream);
  // A chain (site → ward): the upstream is another mender-gw whose links are cacheable
  // artifacts. The configured upstream is trusted without a whitelist entry.
  const upstreamArtifact = onUpstream && origin.pathname.startsWith(ARTIFACT_ROUTE);
  if (onUpstream && !upstreamArtifact && origin.pathname.startsWith('/api/devices/')) {
    // §4.7: configuration deployments link to the server itself; the ordinary relay
    // forwards them. Path and query stay byte-exact (the server's HMAC covers them).
    const base = options.gatewayUrl.href.replace(/\/+$/, '');
    next = { uri: base + pathAndQuery(raw), expire: undefined };
  } else {
    if (!upstreamArtifact && !isHostWhitelisted(origin.hostname, options.whitelist)) {
      throw new GatewayError(
        'MGW_NOT_WHITELISTED',
        `${origin.hostname} returned by Mender server is not whitelisted`,
        {
          hint: `Add "${origin.hostname}" (or a parent domain) to ${key('Features.ArtifactsProxy.DomainWhitelist')} if it is your artifact storage.`,
        },
      );
    }
    next = options.link(
      origin,
      {
        id: typeof artifact.id === 'string' ? artifact.id : undefined,
        name: typeof artifact.artifact_name === 'string' ? artifact.artifact_name : undefined,
      },
      raw,
    );
  }
  const source: Record<string, unknown> = { ...artifact.source, uri: next.uri };
  if (next.expire !== undefined) source.expire = next.expire;
  return { ...body, artifact: { ...artifact, source } };
}
