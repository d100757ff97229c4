import type { Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import type { Logger } from '../logger.js';
import { clientAddress } from '../http/client-address.js';
import { key } from '../config-key.js';

/** At most one warning per address in this period; the line says how many were refused since. */
const WARN_INTERVAL_MS = 10_000;

interface AddressState {
  open: number;
  /** Refused since the last warning. */
  refused: number;
  warnedAt: number;
}

/**
 * Per-address connection limit of the device listeners (`DeviceConnections.MaxPerIP`):
 * one host on the device network cannot take every socket of the gateway. Connections over the
 * limit are closed at once, before TLS or HTTP sees them; the others are unaffected. Counted
 * across both listeners, by the address as `X-Forwarded-For` would show it.
 *
 * One warning names the address when refusals start, then at most one every 10 s with the count,
 * so a flood of connections cannot flood the log as well.
 */
export class ConnectionLimit {
  readonly #max: number;
  readonly #logger: Logger;
  readonly #addresses = new Map<string, AddressState>();

  constructor(maxPerIp: number, logger: Logger) {
    this.#max = maxPerIp;
    this.#logger = logger;
  }

  /** Open connections per address right now (for tests and diagnostics). */
  openFrom(ip: string): number {
    return this.#addresses.get(ip)?.open ?? 0;
  }

  attach(server: HttpServer | HttpsServer, listener: 'http' | 'https'): void {
    if (this.#max <= 0) return;
    // Node has no hook that runs before its own 'connection' listeners (the TLS wrapper, the
    // HTTP parser): a socket destroyed in a listener of ours still reaches them, and on HTTPS
    // every refusal would then be reported as a failed handshake, one log line each. Gating
    // the event itself keeps a refused connection invisible to them.
    const emit = server.emit.bind(server) as (event: string | symbol, ...args: unknown[]) => boolean;
    (server as { emit: (event: string | symbol, ...args: unknown[]) => boolean }).emit = (event, ...args) => {
      if (event === 'connection' && !this.#admit(args[0] as Socket, listener)) return false;
      return emit(event, ...args);
    };
  }

  #admit(socket: Socket, listener: 'http' | 'https'): boolean {
    if (socket.remoteAddress === undefined) return true; // already gone; nothing to count
    const ip = clientAddress(socket);
    let state = this.#addresses.get(ip);
    if (state === undefined) {
      state = { open: 0, refused: 0, warnedAt: 0 };
      this.#addresses.set(ip, state);
    }
    if (state.open >= this.#max) {
      state.refused += 1;
      const now = Date.now();
      if (now - state.warnedAt >= WARN_INTERVAL_MS) {
        this.#logger.warn(
          { listener, ip, limit: this.#max, open: state.open, refused: state.refused },
          `too many connections from one address: new connections refused (${key('DeviceConnections.MaxPerIP')})`,
        );
        state.warnedAt = now;
        state.refused = 0;
      }
      socket.destroy();
      return false;
    }
    state.open += 1;
    const counted = state;
    socket.once('close', () => {
      counted.open -= 1;
      if (counted.open === 0 && this.#addresses.get(ip) === counted) this.#addresses.delete(ip);
    });
    return true;
  }
}
