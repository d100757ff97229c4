import type { Readable } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import { GatewayError } from '../errors.js';
import { errnoCode } from '../file-errors.js';
import type { Logger } from '../logger.js';
import type {
  ArtifactEntry,
  ArtifactStore,
  ArtifactWriter,
  NewArtifactEntry,
  RandomAccessReader,
  StoreOpenReport,
} from './artifact-store.js';
import { ArtifactFill } from './artifact-fill.js';
import { evictFor } from './cache-eviction.js';
import { cacheIoError } from './cache-io-error.js';
import { isDiskFault } from './disk-fault.js';
import type { EntryPins } from './entry-pins.js';
import { discardBody } from '../http/discard-body.js';

/** The parts of an upstream storage response the cache needs (undici's ResponseData fits). */
export interface OriginResponse {
  statusCode: number;
  headers: Record<string, string | string[] | undefined>;
  body: Readable;
}

/** Fetches `origin` as is: its origin, pathname and search, the URL that was checked. */
export type OriginFetcher = (origin: URL, headers?: Record<string, string>) => Promise<OriginResponse>;

export interface ArtifactRef {
  key: string;
  origin: URL;
  artifactId: string | undefined;
  artifactName: string | undefined;
}

/** How a request for an artifact will be answered. Every result holds a pin until `release()`. */
export type CacheLookup =
  | { kind: 'entry'; entry: ArtifactEntry; reader: RandomAccessReader; release(): void }
  /** `started`: this request began the upstream download (a miss); otherwise it joined one. */
  | { kind: 'fill'; fill: ArtifactFill; reader: RandomAccessReader; started: boolean; release(): void }
  /** Not cacheable now (does not fit, no length, upstream error status): serve straight through. */
  | { kind: 'bypass'; reason: string; response: OriginResponse | undefined; release(): void };

export interface CacheEvents {
  /** `fill` is live: its `written` grows as storage's bytes arrive. */
  fillStarted?(ref: ArtifactRef, fill: ArtifactFill): void;
  fillFinished?(ref: ArtifactRef, entry: ArtifactEntry): void;
  fillFailed?(ref: ArtifactRef, error: Error): void;
  evicted?(entry: ArtifactEntry, reason: string): void;
}

/** Resumes of one fill after its storage connection dropped, and the first back-off. */
const FILL_RESUMES = 5;
const RESUME_BACKOFF_MS = 250;

/** Errors a resumed download cannot cure: storage sent too much, or the cache volume failed. */
function isFatalFillError(err: unknown): boolean {
  return (
    err instanceof GatewayError && (err.code === 'MGW_UPSTREAM_BAD_RESPONSE' || err.code === 'MGW_CACHE_IO')
  );
}

function exchangeEnded(): GatewayError {
  return new GatewayError(
    'MGW_BAD_REQUEST',
    'the device closed the connection before the artifact was served',
    {
      hint: 'The device resumes the download later.',
    },
  );
}

type StartResult = { fill: ArtifactFill } | { bypass: string; response: OriginResponse | undefined };

function header(headers: OriginResponse['headers'], name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * Safety margin kept free on the cache volume: 5 % of it, at most 64 MiB, so metadata
 * writes and the rest of the system never hit a full disk because of the cache.
 */
export function freeSpaceMargin(volumeBytes: number): number {
  return Math.min(64 * 1024 * 1024, Math.floor(volumeBytes * 0.05));
}

/**
 * The cache in front of artifact storage: at most one upstream download per artifact at a
 * time (single flight), devices served from complete entries or from the growing fill,
 * room made by eviction before a fill and on ENOSPC during one, and a pass-through when
 * an artifact cannot be cached, so a full cache never fails an update.
 */
export class ArtifactCache {
  readonly #fills = new Map<string, Promise<ArtifactFill | undefined>>();
  readonly #active = new Map<ArtifactFill, OriginResponse>();

  constructor(
    readonly store: ArtifactStore,
    readonly pins: EntryPins,
    private readonly fetchOrigin: OriginFetcher,
    private readonly logger: Logger,
    private readonly events: CacheEvents = {},
    private readonly options: { resumeBackoffMs?: number } = {},
  ) {}

  /** Free space kept on the volume beyond what a fill needs (see freeSpaceMargin). */
  #marginBytes = 0;
  #closing = false;
  #diskFault: { code: string; message: string; at: string } | undefined;

  /** The last cache-volume fault, until a fill succeeds again (for /ready). */
  get diskFault(): { code: string; message: string; at: string } | undefined {
    return this.#diskFault;
  }

  /** Remember and log a fault of the cache volume; returns the bypass reason. */
  #noteDiskFault(error: GatewayError, ref: ArtifactRef): string {
    const cause = errnoCode(error.cause) ?? error.code;
    this.#diskFault = { code: cause, message: error.message, at: new Date().toISOString() };
    this.logger.warn(
      { key: ref.key, artifact: ref.artifactName, error: error.message, hint: error.hint },
      'cache volume fault: serving from storage',
    );
    return `cache volume fault (${cause})`;
  }

  async open(): Promise<StoreOpenReport> {
    const report = await this.store.open();
    this.#marginBytes = freeSpaceMargin(await this.store.capacity());
    return report;
  }

  /** Fills in progress (for metrics and shutdown). */
  get fillsInProgress(): number {
    return this.#active.size;
  }

  /**
   * Look an artifact up, pinning its entry. The pin belongs to `lifetime`, the device's
   * exchange (`Exchange.lifetime`): it is released when that ends, also while the lookup still
   * waits for storage's first bytes, or earlier by `release()`. A lookup that completes after
   * the exchange ended is disposed of (reader closed, storage response discarded) and rejected.
   */
  async acquire(ref: ArtifactRef, lifetime?: AbortSignal): Promise<CacheLookup> {
    const { key } = ref;
    // A function, not a narrowed property: the signal can abort during any await below.
    const ended = (): boolean => lifetime?.aborted === true;
    if (ended()) throw exchangeEnded();
    await this.pins.pin(key);
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      lifetime?.removeEventListener('abort', release);
      this.pins.unpin(key);
    };
    lifetime?.addEventListener('abort', release, { once: true });
    let lookup: CacheLookup;
    try {
      if (ended()) throw exchangeEnded();
      lookup = await this.#lookup(ref, release);
    } catch (err) {
      release();
      throw err;
    }
    if (ended()) {
      release();
      if (lookup.kind === 'bypass') {
        if (lookup.response !== undefined) discardBody(lookup.response.body);
      } else {
        await lookup.reader.close().catch(() => undefined);
      }
      throw exchangeEnded();
    }
    return lookup;
  }

  async #lookup(ref: ArtifactRef, release: () => void): Promise<CacheLookup> {
    const { key } = ref;
    for (let attempt = 0; attempt < 3; attempt++) {
      let existing: Awaited<ReturnType<ArtifactStore['openReader']>>;
      try {
        existing = await this.store.openReader(key);
      } catch (err) {
        if (!isDiskFault(err)) throw err;
        // The entry cannot be read (EIO, volume gone): serve from storage: a full or failing cache never fails an update.
        const reason = this.#noteDiskFault(
          cacheIoError(err, this.store.location, { by: 'serve', doing: 'opening a cache entry' }),
          ref,
        );
        return { kind: 'bypass', reason, response: undefined, release };
      }
      if (existing !== undefined) return { kind: 'entry', ...existing, release };
      // From here to the map update there is no await: concurrent misses join one fill.
      let pending = this.#fills.get(key);
      if (pending === undefined) {
        if (this.store.get(key) !== undefined) continue; // a fill committed meanwhile
        const started = this.#startFill(ref);
        pending = started.then((r) => ('fill' in r ? r.fill : undefined));
        // Waiters get a failed start through `pending`; with none, it must not be an unhandled rejection.
        pending.catch(() => undefined);
        this.#fills.set(key, pending);
        let result: StartResult;
        try {
          result = await started;
        } catch (err) {
          // Storage unreachable (or no room could be made): forget the attempt so the next request retries.
          this.#fills.delete(key);
          throw err;
        }
        if ('bypass' in result) {
          this.#fills.delete(key);
          return { kind: 'bypass', reason: result.bypass, response: result.response, release };
        }
        try {
          return {
            kind: 'fill',
            fill: result.fill,
            reader: await result.fill.openReader(),
            started: true,
            release,
          };
        } catch (err) {
          // A small fill can be committed and renamed before its own requester opens it:
          // once the fill has finished, the next round finds the complete entry.
          if (errnoCode(err) !== 'ENOENT') throw err;
          await result.fill.finished.catch(() => undefined);
          continue;
        }
      }
      const fill = await pending;
      if (fill === undefined)
        return { kind: 'bypass', reason: 'the artifact is not being cached', response: undefined, release };
      if (fill.state !== 'failed') {
        // Open before checking state again: after the final rename the partial path is gone.
        try {
          return { kind: 'fill', fill, reader: await fill.openReader(), started: false, release };
        } catch (err) {
          // Renamed into a complete entry under us: wait for the fill to publish it, then retry
          // (never fall back to a second upstream download: one download per artifact).
          if (errnoCode(err) !== 'ENOENT') throw err;
          await fill.finished.catch(() => undefined);
        }
      } else {
        const failure = await fill.finished.then(
          () => 'unknown',
          (e: unknown) => (e instanceof Error ? e.message : String(e)),
        );
        throw new GatewayError('MGW_UPSTREAM_BAD_RESPONSE', `download of the artifact failed: ${failure}`, {
          hint: 'The device resumes later and the gateway fetches the artifact again.',
        });
      }
    }
    return {
      kind: 'bypass',
      reason: 'entry changed repeatedly while looking it up',
      response: undefined,
      release,
    };
  }

  async #startFill(ref: ArtifactRef): Promise<StartResult> {
    const response = await this.fetchOrigin(ref.origin);
    try {
      return await this.#prepareFill(ref, response);
    } catch (err) {
      discardBody(response.body); // never leave the storage response open
      throw err;
    }
  }

  async #prepareFill(ref: ArtifactRef, response: OriginResponse): Promise<StartResult> {
    if (response.statusCode !== 200) {
      return { bypass: `storage answered ${response.statusCode}`, response };
    }
    const size = Number(header(response.headers, 'content-length'));
    const encoding = header(response.headers, 'content-encoding');
    if (!Number.isSafeInteger(size) || size < 0)
      return { bypass: 'storage sent no Content-Length', response };
    if (encoding !== undefined && encoding !== 'identity')
      return { bypass: `storage sent Content-Encoding ${encoding}`, response };

    const need = size + this.#marginBytes;
    let freeBytes: number;
    try {
      ({ freeBytes } = await evictFor(this.store, this.pins, 0));
      if (freeBytes < need) {
        const result = await evictFor(this.store, this.pins, need);
        for (const entry of result.evicted) this.#evicted(entry, 'make room for a new artifact');
        freeBytes = result.freeBytes;
      }
    } catch (err) {
      if (!isDiskFault(err)) throw err;
      return {
        bypass: this.#noteDiskFault(
          cacheIoError(err, this.store.location, { by: 'serve', doing: 'making room' }),
          ref,
        ),
        response,
      };
    }
    if (freeBytes < need) {
      this.logger.warn(
        { key: ref.key, artifact: ref.artifactName, size, freeBytes },
        'artifact does not fit in the cache: serving it uncached',
      );
      return { bypass: 'the artifact does not fit in the cache', response };
    }

    const info: NewArtifactEntry = {
      key: ref.key,
      origin: `${ref.origin.protocol}//${ref.origin.host}${ref.origin.pathname}`,
      artifactId: ref.artifactId,
      artifactName: ref.artifactName,
      size,
      etag: header(response.headers, 'etag'),
      lastModified: header(response.headers, 'last-modified'),
      contentType: header(response.headers, 'content-type'),
    };
    let writer: ArtifactWriter;
    try {
      writer = await this.store.beginWrite(ref.key);
    } catch (err) {
      // Read-only, removed or failing volume: the update goes on uncached.
      if (!isDiskFault(err)) throw err;
      return {
        bypass: this.#noteDiskFault(
          cacheIoError(err, this.store.location, { by: 'serve', doing: 'starting a fill' }),
          ref,
        ),
        response,
      };
    }
    const fill = new ArtifactFill(ref.key, info, writer);
    this.#active.set(fill, response);
    this.events.fillStarted?.(ref, fill);
    this.logger.info({ key: ref.key, artifact: ref.artifactName, size }, 'cache fill started');
    void this.#runFill(ref, fill, writer, response);
    return { fill };
  }

  async #runFill(
    ref: ArtifactRef,
    fill: ArtifactFill,
    writer: ArtifactWriter,
    response: OriginResponse,
  ): Promise<void> {
    let body = response.body;
    let lost: unknown;
    try {
      for (let resumes = 0; ; resumes++) {
        try {
          // A failed resume (storage still unreachable) counts as an attempt like a lost body.
          if (lost !== undefined)
            body = await this.#resume(ref, fill, writer.bytesWritten, resumes - 1, lost);
          for await (const chunk of body as AsyncIterable<Buffer>) {
            if (writer.bytesWritten + chunk.length > fill.size) {
              throw new GatewayError(
                'MGW_UPSTREAM_BAD_RESPONSE',
                `storage sent more than its Content-Length ${fill.size}`,
                { hint: 'The download was discarded; check the storage service.' },
              );
            }
            await this.#writeWithRetry(ref, fill, writer, chunk);
            fill.progress(chunk.length);
          }
          if (writer.bytesWritten !== fill.size)
            throw new Error(`storage ended the body after ${writer.bytesWritten} of ${fill.size} bytes`);
          break;
        } catch (err) {
          // Every byte of the Content-Length arrived and only the end of the exchange was lost
          // (the link dropped right after): the artifact is complete, keep it.
          if (writer.bytesWritten === fill.size && !isFatalFillError(err)) break;
          if (isFatalFillError(err) || this.#closing || resumes >= FILL_RESUMES) throw err;
          discardBody(body);
          lost = err;
        }
      }
      const entry = await writer.commit(fill.info).catch((err: unknown) => {
        throw isDiskFault(err)
          ? cacheIoError(err, this.store.location, { by: 'serve', doing: 'publishing a fill' })
          : err;
      });
      this.#diskFault = undefined;
      this.#fills.delete(ref.key);
      fill.complete(entry);
      this.events.fillFinished?.(ref, entry);
      this.logger.info(
        { key: ref.key, artifact: ref.artifactName, size: entry.size, sha256: entry.sha256 },
        'cache fill finished',
      );
    } catch (err) {
      discardBody(body);
      await writer.abort();
      this.#fills.delete(ref.key);
      const error = err instanceof Error ? err : new Error(String(err));
      if (error instanceof GatewayError && error.code === 'MGW_CACHE_IO') this.#noteDiskFault(error, ref);
      fill.fail(error);
      this.events.fillFailed?.(ref, error);
      this.logger.warn(
        {
          key: ref.key,
          artifact: ref.artifactName,
          written: fill.written,
          size: fill.size,
          error: error.message,
        },
        'cache fill failed: partial download discarded',
      );
    } finally {
      this.#active.delete(fill);
    }
  }

  /**
   * Continue a fill whose storage connection dropped (satellite and mine links) with `Range:
   * bytes=<written>-` and `If-Range`, so the artifact still crosses the uplink
   * once. Only a 206 for exactly the missing bytes of the same representation is accepted;
   * without an ETag or Last-Modified the gateway cannot prove that, and gives up.
   */
  async #resume(
    ref: ArtifactRef,
    fill: ArtifactFill,
    written: number,
    resumes: number,
    cause: unknown,
  ): Promise<OriginResponse['body']> {
    const validator = fill.info.etag ?? fill.info.lastModified;
    if (validator === undefined)
      throw new GatewayError(
        'MGW_UPSTREAM_BAD_RESPONSE',
        `storage connection lost after ${written} of ${fill.size} bytes (${cause instanceof Error ? cause.message : String(cause)})`,
        {
          hint: 'Storage sent no ETag or Last-Modified, so the download cannot be resumed safely; it starts again on the next request.',
        },
      );
    this.logger.warn(
      {
        key: ref.key,
        artifact: ref.artifactName,
        written,
        size: fill.size,
        attempt: resumes + 1,
        error: cause instanceof Error ? cause.message : String(cause),
      },
      'storage connection lost during a cache fill: resuming',
    );
    await delay((this.options.resumeBackoffMs ?? RESUME_BACKOFF_MS) * 2 ** resumes);
    if (this.#closing) throw cause;
    const response = await this.fetchOrigin(ref.origin, {
      range: `bytes=${written}-${fill.size - 1}`,
      'if-range': validator,
    });
    this.#active.set(fill, response);
    const contentRange = header(response.headers, 'content-range');
    if (response.statusCode !== 206 || contentRange !== `bytes ${written}-${fill.size - 1}/${fill.size}`) {
      discardBody(response.body);
      throw new GatewayError(
        'MGW_UPSTREAM_BAD_RESPONSE',
        `storage answered ${response.statusCode}${contentRange === undefined ? '' : ` (${contentRange})`} to a resumed download`,
        { hint: 'The artifact changed or storage ignores Range; the next request downloads it again.' },
      );
    }
    return response.body;
  }

  /** ENOSPC during a fill (another writer filled the volume): evict and try once more (docs/protocol.md §4.6). */
  async #writeWithRetry(
    ref: ArtifactRef,
    fill: ArtifactFill,
    writer: ArtifactWriter,
    chunk: Buffer,
  ): Promise<void> {
    try {
      await writer.write(chunk);
    } catch (err) {
      if (errnoCode(err) !== 'ENOSPC')
        throw cacheIoError(err, this.store.location, { by: 'serve', doing: 'writing a fill' });
      const result = await evictFor(this.store, this.pins, fill.size - fill.written + this.#marginBytes);
      for (const entry of result.evicted) this.#evicted(entry, 'disk full during a fill');
      this.logger.warn(
        { key: ref.key, evicted: result.evicted.length },
        'cache volume full during a fill: evicted and retrying',
      );
      await writer.write(chunk).catch((again: unknown) => {
        throw cacheIoError(again, this.store.location, { by: 'serve', doing: 'writing a fill' });
      });
    }
  }

  #evicted(entry: ArtifactEntry, reason: string): void {
    this.events.evicted?.(entry, reason);
    this.logger.info(
      {
        key: entry.key,
        artifact: entry.artifactName,
        size: entry.size,
        lastAccessAt: entry.lastAccessAt,
        reason,
      },
      'cache entry evicted',
    );
  }

  /** Abort fills still running (shutdown): their partial files are discarded. */
  async close(): Promise<void> {
    this.#closing = true;
    // Destroying the upstream body makes each fill loop fail and discard its partial file.
    for (const response of this.#active.values()) response.body.destroy(new Error('gateway shutting down'));
    await this.pins.clear();
    await this.store.close();
  }
}
