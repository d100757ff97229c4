import type { Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from '../logger.js';
import type { Exchange } from './exchange.js';
import { bindListener } from './device-listeners.js';
import type { BoundAddress, DeviceListener } from './device-listeners.js';

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => (server.listening ? server.close(() => resolve()) : resolve()));
}

/**
 * The listeners' life: open all or none, track exchanges and tunnels, and on close stop taking
 * connections, let exchanges finish within the grace period, then cut what is left. WebSocket
 * tunnels close at once: mender-connect reconnects by itself.
 */
export class Lifecycle {
  readonly tunnels = new Set<Duplex>();
  readonly #active = new Set<Exchange>();
  #closing = false;
  #drained: (() => void) | undefined;
  #drain: { over: Promise<void>; finish: () => void } | undefined;

  constructor(
    private readonly listeners: readonly DeviceListener[],
    private readonly graceMs: number,
    private readonly logger: Logger,
    /** `Drain.Period`: how long {@link drain}'s promise takes. */
    private readonly drainMs = 0,
  ) {}

  get closing(): boolean {
    return this.#closing;
  }

  /** True from the first {@link drain} on; there is no way back short of a restart. */
  get draining(): boolean {
    return this.#drain !== undefined;
  }

  /**
   * Start draining (idempotent): the listeners stay open, the drain interceptor answers new
   * device calls (`drain.ts`). Resolves once `Drain.Period` has passed since the first call, or
   * at close, whichever comes first; exchanges already under way are never touched.
   */
  drain(): Promise<void> {
    if (this.#drain === undefined) {
      this.logger.warn(
        { periodMs: this.drainMs, inFlight: this.#active.size },
        'draining: devices are sent to authenticate again elsewhere',
      );
      let resolve!: () => void;
      const over = new Promise<void>((r) => (resolve = r));
      const timer = setTimeout(() => {
        this.logger.info('drain period over');
        resolve();
      }, this.drainMs);
      this.#drain = {
        over,
        finish: () => {
          clearTimeout(timer);
          resolve();
        },
      };
    }
    return this.#drain.over;
  }

  started(exchange: Exchange): void {
    this.#active.add(exchange);
  }

  ended(exchange: Exchange): void {
    this.#active.delete(exchange);
    if (this.#closing && this.#active.size === 0) this.#drained?.();
  }

  /** Bind every listener; if one fails, close those already open and rethrow. */
  async open(): Promise<BoundAddress[]> {
    const bound: BoundAddress[] = [];
    try {
      for (const listener of this.listeners) bound.push(await bindListener(listener));
    } catch (err) {
      await Promise.all(this.listeners.map((l) => closeServer(l.server)));
      throw err;
    }
    return bound;
  }

  /** Graceful stop of the device listeners (idempotent: false when already closing). */
  async close(): Promise<boolean> {
    if (this.#closing) return false;
    this.#closing = true;
    this.#drain?.finish();
    this.logger.info({ inFlight: this.#active.size, tunnels: this.tunnels.size }, 'shutting down');
    const serversClosed = Promise.all(this.listeners.map((l) => closeServer(l.server)));
    for (const l of this.listeners) l.server.closeIdleConnections();
    for (const socket of this.tunnels) socket.destroy();
    if (this.#active.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      const timedOut = await Promise.race([
        new Promise<false>((resolve) => (this.#drained = () => resolve(false))),
        new Promise<true>((resolve) => (timer = setTimeout(() => resolve(true), this.graceMs))),
      ]);
      clearTimeout(timer);
      if (timedOut)
        this.logger.warn({ cut: this.#active.size }, 'grace period over: cutting unfinished transfers');
    }
    for (const l of this.listeners) l.server.closeAllConnections();
    await serversClosed;
    return true;
  }
}
