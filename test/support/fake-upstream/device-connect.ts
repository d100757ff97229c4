import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import type { RawData, WebSocket } from 'ws';
import type { DeviceRegistry } from './device-registry.js';
import { headerValue, requestId } from './http-util.js';
import { bearerToken } from './jwt.js';
import type { FakeState } from './state.js';

export const CONNECT_PATH = '/api/devices/v1/deviceconnect/connect';

/**
 * Plays the server's side of an open tunnel instead of the echo (e.g. a remote terminal
 * session, as the UI would drive it through deviceconnect). Pings and the liveness check
 * stay with DeviceConnect.
 */
export type TunnelHandler = (
  ws: WebSocket,
  device: { id: string; identity: Record<string, unknown> },
) => void;

/** The device JWT from `Authorization: Bearer` or the `JWT` cookie (docs/protocol.md §2.6). */
function upgradeToken(req: IncomingMessage): string | undefined {
  const fromHeader = bearerToken(headerValue(req, 'authorization'));
  if (fromHeader !== undefined) return fromHeader;
  const cookie = headerValue(req, 'cookie') ?? '';
  return /(?:^|;\s*)JWT=([^;]+)/.exec(cookie)?.[1];
}

/** A plain HTTP answer on a socket that asked to upgrade (no 101 was sent). */
function refuse(socket: Duplex, req: IncomingMessage, status: number, reason: string, error: string): void {
  const id = requestId(req);
  const body = JSON.stringify({ error, request_id: id });
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nX-MEN-RequestID: ${id}\r\nConnection: close\r\n\r\n${body}`,
  );
}

/**
 * deviceconnect in miniature: an authenticated upgrade gets 101 and an echo of every message
 * (text stays text, binary stays binary); a missing or bad token gets a plain 401 JSON response
 * before any upgrade, as the real server does (docs/protocol.md §8.3). The server pings
 * on an interval and drops peers that stop answering (docs/protocol.md §2.6). A close frame with the
 * reserved code 1006 makes `ws` fail the connection with 1002, like the real server.
 */
export class DeviceConnect {
  readonly #wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  readonly #timers = new Set<NodeJS.Timeout>();
  /** When set, new tunnels go to it instead of the echo. */
  handler: TunnelHandler | undefined;

  constructor(
    private readonly state: FakeState,
    private readonly registry: DeviceRegistry,
    private readonly pingIntervalMs: number,
  ) {}

  /** Handle an `upgrade` event of the API server; returns the HTTP status it ended with. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): number {
    socket.on('error', () => socket.destroy());
    const path = (req.url ?? '/').split('?')[0];
    if (path !== CONNECT_PATH) {
      refuse(socket, req, 404, 'Not Found', 'resource not found');
      return 404;
    }
    const device = this.registry.authenticate(upgradeToken(req));
    if (device === undefined) {
      this.state.tunnels.refused += 1;
      refuse(socket, req, 401, 'Unauthorized', 'unauthorized');
      return 401;
    }
    this.#wss.handleUpgrade(req, socket, head, (ws) => this.#serve(ws, device));
    return 101;
  }

  #serve(ws: WebSocket, device: { id: string; identity: Record<string, unknown> }): void {
    const tunnels = this.state.tunnels;
    tunnels.opened += 1;
    tunnels.open += 1;
    let alive = true;
    const timer = setInterval(() => {
      if (!alive) {
        ws.terminate();
        return;
      }
      alive = false;
      ws.ping(Buffer.from(randomUUID()));
    }, this.pingIntervalMs);
    timer.unref();
    this.#timers.add(timer);
    ws.on('pong', () => (alive = true));
    const handler = this.handler;
    if (handler !== undefined) {
      ws.on('message', () => {
        tunnels.messages += 1;
        alive = true;
      });
      handler(ws, device);
    }
    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (handler !== undefined) return;
      tunnels.messages += 1;
      alive = true;
      const payload = Array.isArray(data)
        ? Buffer.concat(data)
        : Buffer.isBuffer(data)
          ? data
          : Buffer.from(new Uint8Array(data));
      ws.send(payload, { binary: isBinary });
    });
    ws.on('error', () => undefined);
    ws.on('close', () => {
      clearInterval(timer);
      this.#timers.delete(timer);
      tunnels.open -= 1;
    });
  }

  close(): void {
    for (const timer of this.#timers) clearInterval(timer);
    this.#timers.clear();
    for (const client of this.#wss.clients) client.terminate();
    this.#wss.close();
  }
}
