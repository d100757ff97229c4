import type { ServerResponse } from 'node:http';
import type { Logger } from '../logger.js';
import type { StatusSnapshot } from './status-snapshot.js';

/** Viewers of the live page at once; more get 503 and fall back to polling `/status.json`. */
export const MAX_STATUS_STREAMS = 16;
const INTERVAL_MS = 1_000;

/**
 * Server-sent events (https://html.spec.whatwg.org/multipage/server-sent-events.html) pushing a
 * snapshot to every open page about once a second. One snapshot is built per tick for all
 * viewers, and only while there is one; at most {@link MAX_STATUS_STREAMS} streams. `close()`
 * ends them all, so the gateway's shutdown never waits for a browser tab.
 */
export class StatusStream {
  readonly #clients = new Set<ServerResponse>();
  #timer: NodeJS.Timeout | undefined;
  #building = false;
  #closed = false;

  constructor(
    private readonly build: () => Promise<StatusSnapshot>,
    private readonly logger: Logger,
    private readonly options: { max?: number; intervalMs?: number } = {},
  ) {}

  get size(): number {
    return this.#clients.size;
  }

  open(res: ServerResponse): void {
    if (this.#closed || this.#clients.size >= (this.options.max ?? MAX_STATUS_STREAMS)) {
      res.writeHead(503, {
        'content-type': 'text/plain; charset=utf-8',
        'cache-control': 'no-store',
        'retry-after': '10',
      });
      res.end(this.#closed ? 'the gateway is stopping\n' : 'too many status viewers: poll /status.json\n');
      return;
    }
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      // nginx and other buffering proxies would hold the events back.
      'x-accel-buffering': 'no',
    });
    res.write('retry: 2000\n\n');
    this.#clients.add(res);
    res.on('close', () => {
      this.#clients.delete(res);
      if (this.#clients.size === 0) this.#stop();
    });
    this.#timer ??= setInterval(() => void this.#tick(), this.options.intervalMs ?? INTERVAL_MS);
    this.#timer.unref();
    void this.#tick();
  }

  /** End every stream and refuse new ones. */
  close(): void {
    this.#closed = true;
    this.#stop();
    for (const res of this.#clients) res.end();
    this.#clients.clear();
  }

  #stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  async #tick(): Promise<void> {
    // A slow snapshot (statfs on a hung volume) skips ticks instead of piling them up.
    if (this.#building) return;
    this.#building = true;
    try {
      const data = `data: ${JSON.stringify(await this.build())}\n\n`;
      // A viewer that does not read is not buffered for: it misses snapshots until it drains.
      for (const res of this.#clients) if (!res.writableNeedDrain) res.write(data);
    } catch (err) {
      this.logger.warn({ error: String(err) }, 'status snapshot failed');
    } finally {
      this.#building = false;
    }
  }
}
