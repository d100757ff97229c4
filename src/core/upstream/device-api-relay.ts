import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import { filterRawHeaders, filterResponseHeaders } from '../http/hop-by-hop.js';
import { appendForwardedFor } from '../http/client-address.js';
import { sendJsonError } from '../http/json-response.js';
import type { GatewayError } from '../errors.js';
import { upstreamFailure } from './upstream-error.js';
import { RequestCancel } from './request-cancel.js';
import { pipeToResponse } from '../http/pipe-to-response.js';

/** Per-request facts the relay needs and reports back. */
export interface RelayExchange {
  clientIp: string;
  requestId: string;
  /** Response bytes written to the device (body only). */
  bytesOut: number;
  /** Set when the upstream call failed; the device got a 502/504. */
  upstreamError?: Error;
}

export interface SendOptions {
  /** Extra request headers (lower-case) to drop, e.g. `accept-encoding` for bodies we rewrite. */
  dropHeaders?: readonly string[];
  /** Replace the request body (already read by an interceptor); its Content-Length is set. */
  body?: Buffer;
}

/** Request headers the relay replaces itself. */
const REPLACED = ['host', 'x-forwarded-for'];

/** A request carries a body when it says so (RFC 9112 §6.3); GETs from devices do not. */
function hasBody(req: IncomingMessage): boolean {
  return req.headers['transfer-encoding'] !== undefined || (req.headers['content-length'] ?? '0') !== '0';
}

/**
 * Relay of the Mender device API to the upstream server (protocol doc §1.1: everything
 * under /api/devices/ passes through unless an interceptor owns it). Bodies are streamed
 * both ways and never buffered, so a multi-megabyte deployment log or a chunked upload
 * from a 3.x client passes with flat memory, and the auth request reaches upstream
 * byte-exact, which `X-MEN-Signature` requires (§2.1).
 */
export class DeviceApiRelay {
  readonly #origin: string;
  readonly #basePath: string;
  readonly #host: string;
  readonly #dispatcher: Dispatcher;

  /** Called with seconds from sending to response headers (metrics). */
  onResponseTime: ((seconds: number) => void) | undefined;

  constructor(upstream: URL, dispatcher: Dispatcher) {
    this.#origin = upstream.origin;
    this.#basePath = upstream.pathname.replace(/\/+$/, '');
    // Host = upstream host (protocol doc §6.4; mtls-ambassador 1.0.2 fixed exactly this).
    this.#host = upstream.host;
    this.#dispatcher = dispatcher;
  }

  get origin(): string {
    return this.#origin;
  }

  /** Headers for the upstream request: hop-by-hop removed, Host and X-Forwarded-For set (§7). */
  upstreamHeaders(req: IncomingMessage, clientIp: string, drop: readonly string[] = []): string[] {
    const headers = filterRawHeaders(req.rawHeaders, new Set([...REPLACED, ...drop]));
    headers.push(
      'host',
      this.#host,
      'x-forwarded-for',
      appendForwardedFor(req.headers['x-forwarded-for'], clientIp),
    );
    return headers;
  }

  /**
   * Send the device's request upstream and return the response for the caller to relay or
   * transform. A failure before the response becomes a GatewayError (502/504). The upstream
   * request is aborted if the device goes away first.
   */
  async send(
    req: IncomingMessage,
    res: ServerResponse,
    exchange: RelayExchange,
    options: SendOptions = {},
  ): Promise<Dispatcher.ResponseData | undefined> {
    const abort = new RequestCancel();
    const onClose = (): void => {
      if (!res.writableFinished) abort.abort();
    };
    res.once('close', onClose);
    const drop =
      options.body === undefined
        ? (options.dropHeaders ?? [])
        : [...(options.dropHeaders ?? []), 'content-length', 'transfer-encoding'];
    const headers = this.upstreamHeaders(req, exchange.clientIp, drop);
    if (options.body !== undefined) headers.push('content-length', String(options.body.length));
    const started = process.hrtime.bigint();
    try {
      const response = await this.#dispatcher.request({
        origin: this.#origin,
        path: this.#basePath + (req.url ?? '/'),
        method: req.method as Dispatcher.HttpMethod,
        headers,
        body: options.body ?? (hasBody(req) ? req : null),
        signal: abort,
      });
      response.body.once('close', () => res.off('close', onClose));
      this.onResponseTime?.(Number(process.hrtime.bigint() - started) / 1e9);
      return response;
    } catch (err) {
      res.off('close', onClose);
      if (abort.aborted) return undefined;
      throw upstreamFailure(err, this.#origin);
    }
  }

  /** Stream an upstream response to the device unchanged (minus hop-by-hop headers). */
  async respond(
    upstream: Dispatcher.ResponseData,
    res: ServerResponse,
    exchange: RelayExchange,
  ): Promise<void> {
    res.writeHead(upstream.statusCode, filterResponseHeaders(upstream.headers));
    upstream.body.on('data', (chunk: Buffer) => {
      exchange.bytesOut += chunk.length;
    });
    try {
      await pipeToResponse(upstream.body, res);
    } catch (err) {
      // Headers are on the wire: cut the connection so the device never takes a
      // truncated body for a complete one (protocol doc §7).
      // A device that hangs up shows as a premature close; anything else failed upstream.
      if ((err as NodeJS.ErrnoException).code !== 'ERR_STREAM_PREMATURE_CLOSE')
        exchange.upstreamError = upstreamFailure(err, this.#origin);
      res.destroy();
    }
  }

  /** Plain pass-through: send, then respond; upstream failures become JSON 502/504. */
  async relay(req: IncomingMessage, res: ServerResponse, exchange: RelayExchange): Promise<void> {
    let upstream: Dispatcher.ResponseData | undefined;
    try {
      upstream = await this.send(req, res, exchange);
    } catch (err) {
      failExchange(res, exchange, err as GatewayError);
      return;
    }
    if (upstream !== undefined) await this.respond(upstream, res, exchange);
  }
}

/** Answer a device whose exchange failed with the error's status and a JSON body. */
export function failExchange(res: ServerResponse, exchange: RelayExchange, error: GatewayError): void {
  exchange.upstreamError = error;
  // A body that stopped arriving (readBoundedBody) was not drained: the connection cannot carry
  // another request, so Node closes it once this answer is out (issue #7, slow-body clients).
  if (error.code === 'MGW_REQUEST_TIMEOUT') res.shouldKeepAlive = false;
  sendJsonError(res, error.httpStatus, error.message, exchange.requestId);
}
