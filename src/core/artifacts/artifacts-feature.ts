import { randomBytes } from 'node:crypto';
import type { Dispatcher } from 'undici';
import type { GatewayConfig } from '../config/gateway-config.js';
import type { Logger } from '../logger.js';
import type { DeviceApiRelay } from '../upstream/device-api-relay.js';
import { upstreamFailure } from '../upstream/upstream-error.js';
import { ArtifactCache } from '../cache/artifact-cache.js';
import type { OriginFetcher } from '../cache/artifact-cache.js';
import { DiskArtifactStore } from '../cache/disk-artifact-store.js';
import { EntryPins } from '../cache/entry-pins.js';
import { ArtifactDownloads } from './artifact-downloads.js';
import { ArtifactLinkSigner, proxyLink } from './artifact-link.js';
import type { GatewayLink } from './deployment-rewrite.js';
import { NextRewriteRelay } from './next-rewrite-relay.js';
import type { Instrumentation } from '../diagnostics.js';

export interface ArtifactsFeature {
  next: NextRewriteRelay;
  downloads: ArtifactDownloads;
  cache: ArtifactCache | undefined;
  close(): Promise<void>;
}

/**
 * Provision `Features.ArtifactsProxy` (docs/protocol.md §4): link rewriting, and either the
 * proxy-only download route or the signed-link cache. Opening the cache rebuilds its index
 * and removes debris of interrupted fills before any device is served.
 */
export async function createArtifactsFeature(
  config: GatewayConfig,
  relay: DeviceApiRelay,
  dispatcher: Dispatcher,
  logger: Logger,
  instrumentation: Instrumentation,
): Promise<ArtifactsFeature | undefined> {
  const proxyConfig = config.artifactsProxy;
  if (!proxyConfig.enabled || proxyConfig.gatewayUrl === undefined) return undefined;
  const gatewayUrl = proxyConfig.gatewayUrl;
  const whitelist = proxyConfig.domainWhitelist;

  // Storage fetches share the upstream dispatcher: same trust store, proxy and timeouts (docs/protocol.md
  // §6.4).
  // No redirect is ever followed (undici's request does not), so a storage redirect cannot
  // lead the gateway off the whitelist.
  const fetchOrigin: OriginFetcher = async (origin, headers = {}) => {
    try {
      const path = origin.pathname + origin.search;
      return await dispatcher.request({ origin: origin.origin, path, method: 'GET', headers });
    } catch (err) {
      throw upstreamFailure(err, origin.host);
    }
  };

  let cache: ArtifactCache | undefined;
  let signer: ArtifactLinkSigner | undefined;
  let link: (
    origin: URL,
    artifact: { id: string | undefined; name: string | undefined },
    raw: string,
  ) => GatewayLink;
  if (proxyConfig.cache.enabled) {
    // Without a configured secret links die with the process; loadConfig() already warned (docs/protocol.md
    // §4.4).
    const secret = proxyConfig.cache.signatureSecret ?? randomBytes(32);
    signer = new ArtifactLinkSigner(secret, gatewayUrl, proxyConfig.cache.linkExpireMs);
    const path = proxyConfig.cache.path;
    const store = new DiskArtifactStore(path);
    const pins = new EntryPins(path);
    cache = new ArtifactCache(store, pins, fetchOrigin, logger, {
      fillStarted: (ref, fill) =>
        instrumentation.fillStarted(fill, {
          key: ref.key,
          artifactId: ref.artifactId,
          artifactName: ref.artifactName,
          size: fill.size,
        }),
      fillFinished: (ref, entry) => instrumentation.fillFinished(entry.size, ref.key),
      fillFailed: (ref) => instrumentation.fillFailed(ref.key),
      evicted: () => instrumentation.evicted(),
    });
    const report = await cache.open();
    logger.info({ path, entries: report.entries, removed: report.removed.length }, 'artifact cache opened');
    for (const name of report.removed)
      logger.warn({ path, file: name }, 'removed leftover of an interrupted cache fill');
    const linkSigner = signer;
    link = (origin, artifact) => {
      const { href, expire } = linkSigner.signText(origin, { id: artifact.id, name: artifact.name });
      return { uri: href, expire };
    };
  } else {
    link = (_origin, _artifact, raw) => ({ uri: proxyLink(gatewayUrl, raw).href, expire: undefined });
  }

  const next = new NextRewriteRelay(
    relay,
    { whitelist, upstream: config.upstream.url, gatewayUrl, link },
    logger,
  );
  const downloads = new ArtifactDownloads({
    whitelist,
    upstream: config.upstream.url,
    signer,
    cache,
    fetchOrigin,
    logger,
    instrumentation,
  });
  return {
    next,
    downloads,
    cache,
    async close() {
      await cache?.close();
    },
  };
}
