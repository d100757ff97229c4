import { createServer, connect } from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';
import { realClock } from './clock.js';
import type { Clock } from './clock.js';
import { seededRandom } from '../seeded-random.js';

/**
 * A bad link between the gateway and what it talks to upstream (the fake Mender server, its
 * storage): a TCP proxy on loopback that imposes what a ship's satellite link or a mine's uplink
 * does to traffic. Bytes keep their order per connection and are never altered; the link only
 * delays them, limits their rate, cuts connections and goes down.
 *
 * - `bytesPerSecond`: the capacity of each direction, shared by every connection, as on one
 *   physical link (64 kbit/s is 8,000 bytes per second);
 * - `latencyMs`: the round-trip time; each direction adds half of it to every byte;
 * - `cutEveryMs`: every open connection is reset at this interval (a link that drops);
 * - `dropProbability` with `seed`: each forwarded piece may reset its connection instead, from a
 *   seeded generator so a failing run can be replayed;
 * - {@link LinkEmulator.outage}: scripted outages, `reset` (connections refused at once, as
 *   when the far router answers) or `blackhole` (accepted and never answered, as a dead
 *   satellite link looks to TCP).
 *
 * Time comes from a {@link Clock}: the real one against real processes, a manual one where a test
 * must cover minutes of link behaviour in milliseconds.
 */
export interface LinkOptions {
  target: { host: string; port: number };
  bytesPerSecond?: number;
  latencyMs?: number;
  cutEveryMs?: number;
  dropProbability?: number;
  seed?: number;
  clock?: Clock;
  listenHost?: string;
}

export interface LinkStats {
  connections: number;
  /** Connections the link reset (cuts, drops, outages). */
  cuts: number;
  /** Bytes taken in from each side and bytes delivered to the other side. */
  received: { toTarget: number; toClient: number };
  delivered: { toTarget: number; toClient: number };
}

export interface LinkEmulator {
  host: string;
  port: number;
  stats: LinkStats;
  /** `host:port` as a URL origin, e.g. `https://127.0.0.1:40123`. */
  origin(scheme: 'http' | 'https'): string;
  /** Take the link down: every open connection is reset, new ones are refused or left unanswered. */
  outage(kind: 'reset' | 'blackhole'): void;
  restore(): void;
  /** Reset every open connection now. */
  cutAll(): void;
  close(): Promise<void>;
}

/** Forwarded pieces are at most this big, so a slow link delivers smoothly and a cut can fall anywhere. */
const PIECE = 1024;
/** A connection whose bytes in flight pass this stops reading its sender until they drain. */
const HIGH_WATER = 64 * 1024;

/** One direction of the link: its capacity is shared by every connection. */
class Direction {
  #busyUntil = 0;
  constructor(
    private readonly clock: Clock,
    private readonly bytesPerSecond: number | undefined,
    private readonly oneWayMs: number,
  ) {}

  /** When a piece of `size` bytes handed over now arrives at the far side. */
  arrival(size: number): number {
    const now = this.clock.now();
    const start = Math.max(now, this.#busyUntil);
    const departure = this.bytesPerSecond === undefined ? start : start + (size * 1000) / this.bytesPerSecond;
    this.#busyUntil = departure;
    return departure + this.oneWayMs;
  }
}

export async function startLinkEmulator(options: LinkOptions): Promise<LinkEmulator> {
  const clock = options.clock ?? realClock;
  const oneWay = (options.latencyMs ?? 0) / 2;
  const up = new Direction(clock, options.bytesPerSecond, oneWay);
  const down = new Direction(clock, options.bytesPerSecond, oneWay);
  const random = seededRandom(options.seed ?? 1);
  const stats: LinkStats = {
    connections: 0,
    cuts: 0,
    received: { toTarget: 0, toClient: 0 },
    delivered: { toTarget: 0, toClient: 0 },
  };
  const open = new Set<{ client: Socket; upstream: Socket; cancel: Set<() => void> }>();
  let state: 'up' | 'reset' | 'blackhole' = 'up';
  const held = new Set<Socket>();

  function cut(conn: { client: Socket; upstream: Socket; cancel: Set<() => void> }): void {
    if (!open.delete(conn)) return;
    stats.cuts++;
    for (const cancel of conn.cancel) cancel();
    conn.client.resetAndDestroy();
    conn.upstream.resetAndDestroy();
  }

  function forward(
    conn: { client: Socket; upstream: Socket; cancel: Set<() => void> },
    from: Socket,
    to: Socket,
    direction: Direction,
    key: 'toTarget' | 'toClient',
  ): void {
    let inFlight = 0;
    from.on('data', (chunk: Buffer) => {
      stats.received[key] += chunk.length;
      for (let offset = 0; offset < chunk.length; offset += PIECE) {
        const piece = chunk.subarray(offset, offset + PIECE);
        const dropped = options.dropProbability !== undefined && random() < options.dropProbability;
        inFlight += piece.length;
        if (inFlight > HIGH_WATER) from.pause();
        const cancel = clock.after(direction.arrival(piece.length) - clock.now(), () => {
          conn.cancel.delete(cancel);
          if (dropped) {
            cut(conn);
            return;
          }
          inFlight -= piece.length;
          if (inFlight <= HIGH_WATER / 2 && from.isPaused()) from.resume();
          if (to.destroyed) return;
          to.write(piece);
          stats.delivered[key] += piece.length;
        });
        conn.cancel.add(cancel);
      }
    });
    // A FIN travels like the bytes before it: after them, with the link's delay.
    from.on('end', () => {
      const cancel = clock.after(direction.arrival(0) - clock.now(), () => {
        conn.cancel.delete(cancel);
        if (!to.destroyed) to.end();
      });
      conn.cancel.add(cancel);
    });
  }

  // Half-open: a side that sent its FIN still gets the bytes in flight towards it.
  const server: Server = createServer({ allowHalfOpen: true }, (client) => {
    client.on('error', () => undefined);
    if (state === 'reset') {
      stats.cuts++;
      client.resetAndDestroy();
      return;
    }
    if (state === 'blackhole') {
      held.add(client);
      client.on('close', () => held.delete(client));
      return;
    }
    stats.connections++;
    const upstream = connect({ port: options.target.port, host: options.target.host, allowHalfOpen: true });
    upstream.on('error', () => undefined);
    const conn = { client, upstream, cancel: new Set<() => void>() };
    open.add(conn);
    const closed = (): void => {
      if (!open.has(conn)) return;
      // One side closed for real: let what is in flight arrive, then close the other side.
      if (client.destroyed && upstream.destroyed) open.delete(conn);
    };
    client.on('close', () => {
      if (!upstream.destroyed && !client.readableEnded) upstream.destroy();
      closed();
    });
    upstream.on('close', () => {
      if (!client.destroyed && !upstream.readableEnded) client.destroy();
      closed();
    });
    forward(conn, client, upstream, up, 'toTarget');
    forward(conn, upstream, client, down, 'toClient');
  });
  await new Promise<void>((resolve) => server.listen(0, options.listenHost ?? '127.0.0.1', resolve));
  const { address, port } = server.address() as AddressInfo;

  let stopCuts: (() => void) | undefined;
  const every = options.cutEveryMs;
  if (every !== undefined) {
    const tick = (): void => {
      for (const conn of [...open]) cut(conn);
      stopCuts = clock.after(every, tick);
    };
    stopCuts = clock.after(every, tick);
  }

  return {
    host: address,
    port,
    stats,
    origin: (scheme) => `${scheme}://${address}:${String(port)}`,
    outage(kind) {
      state = kind;
      for (const conn of [...open]) cut(conn);
    },
    restore() {
      state = 'up';
      for (const socket of held) socket.resetAndDestroy();
    },
    cutAll() {
      for (const conn of [...open]) cut(conn);
    },
    async close() {
      stopCuts?.();
      for (const conn of [...open]) cut(conn);
      for (const socket of held) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
