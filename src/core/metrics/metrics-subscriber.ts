import type { Instrumentation } from '../diagnostics.js';
import type { GatewayMetrics } from './gateway-metrics.js';
import { routeName } from './route-name.js';

/**
 * Count what one gateway reports on its diagnostics channels. The outcome of an exchange, not its
 * error code, decides what counts as a failure of the upstream link or of storage.
 */
export function subscribeMetrics(instrumentation: Instrumentation, metrics: GatewayMetrics): () => void {
  const off = [
    instrumentation.on('exchangeEnd', ({ exchange }) => {
      const labels = {
        method: exchange.req.method ?? 'UNKNOWN',
        code: String(exchange.status),
        route: routeName(exchange.path),
      };
      metrics.requests.inc(labels);
      metrics.responseBytes.inc(labels, exchange.bytesOut);
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
