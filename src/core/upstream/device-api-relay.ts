import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import type { Dispatcher } from 'undici';
import { filterRawHeaders, filterResponseHeaders } from '../http/hop-by-hop.js';
import { appendForwardedFor } from '../http/client-address.js';
import { sendJsonError } from '../http/json-response.js';
import { upstreamFailure } from './upstream-error.js';

/** Per-request facts the relay needs and reports back. */
export interface RelayExchange {
  clientIp: string;
  requestId: string;
  /** Response bytes written to the device (body only). */
  bytesOut: number;
  /** Set when the upstream call failed; the device got a 502/504. */
  upstreamError?: Error;
}

/** Request headers the relay replaces itself. */
const REPLACED = new Set(['host', 'x-forwarded-for']);

/** A request carries a body when it says so (RFC 9112 §6.3); GETs from devices do not. */
function hasBody(req: IncomingMessage): boolean {
  return req.headers['transfer-encoding'] !== undefined || (req.headers['content-length'] ?? '0') !== '0';
}

/**
 * Generic relay of the Mender device API (protocol doc §1.1 "any other /api/devices/**":
 * pass-through). Bodies are streamed both ways and never buffered, so a multi-megabyte
 * deployment log or a chunked upload from a 3.x client passes with flat memory; the auth
 * request body therefore reaches upstream byte-exact, which `X-MEN-Signature` requires
 * (protocol doc §2.1).
 */
export class DeviceApiRelay {
  readonly #origin: string;
  readonly #basePath: string;
  readonly #host: string;
  readonly #dispatcher: Dispatcher;

  constructor(upstream: URL, dispatcher: Dispatcher) {
    this.#origin = upstream.origin;
    this.#basePath = upstream.pathname.replace(/\/+$/, '');
    // Host = upstream host (protocol doc §6.4; mtls-ambassador 1.0.2 fixed exactly this).
    this.#host = upstream.host;
    this.#dispatcher = dispatcher;
  }

  /** Headers for the upstream request: hop-by-hop removed, Host and X-Forwarded-For set (§7). */
  upstreamHeaders(req: IncomingMessage, clientIp: string): string[] {
    const headers = filterRawHeaders(req.rawHeaders, REPLACED);
    headers.push('host', this.#host, 'x-forwarded-for', appendForwardedFor(req.headers['x-forwarded-for'], clientIp));
    return headers;
  }

  async relay(req: IncomingMessage, res: ServerResponse, exchange: RelayExchange): Promise<void> {
    const abort = new AbortController();
    // A device that goes away must not leave an upstream request running.
    const onClose = (): void => {
      if (!res.writableFinished) abort.abort();
    };
    res.once('close', onClose);

    let upstream: Dispatcher.ResponseData;
    try {
      upstream = await this.#dispatcher.request({
        origin: this.#origin,
        path: this.#basePath + (req.url ?? '/'),
        method: req.method as Dispatcher.HttpMethod,
        headers: this.upstreamHeaders(req, exchange.clientIp),
        body: hasBody(req) ? req : null,
        signal: abort.signal,
      });
    } catch (err) {
      res.off('close', onClose);
      if (abort.signal.aborted) return;
      const failure = upstreamFailure(err, this.#origin);
      exchange.upstreamError = failure;
      sendJsonError(res, failure.httpStatus, failure.message, exchange.requestId);
      return;
    }

    res.writeHead(upstream.statusCode, filterResponseHeaders(upstream.headers));
    upstream.body.on('data', (chunk: Buffer) => {
      exchange.bytesOut += chunk.length;
    });
    try {
      await pipeline(upstream.body, res);
    } catch (err) {
      // Headers are on the wire: cut the connection so the device never takes a
      // truncated body for a complete one (protocol doc §7).
      if (!abort.signal.aborted) exchange.upstreamError = upstreamFailure(err, this.#origin);
      res.destroy();
    } finally {
      res.off('close', onClose);
    }
  }
}
