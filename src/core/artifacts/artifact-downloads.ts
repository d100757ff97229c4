import { GatewayError, isGatewayError, toGatewayError } from '../errors.js';
import { splitTarget } from '../http/device-path.js';
import { pipeToResponse } from '../http/pipe-to-response.js';
import type { Logger } from '../logger.js';
import type { Exchange } from '../server/exchange.js';
import { upstreamFailure } from '../upstream/upstream-error.js';
import { errnoCode } from '../file-errors.js';
import type { ArtifactCache, OriginFetcher, OriginResponse } from '../cache/artifact-cache.js';
import type { RandomAccessReader } from '../cache/artifact-store.js';
import type { ArtifactFill } from '../cache/artifact-fill.js';
import { sendRange } from '../cache/read-stream.js';
import type { RangeContinuation } from '../cache/read-stream.js';
import { decideRange } from './byte-range.js';
import { checkStorageTarget } from './storage-target.js';
import { ARTIFACT_ROUTE, PROXY_ROUTE, decodeProxyLink } from './artifact-link.js';
import type { ArtifactLinkSigner } from './artifact-link.js';
import type { Instrumentation } from '../diagnostics.js';
import { discardBody } from '../http/discard-body.js';

export const MENDER_ARTIFACT_TYPE = 'application/vnd.mender-artifact';

/** Storage response headers a device may see (docs/protocol.md §4.3); nothing that could change the bytes. */
const STORAGE_HEADERS = [
  'content-length',
  'content-range',
  'accept-ranges',
  'content-type',
  'content-disposition',
  'etag',
  'last-modified',
];

export interface ArtifactDownloadsOptions {
  whitelist: readonly string[];
  /** The configured upstream server: its own artifact links (a mender-gw upstream) need no whitelist entry. */
  upstream: URL;
  /** Cache mode: the link signer and the cache. Proxy-only mode: both undefined. */
  signer: ArtifactLinkSigner | undefined;
  cache: ArtifactCache | undefined;
  fetchOrigin: OriginFetcher;
  logger: Logger;
  instrumentation?: Instrumentation;
}

interface Representation {
  size: number;
  etag: string | undefined;
  lastModified: string | undefined;
  contentType: string | undefined;
}

/**
 * Serves the gateway's artifact links (docs/protocol.md §2.7, §4.3, §4.4):
 * exact Content-Length, `Accept-Ranges: bytes`, single ranges with 206/Content-Range, 416 when
 * unsatisfiable, If-Range, HEAD, never compressed or chunked. The target is checked again on
 * every download (storage-target.ts), and the checked URL is the one fetched, so the gateway is
 * never an open proxy.
 */
export class ArtifactDownloads {
  constructor(private readonly options: ArtifactDownloadsOptions) {}

  matches(exchange: Exchange): boolean {
    return exchange.path.startsWith(ARTIFACT_ROUTE);
  }

  async handle(exchange: Exchange): Promise<void> {
    const { req, res } = exchange;
    try {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.setHeader('allow', 'GET, HEAD');
        throw new GatewayError(
          'MGW_METHOD_NOT_ALLOWED',
          `${req.method ?? ''} is not allowed on artifact links`,
          { hint: 'Use GET or HEAD.' },
        );
      }
      const { path, query } = splitTarget(req.url ?? '/');
      if (path.startsWith(PROXY_ROUTE)) {
        if (this.options.signer !== undefined) {
          // In cache mode only signed links are served: an unsigned link would let anyone on the
          // device network pull arbitrary whitelisted URLs through the gateway.
          throw new GatewayError(
            'MGW_NOT_FOUND',
            'artifact proxy links are not served when the artifact cache is enabled',
            {
              hint: 'Poll deployments/next again for a current link.',
            },
          );
        }
        const target = checkStorageTarget(decodeProxyLink(path), this.options);
        await this.#proxy(exchange, target);
        return;
      }
      if (this.options.signer === undefined || this.options.cache === undefined) {
        throw new GatewayError(
          'MGW_NOT_FOUND',
          'cached artifact links are not served: the artifact cache is disabled',
          {
            hint: 'Poll deployments/next again for a current link.',
          },
        );
      }
      const claims = this.options.signer.verify(path, query);
      checkStorageTarget(claims.origin, this.options);
      await this.#fromCache(exchange, this.options.cache, claims);
    } catch (err) {
      const error = toGatewayError(err);
      if (error.code === 'MGW_INTERNAL')
        this.options.logger.error({ err, requestId: exchange.requestId }, 'artifact download failed');
      exchange.fail(error, 'storage');
    }
  }

  async #fromCache(
    exchange: Exchange,
    cache: ArtifactCache,
    claims: Parameters<ArtifactCache['acquire']>[0],
  ): Promise<void> {
    const { res } = exchange;
    // The pin is the exchange's: released when the exchange ends, however early.
    const lookup = await cache.acquire(claims, exchange.lifetime);
    const [result, source] =
      lookup.kind === 'entry'
        ? (['hit', 'cache'] as const)
        : lookup.kind === 'fill'
          ? ([lookup.started ? 'miss' : 'coalesced', 'fill'] as const)
          : (['bypass', 'upstream'] as const);
    // Counted now; the bytes it served are counted when the exchange ends (metrics-subscriber.ts).
    exchange.cacheLookup = { result, source };
    this.options.instrumentation?.cacheLookup(result, exchange, {
      key: claims.key,
      artifactId: claims.artifactId,
      artifactName: claims.artifactName,
      size:
        lookup.kind === 'entry'
          ? lookup.entry.size
          : lookup.kind === 'fill'
            ? lookup.fill.size
            : contentLength(lookup.response),
    });
    switch (lookup.kind) {
      case 'entry': {
        const { entry } = lookup;
        res.once('finish', () => void cache.store.recordAccess(entry.key, exchange.bytesOut));
        await this.#send(exchange, entry, lookup.reader, claims.origin);
        return;
      }
      case 'fill':
        await this.#send(exchange, lookup.fill.info, lookup.reader, claims.origin, lookup.fill);
        return;
      case 'bypass':
        this.options.logger.info(
          { requestId: exchange.requestId, key: claims.key, reason: lookup.reason },
          'serving artifact uncached',
        );
        await this.#proxy(exchange, claims.origin, lookup.response);
        return;
    }
  }

  async #send(
    exchange: Exchange,
    rep: Representation,
    reader: RandomAccessReader,
    origin: URL,
    fill?: ArtifactFill,
  ): Promise<void> {
    const { req, res } = exchange;
    const decision = decideRange(req.headers, rep.size, { etag: rep.etag, lastModified: rep.lastModified });
    const headers: Record<string, string> = {
      'content-type': rep.contentType ?? MENDER_ARTIFACT_TYPE,
      'accept-ranges': 'bytes',
      // no-transform: intermediaries must not compress; a compressed artifact is fatal to 3.x
      // (docs/protocol.md §2.7).
      'cache-control': 'private, no-transform',
    };
    if (rep.etag !== undefined) headers.etag = rep.etag;
    if (rep.lastModified !== undefined) headers['last-modified'] = rep.lastModified;
    if (decision.kind === 'unsatisfiable') {
      await reader.close();
      res.writeHead(416, { ...headers, 'content-range': `bytes */${rep.size}`, 'content-length': '0' });
      res.end();
      return;
    }
    const [status, start, end] =
      decision.kind === 'partial' ? [206, decision.start, decision.end] : [200, 0, rep.size - 1];
    headers['content-length'] = String(end - start + 1);
    if (status === 206) headers['content-range'] = `bytes ${start}-${end}/${rep.size}`;
    res.writeHead(status, headers);
    if (req.method === 'HEAD') {
      await reader.close();
      res.end();
      return;
    }
    try {
      await sendRange(res, reader, start, end, {
        fill,
        continueFrom: this.#continueFromStorage(exchange, origin, rep, end),
        onChunk: (bytes) => (exchange.bytesOut += bytes),
      });
    } catch (err) {
      // Cut the connection: the device resumes with Range instead of taking a short body.
      exchange.cut(err, () => storageOrCacheFailure(err, origin), 'storage');
    }
  }

  /**
   * When the cache volume fails under a download (full, read-only, I/O error, a fill aborted
   * for it), the rest of the range comes from storage: a full disk never fails a device's
   * update. `If-Range` on the entry's validator and an exact Content-Range
   * check guarantee the bytes belong to the same artifact; otherwise the device's connection
   * is cut and it resumes later, as for any other failure.
   */
  #continueFromStorage(exchange: Exchange, origin: URL, rep: Representation, end: number): RangeContinuation {
    return async (position, cause) => {
      const validator = rep.etag ?? rep.lastModified;
      if (validator === undefined) throw cause;
      this.options.logger.warn(
        { requestId: exchange.requestId, position, error: cause.message },
        'cache read failed: serving the rest of the download from storage',
      );
      const response = await this.options.fetchOrigin(origin, {
        range: `bytes=${position}-${end}`,
        'if-range': validator,
      });
      const contentRange = response.headers['content-range'];
      if (response.statusCode !== 206 || contentRange !== `bytes ${position}-${end}/${rep.size}`) {
        discardBody(response.body);
        throw new GatewayError(
          'MGW_UPSTREAM_BAD_RESPONSE',
          `storage answered ${response.statusCode} to the rest of a download the cache could not serve`,
          { hint: 'The artifact changed or storage ignores Range; the device resumes later.' },
        );
      }
      return (response.body as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
    };
  }

  /**
   * Stream straight from storage without caching (proxy-only mode, or an artifact the cache
   * cannot take). `Range`/`If-Range` are forwarded; redirects are never followed or relayed.
   */
  async #proxy(exchange: Exchange, origin: URL, prefetched?: OriginResponse): Promise<void> {
    const { req, res } = exchange;
    let response = prefetched;
    if (response !== undefined && req.headers.range !== undefined && response.statusCode === 200) {
      discardBody(response.body); // a full-body response fetched for the cache; the device wants a range
      response = undefined;
    }
    if (response === undefined) {
      const headers: Record<string, string> = {};
      if (typeof req.headers.range === 'string') headers.range = req.headers.range;
      if (typeof req.headers['if-range'] === 'string') headers['if-range'] = req.headers['if-range'];
      response = await this.options.fetchOrigin(origin, headers);
    }
    if (response.statusCode >= 300 && response.statusCode < 400) {
      discardBody(response.body);
      throw new GatewayError(
        'MGW_UPSTREAM_BAD_RESPONSE',
        `storage answered ${response.statusCode} (redirect not followed)`,
        {
          hint: 'The gateway never follows storage redirects; fix the storage URL the Mender server hands out.',
        },
      );
    }
    const headers: Record<string, string> = {};
    for (const name of STORAGE_HEADERS) {
      const value = response.headers[name];
      if (typeof value === 'string') headers[name] = value;
    }
    headers['cache-control'] = 'private, no-transform';
    res.writeHead(response.statusCode, headers);
    if (req.method === 'HEAD') {
      discardBody(response.body);
      res.end();
      return;
    }
    response.body.on('data', (chunk: Buffer) => (exchange.bytesOut += chunk.length));
    try {
      await pipeToResponse(response.body, res);
    } catch (err) {
      exchange.cut(err, () => storageOrCacheFailure(err, origin), 'storage');
    }
  }
}

/** The declared length of a storage response a bypass relays, when it has one. */
function contentLength(response: OriginResponse | undefined): number | undefined {
  const value = Number(response?.headers['content-length']);
  return Number.isSafeInteger(value) && value >= 0 ? value : undefined;
}

/** File-system codes of a failing cache volume; anything else in a download failed at storage. */
const CACHE_VOLUME_CODES = new Set(['ENOSPC', 'EIO', 'EROFS', 'ENOENT', 'EACCES', 'EPERM', 'EDQUOT']);

function storageOrCacheFailure(err: unknown, origin: URL): GatewayError {
  if (isGatewayError(err)) return err;
  const code = errnoCode(err);
  if (code !== undefined && CACHE_VOLUME_CODES.has(code))
    return new GatewayError('MGW_CACHE_IO', `artifact cache read failed (${code})`, {
      cause: err,
      hint: 'Check the cache volume (free space, permissions, disk errors); devices resume.',
    });
  return upstreamFailure(err, origin.host);
}
