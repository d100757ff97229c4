import type { Instrumentation } from '../diagnostics.js';
import type { GatewayMetrics } from './gateway-metrics.js';
import { routeName } from './route-name.js';

interface Increment {
  inc(value?: number): void;
}

/** Paths remembered with their route; past this, routes are looked up again (ids make paths unbounded). */
const MAX_REMEMBERED_PATHS = 1024;

/**
 * The two request counters' children for one method, status and route, made once. prom-client
 * hashes the label object on every `inc(labels)`, and `routeName` tries up to ten patterns; both
 * ran per request (docs/performance.md, "What was tried").
 */
class RequestCounters {
  readonly #children = new Map<string, { requests: Increment; responseBytes: Increment }>();
  readonly #routes = new Map<string, string>();

  constructor(private readonly metrics: GatewayMetrics) {}

  for(method: string, status: number, path: string): { requests: Increment; responseBytes: Increment } {
    let route = this.#routes.get(path);
    if (route === undefined) {
      route = routeName(path);
      if (this.#routes.size >= MAX_REMEMBERED_PATHS) this.#routes.clear();
      this.#routes.set(path, route);
    }
    // Methods, statuses and routes are each a small set: the product stays small.
    const key = `${method} ${status} ${route}`;
    let children = this.#children.get(key);
    if (children === undefined) {
      const code = String(status);
      children = {
        requests: this.metrics.requests.labels(method, code, route),
        responseBytes: this.metrics.responseBytes.labels(method, code, route),
      };
      this.#children.set(key, children);
    }
    return children;
  }
}

/**
 * Count what one gateway reports on its diagnostics channels. The outcome of an exchange, not its
 * error code, decides what counts as a failure of the upstream link or of storage.
 */
export function subscribeMetrics(instrumentation: Instrumentation, metrics: GatewayMetrics): () => void {
  const requestCounters = new RequestCounters(metrics);
  const off = [
    instrumentation.on('exchangeEnd', ({ exchange }) => {
      const counters = requestCounters.for(exchange.req.method ?? 'UNKNOWN', exchange.status, exchange.path);
      counters.requests.inc();
      counters.responseBytes.inc(exchange.bytesOut);
      const { outcome, cacheLookup } = exchange;
      if (cacheLookup !== undefined) {
        metrics.cacheBytesServed.inc({ source: cacheLookup.source }, exchange.bytesOut);
        // The download that started a fill paid for its bytes on the uplink; every other one did not.
        if (cacheLookup.result === 'hit' || cacheLookup.result === 'coalesced')
          metrics.bytesSaved.inc(exchange.bytesOut);
      }
      if (outcome.kind === 'upstream-failed') metrics.upstreamErrors.inc({ code: outcome.error.code });
      else if (outcome.kind === 'storage-failed') metrics.storageErrors.inc({ code: outcome.error.code });
    }),
    instrumentation.on('upstreamResponse', ({ seconds }) => metrics.upstreamLatency.observe(seconds)),
    instrumentation.on('tunnelOpened', () => metrics.tunnelsOpen.inc()),
    instrumentation.on('tunnelClosed', ({ status }) => {
      if (status === 101) metrics.tunnelsOpen.dec();
    }),
    instrumentation.on('mtlsVerdict', ({ accepted }) =>
      metrics.mtls.inc({ result: accepted ? 'accepted' : 'refused' }),
    ),
    instrumentation.on('fillStarted', () => metrics.fillsInProgress.inc()),
    instrumentation.on('fillFinished', ({ size }) => {
      metrics.fillsInProgress.dec();
      metrics.fills.inc({ outcome: 'complete' });
      metrics.upstreamArtifactBytes.inc(size);
    }),
    instrumentation.on('fillFailed', () => {
      metrics.fillsInProgress.dec();
      metrics.fills.inc({ outcome: 'failed' });
    }),
    instrumentation.on('evicted', () => metrics.evictions.inc()),
    instrumentation.on('cacheLookup', ({ result }) => metrics.cacheRequests.inc({ result })),
  ];
  return () => {
    for (const unsubscribe of off) unsubscribe();
  };
}
