import { request as httpRequest } from 'node:http';
import type { IncomingMessage, ClientRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { ConnectionOptions } from 'node:tls';
import { filterRawHeaders } from '../http/hop-by-hop.js';
import { NOT_FORWARDED, forwardedFor } from '../http/forwarding-headers.js';
import { endWithRawResponse, rawResponseHead } from '../http/raw-response.js';
import { upstreamFailure } from './upstream-error.js';

/** What the tunnel reports about itself, for logs and metrics. */
export interface TunnelEvents {
  opened(): void;
  /** `status` is 101 for a tunnel that ran, or the status relayed/produced instead. */
  closed(result: { status: number; bytesIn: number; bytesOut: number; error?: Error }): void;
}

/**
 * The status recorded for an upgrade the device abandoned before the upstream answered (the
 * "client closed request" convention of nginx, https://nginx.org/en/docs/http/ngx_http_log_module.html);
 * nothing is sent: the device is gone.
 */
export const DEVICE_GONE = 499;

/** Refusal bodies are small JSON; bound them so a hostile upstream cannot make us buffer much. */
const MAX_REFUSAL_BODY = 64 * 1024;

/**
 * Tunnel a WebSocket upgrade (mender-connect's `/api/devices/v1/deviceconnect/connect`)
 * to upstream as raw bytes (docs/protocol.md §2.6).
 *
 * node:http(s) is used instead of undici because `undici.upgrade` turns a non-101
 * answer into a socket error and loses the status (docs/decisions.md §4); a refused
 * upgrade must reach the device as the upstream's 401. After the 101 the bytes are
 * piped untouched (pings, pongs, close frames, even an illegal 1006 close) and no idle
 * timeout applies: an idle remote terminal only carries pings every ~54 s.
 */
export function tunnelUpgrade(
  req: IncomingMessage,
  client: Duplex,
  head: Buffer,
  options: {
    upstream: URL;
    tls: ConnectionOptions;
    clientIp: string;
    connectTimeoutMs: number;
    events: TunnelEvents;
  },
): ClientRequest {
  const { upstream, events } = options;
  const headers = filterRawHeaders(req.rawHeaders, NOT_FORWARDED);
  headers.push(
    'host',
    upstream.host,
    ...forwardedFor(options.clientIp),
    'connection',
    'Upgrade',
    'upgrade',
    req.headers.upgrade ?? 'websocket',
  );
  const isHttps = upstream.protocol === 'https:';
  const send = isHttps ? httpsRequest : httpRequest;
  const upstreamReq = send({
    host: upstream.hostname.replace(/^\[|\]$/g, ''),
    port: upstream.port === '' ? (isHttps ? 443 : 80) : Number(upstream.port),
    path: upstream.pathname.replace(/\/+$/, '') + (req.url ?? '/'),
    method: req.method ?? 'GET',
    headers,
    agent: false,
    timeout: options.connectTimeoutMs,
    // SNI only for names: RFC 6066 §3 forbids IP literals in server_name (and Node warns, DEP0123).
    ...(isHttps
      ? {
          ...options.tls,
          ...(isIP(upstream.hostname.replace(/^\[|\]$/g, '')) === 0 ? { servername: upstream.hostname } : {}),
        }
      : {}),
  });

  let settled = false;
  const finish = (result: { status: number; bytesIn: number; bytesOut: number; error?: Error }): void => {
    if (settled) return;
    settled = true;
    events.closed(result);
  };

  // The device went away before the upstream answered: its own hang-up, never an upstream
  // failure. (Destroying a ClientRequest before its response makes it emit ECONNRESET, which the
  // error handler below would otherwise take for an unreachable upstream.)
  let upgraded = false;
  const deviceGone = (): void => {
    if (upgraded || settled) return;
    finish({ status: DEVICE_GONE, bytesIn: 0, bytesOut: 0 });
    upstreamReq.destroy();
  };
  client.on('error', deviceGone);
  client.on('close', deviceGone);

  upstreamReq.on('timeout', () =>
    upstreamReq.destroy(Object.assign(new Error('connect timeout'), { code: 'ETIMEDOUT' })),
  );

  upstreamReq.on('upgrade', (upRes: IncomingMessage, upSocket: Duplex, upHead: Buffer) => {
    upgraded = true;
    // The tunnel lives as long as both ends do: no timeouts on either socket.
    upstreamReq.setTimeout(0);
    (client as Partial<Pick<Socket, 'setTimeout'>>).setTimeout?.(0);
    client.write(rawResponseHead(101, upRes.rawHeaders, upRes.statusMessage));
    if (upHead.length > 0) client.write(upHead);
    if (head.length > 0) upSocket.write(head);
    events.opened();
    let bytesIn = head.length;
    let bytesOut = upHead.length;
    client.on('data', (chunk: Buffer) => (bytesIn += chunk.length));
    upSocket.on('data', (chunk: Buffer) => (bytesOut += chunk.length));
    const close = (error?: Error): void => {
      client.destroy();
      upSocket.destroy();
      finish({ status: 101, bytesIn, bytesOut, ...(error === undefined ? {} : { error }) });
    };
    client.pipe(upSocket);
    upSocket.pipe(client);
    client.on('close', () => close());
    upSocket.on('close', () => close());
    upSocket.on('error', (err) => close(err));
    client.on('error', (err) => close(err));
  });

  upstreamReq.on('response', (upRes: IncomingMessage) => {
    // Upstream refused the upgrade (e.g. 401 for a bad JWT): relay it as a plain response.
    const chunks: Buffer[] = [];
    let size = 0;
    upRes.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_REFUSAL_BODY) chunks.push(chunk);
    });
    upRes.on('end', () => {
      const keep: string[] = [];
      for (let i = 0; i + 1 < upRes.rawHeaders.length; i += 2) {
        const name = upRes.rawHeaders[i] ?? '';
        if (/^(content-type|x-men-requestid|www-authenticate|retry-after)$/i.test(name)) {
          keep.push(name, upRes.rawHeaders[i + 1] ?? '');
        }
      }
      const status = upRes.statusCode ?? 502;
      endWithRawResponse(
        client,
        status,
        Buffer.concat(chunks).subarray(0, MAX_REFUSAL_BODY),
        keep,
        upRes.statusMessage,
      );
      finish({ status, bytesIn: head.length, bytesOut: size });
    });
    upRes.on('error', () => {
      client.destroy();
      finish({ status: 502, bytesIn: 0, bytesOut: 0 });
    });
  });

  upstreamReq.on('error', (err) => {
    if (settled) return;
    const failure = upstreamFailure(err, upstream.origin);
    const body = Buffer.from(JSON.stringify({ error: failure.message }));
    endWithRawResponse(client, failure.httpStatus, body, ['content-type', 'application/json; charset=utf-8']);
    finish({ status: failure.httpStatus, bytesIn: 0, bytesOut: 0, error: failure });
  });

  upstreamReq.end();
  return upstreamReq;
}
