import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { randomUUID } from 'node:crypto';
import type { GatewayError } from '../errors.js';
import { splitTarget } from '../http/device-path.js';
import { sendJsonError } from '../http/json-response.js';
import { errnoCode } from '../file-errors.js';

export type ListenerKind = 'http' | 'https';

/** The verified client certificate of an mTLS connection. */
export interface PeerCertificate {
  serial: string;
  subject: string;
}

/**
 * How an exchange ended, typed, so that what is counted and shown is decided by what happened,
 * not by reading error codes: a device's refused request is never an upstream failure, and only
 * an upstream failure can mark the gateway's uplink as broken in `/ready`.
 */
export type ExchangeOutcome =
  /** Answered by the gateway or relayed from upstream, whatever the status. */
  | { kind: 'completed' }
  /** The gateway refused the device's request (bad input, forbidden, not found, too large). */
  | { kind: 'refused'; error: GatewayError }
  /** The upstream Mender server could not be reached, was too slow, or answered unusably. */
  | { kind: 'upstream-failed'; error: GatewayError }
  /** Artifact storage (a presigned link's host) failed the same ways. */
  | { kind: 'storage-failed'; error: GatewayError }
  /** The cache volume failed in a way that reached the device. */
  | { kind: 'cache-fault'; error: GatewayError }
  /** A bug or a gateway-side failure. */
  | { kind: 'internal'; error: GatewayError };

/** How the cache answered a download: a complete entry, a fill started or joined, or bypassed. */
export interface CacheLookup {
  result: 'hit' | 'miss' | 'coalesced' | 'bypass';
  source: 'cache' | 'fill' | 'upstream';
}

/** Which far side a `remote` error came from, for the exchange's outcome. */
export type RemoteSide = 'upstream' | 'storage';

const COMPLETED: ExchangeOutcome = { kind: 'completed' };

/** A connection Node handed over for an `Upgrade` request (see `detached-socket.ts`). */
export interface UpgradeSocket {
  socket: Socket;
  head: Buffer;
}

/**
 * One device request and its answer: everything per-request lives here, owned by `server/`.
 * Interceptors read the request from it, answer through it, and record how it went.
 */
export class Exchange {
  readonly id: string = randomUUID();
  readonly startedAt: bigint = process.hrtime.bigint();
  readonly path: string;
  /** Response body bytes written to the device. */
  bytesOut = 0;
  outcome: ExchangeOutcome = COMPLETED;
  /** How the artifact cache answered this download, if it did (for the bytes-saved metrics). */
  cacheLookup: CacheLookup | undefined;
  /** Set for a WebSocket tunnel, whose status is not the response object's. */
  statusOverride: number | undefined;

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly listener: ListenerKind,
    readonly clientIp: string,
    /** Called once when the exchange ends (see {@link end}). */
    private readonly onEnd: (exchange: Exchange) => void,
    /** Present for requests that asked to upgrade the connection. */
    readonly upgrade?: UpgradeSocket,
  ) {
    this.path = splitTarget(req.url ?? '/').path;
  }

  /** The device's verified certificate, set by mTLS admission (HTTPS with mTLS only). */
  certificate: PeerCertificate | undefined;

  #ended = false;
  #takenOver = false;
  #lifetime: AbortController | undefined;

  /**
   * Aborts when the exchange ends, whichever way (answered, the device hung up, the connection
   * was cut). What is held for the exchange (cache pins) is tied to it, so it is released on
   * every path, also while a handler is still waiting for something.
   */
  get lifetime(): AbortSignal {
    this.#lifetime ??= new AbortController();
    if (this.#ended) this.#lifetime.abort();
    return this.#lifetime.signal;
  }

  /** The response closed: the exchange ends, unless a tunnel took the connection over. */
  responseClosed(): void {
    if (!this.#takenOver) this.end();
  }

  /** A WebSocket tunnel owns the connection now: it ends the exchange itself, with its status. */
  takeOver(): void {
    this.#takenOver = true;
  }

  /** The exchange is over: counted, logged and forgotten (once). */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#lifetime?.abort();
    this.onEnd(this);
  }

  /** The id devices see in error bodies and operators in logs. */
  get requestId(): string {
    return this.id;
  }

  get status(): number {
    return this.statusOverride ?? this.res.statusCode;
  }

  /** Record what went wrong without answering (an answer is already under way, or was cut). */
  record(error: GatewayError, side: RemoteSide = 'upstream'): void {
    switch (error.blame) {
      case 'device':
        this.outcome = { kind: 'refused', error };
        return;
      case 'remote':
        this.outcome = { kind: side === 'upstream' ? 'upstream-failed' : 'storage-failed', error };
        return;
      case 'cache':
        this.outcome = { kind: 'cache-fault', error };
        return;
      case 'gateway':
        this.outcome = { kind: 'internal', error };
        return;
    }
  }

  /** Answer with the error's status and a JSON body, and record it. */
  fail(error: GatewayError, side: RemoteSide = 'upstream'): void {
    this.record(error, side);
    // A body that stopped arriving was not drained: the connection cannot carry another request,
    // so Node closes it once this answer is out.
    if (error.code === 'MGW_REQUEST_TIMEOUT') this.res.shouldKeepAlive = false;
    // The access line and the byte counters count the gateway's own answers too.
    this.bytesOut += sendJsonError(this.res, error.httpStatus, error.message, this.id);
  }

  /**
   * The body failed after the headers went out: cut the connection, so the device never takes a
   * truncated body for a complete one and resumes instead (docs/protocol.md). A device that hung
   * up shows as a premature close and is no failure; anything else is recorded as `failure()`.
   */
  cut(err: unknown, failure: () => GatewayError, side: RemoteSide = 'upstream'): void {
    if (errnoCode(err) !== 'ERR_STREAM_PREMATURE_CLOSE') this.record(failure(), side);
    this.res.destroy();
  }

  /** The error of a failed or refused exchange, for logs. */
  get error(): GatewayError | undefined {
    return this.outcome.kind === 'completed' ? undefined : this.outcome.error;
  }
}
