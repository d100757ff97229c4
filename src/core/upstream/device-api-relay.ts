import type { IncomingMessage } from 'node:http';
import type { Dispatcher } from 'undici';
import { filterRawHeaders, filterResponseHeaders } from '../http/hop-by-hop.js';
import { NOT_FORWARDED, forwardedFor } from '../http/forwarding-headers.js';
import { toGatewayError } from '../errors.js';
import type { Instrumentation } from '../diagnostics.js';
import type { Exchange } from '../server/exchange.js';
import { upstreamFailure } from './upstream-error.js';
import { RequestCancel } from './request-cancel.js';
import { pipeToResponse } from '../http/pipe-to-response.js';
import { announcesBody } from '../http/read-body.js';

export interface SendOptions {
  /** Extra request headers (lower-case) to drop, e.g. `accept-encoding` for bodies we rewrite. */
  dropHeaders?: readonly string[];
  /** Replace the request body (already read by an interceptor); its Content-Length is set. */
  body?: Buffer;
}

/**
 * Relay of the Mender device API to the upstream server (docs/protocol.md §1.1: everything
 * under /api/devices/ passes through unless an interceptor owns it). Bodies are streamed
 * both ways and never buffered, so a multi-megabyte deployment log or a chunked upload
 * from a 3.x client passes with flat memory, and the auth request reaches upstream
 * byte-exact, which `X-MEN-Signature` requires (docs/protocol.md §2.1).
 */
export class DeviceApiRelay {
  readonly #origin: string;
  readonly #basePath: string;
  readonly #host: string;
  readonly #dispatcher: Dispatcher;
  readonly #instrumentation: Instrumentation | undefined;
  /** NOT_FORWARDED plus a caller's few extra names, built once per list, not per request. */
  readonly #dropSets = new Map<string, ReadonlySet<string>>();

  constructor(upstream: URL, dispatcher: Dispatcher, instrumentation?: Instrumentation) {
    this.#origin = upstream.origin;
    this.#basePath = upstream.pathname.replace(/\/+$/, '');
    // Host = upstream host (docs/protocol.md §6.4; mtls-ambassador 1.0.2 fixed exactly this).
    this.#host = upstream.host;
    this.#dispatcher = dispatcher;
    this.#instrumentation = instrumentation;
  }

  get origin(): string {
    return this.#origin;
  }

  /** Headers for the upstream request: hop-by-hop removed, Host and X-Forwarded-For set (docs/protocol.md §7). */
  upstreamHeaders(req: IncomingMessage, clientIp: string, drop: readonly string[] = []): string[] {
    const headers = filterRawHeaders(req.rawHeaders, drop.length === 0 ? NOT_FORWARDED : this.#dropSet(drop));
    headers.push('host', this.#host, ...forwardedFor(clientIp));
    return headers;
  }

  #dropSet(drop: readonly string[]): ReadonlySet<string> {
    // Callers pass fixed lists (interceptors' constants), so the map stays a handful of entries.
    const key = drop.join('\n');
    let set = this.#dropSets.get(key);
    if (set === undefined) {
      set = new Set([...NOT_FORWARDED, ...drop]);
      this.#dropSets.set(key, set);
    }
    return set;
  }

  /**
   * Send the device's request upstream and return the response for the caller to relay or
   * transform. A failure before the response becomes a GatewayError (502/504). The upstream
   * request is aborted if the device goes away first.
   */
  async send(exchange: Exchange, options: SendOptions = {}): Promise<Dispatcher.ResponseData | undefined> {
    const { req, res } = exchange;
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
        body: options.body ?? (announcesBody(req) ? req : null),
        signal: abort,
      });
      response.body.once('close', () => res.off('close', onClose));
      this.#instrumentation?.upstreamResponse(Number(process.hrtime.bigint() - started) / 1e9);
      return response;
    } catch (err) {
      res.off('close', onClose);
      if (abort.aborted) return undefined;
      throw upstreamFailure(err, this.#origin);
    }
  }

  /** Stream an upstream response to the device unchanged (minus hop-by-hop headers). */
  async respond(upstream: Dispatcher.ResponseData, exchange: Exchange): Promise<void> {
    const { res } = exchange;
    res.writeHead(upstream.statusCode, filterResponseHeaders(upstream.headers));
    upstream.body.on('data', (chunk: Buffer) => {
      exchange.bytesOut += chunk.length;
    });
    try {
      await pipeToResponse(upstream.body, res);
    } catch (err) {
      exchange.cut(err, () => upstreamFailure(err, this.#origin));
    }
  }

  /** Plain pass-through: send, then respond; upstream failures become JSON 502/504. */
  async relay(exchange: Exchange): Promise<void> {
    let upstream: Dispatcher.ResponseData | undefined;
    try {
      upstream = await this.send(exchange);
    } catch (err) {
      exchange.fail(toGatewayError(err));
      return;
    }
    if (upstream !== undefined) await this.respond(upstream, exchange);
  }
}
