import { connect as netConnect } from 'node:net';
import type { Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { ConnectionOptions } from 'node:tls';

export interface RawAnswer {
  /** Everything the server sent before closing (or before `waitMs` ran out). */
  text: string;
  /** Status code of the first response line, 0 without one. */
  status: number;
  /** Body of the first response (after the blank line). */
  body: string;
  /** The server closed the connection (FIN or reset) within `waitMs`. */
  closed: boolean;
  /** Client-side socket error, e.g. ECONNRESET. */
  error: string | undefined;
  /** Milliseconds from connect to close (or to giving up). */
  elapsedMs: number;
}

export interface RawOptions {
  /** Give up after this long without the server closing; default 5 s. */
  waitMs?: number;
  /** Write `bytes` in these pieces, `pauseMs` apart (slow clients). */
  pieces?: readonly (string | Buffer)[];
  pauseMs?: number;
  /** Connect from this local address (e.g. 127.0.0.2, another device). */
  localAddress?: string;
  /** TLS options: connect with TLS instead of plain TCP. */
  tls?: ConnectionOptions;
  /** Half-close after writing (default false: servers may answer before the client is done). */
  end?: boolean;
}

/**
 * Send bytes on a raw TCP (or TLS) connection and collect the answer, for requests no HTTP
 * client library would send: garbage, smuggling attempts, oversized or never-ending headers.
 */
export function rawExchange(
  url: string,
  bytes: string | Buffer,
  options: RawOptions = {},
): Promise<RawAnswer> {
  const { hostname, port } = new URL(url);
  const started = Date.now();
  return new Promise((resolve) => {
    let text = '';
    let error: string | undefined;
    let done = false;
    const timers: NodeJS.Timeout[] = [];
    const finish = (closed: boolean): void => {
      if (done) return;
      done = true;
      for (const t of timers) clearTimeout(t);
      socket.destroy();
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1];
      const split = text.indexOf('\r\n\r\n');
      resolve({
        text,
        status: status === undefined ? 0 : Number(status),
        body: split === -1 ? '' : text.slice(split + 4),
        closed,
        error,
        elapsedMs: Date.now() - started,
      });
    };
    const write = (): void => {
      const pieces = options.pieces ?? [bytes];
      pieces.forEach((piece, i) => {
        timers.push(
          setTimeout(
            () => {
              if (socket.destroyed || !socket.writable) return;
              socket.write(piece);
              if (i === pieces.length - 1 && options.end === true) socket.end();
            },
            i * (options.pauseMs ?? 0),
          ),
        );
      });
    };
    const host = hostname.replace(/^\[|\]$/g, '');
    const tcp = netConnect(
      { host, port: Number(port), localAddress: options.localAddress },
      options.tls === undefined ? write : undefined,
    );
    const socket: Socket =
      options.tls === undefined ? tcp : tlsConnect({ socket: tcp, ...options.tls }, write);
    socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
    socket.on('error', (err: NodeJS.ErrnoException) => (error = err.code ?? err.message));
    socket.on('close', () => finish(true));
    timers.push(setTimeout(() => finish(false), options.waitMs ?? 5_000));
  });
}

/** Open a plain TCP connection and keep it open (it counts against per-address limits). */
export function openIdleConnection(url: string, localAddress?: string): Promise<Socket> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host: hostname, port: Number(port), localAddress }, () => resolve(socket));
    socket.once('error', reject);
  });
}
