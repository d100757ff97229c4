import { statfs } from 'node:fs/promises';
import type { Dispatcher } from 'undici';
import type { BlacklistStatus } from '../mtls/serial-blacklist.js';
import type { ManagementStatus } from '../mtls/management-session.js';
import { upstreamFailure } from '../upstream/upstream-error.js';
import type { Instrumentation } from '../diagnostics.js';
import { errnoCode } from '../file-errors.js';

export interface ReadinessReport {
  ready: boolean;
  upstream: {
    url: string;
    reachable: boolean;
    status: number | undefined;
    latencyMs: number | undefined;
    lastError: string | undefined;
    checkedAt: string;
  };
  cache:
    | {
        path: string;
        freeBytes: number | undefined;
        error: string | undefined;
        /** The last cache-volume fault seen by live traffic, until a fill succeeds again. */
        fault: { code: string; message: string; at: string } | undefined;
      }
    | undefined;
  /** Serving, but without the cache (its volume failed): downloads come from storage. */
  degraded: boolean;
  /**
   * `Features.mTLS.BlacklistPath`: serials in force and why the last reload was not applied.
   * A refused reload leaves readiness as it is: the previous list still protects every listener.
   */
  blacklist: BlacklistStatus | undefined;
  /**
   * With mTLS: is the gateway logged in to the management API, and why did its last login fail?
   * Without it no device can be auto-accepted; the gateway stays ready for accepted devices.
   */
  management: ManagementStatus | undefined;
  /**
   * The gateway is draining (SIGTERM with `Drain.Enabled`, or SIGUSR2): never ready, so a load
   * balancer or a health check moves traffic away with the devices (docs/operator-guide.md).
   */
  draining: boolean;
}

/** Where the report's other parts come from; each absent when its feature is off. */
export interface ReadinessSources {
  cachePath?: string | undefined;
  cacheFault?: () => { code: string; message: string; at: string } | undefined;
  blacklist?: () => BlacklistStatus | undefined;
  management?: () => ManagementStatus;
  draining?: () => boolean;
}

/** Probe results are reused this long, so a probe storm never becomes an upstream storm. */
const PROBE_INTERVAL_MS = 5_000;
const PROBE_TIMEOUT_MS = 5_000;

/**
 * Readiness for probes and failover decisions: is the upstream link usable,
 * how slow is it, what failed last, and how much room does the cache volume have. The upstream
 * probe is an unauthenticated device-API call: any answer below 500 (typically 401) proves the
 * link and the server's routing work.
 */
export class ReadinessProbe {
  #last: ReadinessReport['upstream'] | undefined;
  #pending: Promise<ReadinessReport['upstream']> | undefined;
  #lastError: string | undefined;

  readonly #cachePath: string | undefined;

  constructor(
    private readonly upstream: URL,
    private readonly dispatcher: Dispatcher,
    private readonly sources: ReadinessSources = {},
  ) {
    this.#cachePath = sources.cachePath;
  }

  /**
   * Record upstream failures seen by live traffic, so the report shows them without waiting for a
   * probe. Only an exchange whose outcome is an upstream failure counts: nothing a device sends
   * can write into this report.
   */
  subscribe(instrumentation: Instrumentation): () => void {
    return instrumentation.on('exchangeEnd', ({ exchange }) => {
      if (exchange.outcome.kind === 'upstream-failed') this.#lastError = exchange.outcome.error.message;
    });
  }

  async report(): Promise<ReadinessReport> {
    const upstream = await this.#probeUpstream();
    let cache: ReadinessReport['cache'];
    if (this.#cachePath !== undefined) {
      try {
        const s = await statfs(this.#cachePath);
        cache = {
          path: this.#cachePath,
          freeBytes: s.bavail * s.bsize,
          error: undefined,
          fault: this.sources.cacheFault?.(),
        };
      } catch (err) {
        cache = {
          path: this.#cachePath,
          freeBytes: undefined,
          error: errnoCode(err) ?? String(err),
          fault: this.sources.cacheFault?.(),
        };
      }
    }
    // A broken cache volume does not make the gateway unready: it still serves every update,
    // from storage. Taking it out of a load balancer would fail them instead.
    const degraded = cache !== undefined && (cache.error !== undefined || cache.fault !== undefined);
    const draining = this.sources.draining?.() ?? false;
    return {
      ready: upstream.reachable && !draining,
      degraded,
      upstream,
      cache,
      blacklist: this.sources.blacklist?.(),
      management: this.sources.management?.(),
      draining,
    };
  }

  #probeUpstream(): Promise<ReadinessReport['upstream']> {
    // Only a good answer is reused: after an outage, readiness must turn 200 at the first probe
    // that finds the upstream back, not up to PROBE_INTERVAL_MS later. Probes
    // while it is down are single-flight, so a busy load balancer costs one attempt at a time.
    if (this.#last?.reachable === true && Date.now() - Date.parse(this.#last.checkedAt) < PROBE_INTERVAL_MS) {
      return Promise.resolve({ ...this.#last, lastError: this.#lastError });
    }
    this.#pending ??= this.#probe().finally(() => {
      this.#pending = undefined;
    });
    return this.#pending;
  }

  async #probe(): Promise<ReadinessReport['upstream']> {
    const started = process.hrtime.bigint();
    const base = { url: this.upstream.origin, checkedAt: new Date().toISOString() };
    try {
      const res = await this.dispatcher.request({
        origin: this.upstream.origin,
        path: `${this.upstream.pathname.replace(/\/+$/, '')}/api/devices/v1/deployments/device/deployments/next`,
        method: 'GET',
        headersTimeout: PROBE_TIMEOUT_MS,
        bodyTimeout: PROBE_TIMEOUT_MS,
      });
      await res.body.dump();
      const latencyMs = Number(process.hrtime.bigint() - started) / 1e6;
      const reachable = res.statusCode < 500;
      if (!reachable) this.#lastError = `upstream answered ${res.statusCode}`;
      this.#last = { ...base, reachable, status: res.statusCode, latencyMs, lastError: this.#lastError };
    } catch (err) {
      this.#lastError = upstreamFailure(err, this.upstream.origin).message;
      this.#last = {
        ...base,
        reachable: false,
        status: undefined,
        latencyMs: undefined,
        lastError: this.#lastError,
      };
    }
    return this.#last;
  }
}
