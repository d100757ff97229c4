import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { key } from '../config-key.js';

/**
 * Everything the gateway counts, in a private registry per gateway (docs/decisions.md §10: the global
 * registry throws on the second gateway in one process). Names of the two request metrics are
 * Mender Gateway's own (docs/protocol.md §6.6); the rest are ours, prefixed `mender_gw_`.
 */
export class GatewayMetrics {
  readonly registry = new Registry();

  readonly requests = new Counter({
    name: 'mender_gateway_http_requests_total',
    help: 'Requests answered, by method, status code and matched route.',
    labelNames: ['method', 'code', 'route'] as const,
    registers: [this.registry],
  });

  readonly responseBytes = new Counter({
    name: 'mender_gateway_http_response_bytes_total',
    help: 'Response body bytes sent to devices, by method, status code and matched route.',
    labelNames: ['method', 'code', 'route'] as const,
    registers: [this.registry],
  });

  readonly cacheRequests = new Counter({
    name: 'mender_gw_cache_requests_total',
    help: 'Artifact downloads by how the cache answered: hit (complete entry), miss (started a fill), coalesced (joined a fill), bypass (served uncached).',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  readonly cacheBytesServed = new Counter({
    name: 'mender_gw_cache_bytes_served_total',
    help: 'Artifact bytes sent to devices, by source: cache (complete entry), fill (growing entry), upstream (uncached pass-through).',
    labelNames: ['source'] as const,
    registers: [this.registry],
  });

  readonly upstreamArtifactBytes = new Counter({
    name: 'mender_gw_upstream_artifact_bytes_total',
    help: 'Artifact bytes fetched from storage into the cache. Served minus fetched is the bandwidth the cache saved.',
    registers: [this.registry],
  });

  readonly bytesSaved = new Counter({
    name: 'mender_gw_cache_bytes_saved_total',
    help: 'Artifact bytes sent to devices that did not cross the uplink: hits and downloads that joined a running fill.',
    registers: [this.registry],
  });

  readonly fillsInProgress = new Gauge({
    name: 'mender_gw_cache_fills_in_progress',
    help: 'Cache fills (upstream downloads) running now.',
    registers: [this.registry],
  });

  readonly fills = new Counter({
    name: 'mender_gw_cache_fills_total',
    help: 'Cache fills that ended, by outcome.',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  readonly evictions = new Counter({
    name: 'mender_gw_cache_evictions_total',
    help: 'Cache entries evicted to make room.',
    registers: [this.registry],
  });

  readonly upstreamErrors = new Counter({
    name: 'mender_gw_upstream_errors_total',
    help: 'Device exchanges that failed at the upstream Mender server, by gateway error code.',
    labelNames: ['code'] as const,
    registers: [this.registry],
  });

  readonly storageErrors = new Counter({
    name: 'mender_gw_storage_errors_total',
    help: 'Artifact downloads that failed at storage (the presigned link host), by gateway error code.',
    labelNames: ['code'] as const,
    registers: [this.registry],
  });

  readonly upstreamLatency = new Histogram({
    name: 'mender_gw_upstream_response_seconds',
    help: 'Time from sending a device request upstream to its response headers.',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });

  readonly mtls = new Counter({
    name: 'mender_gw_mtls_connections_total',
    help: 'Device TLS connections on the mTLS listener, by result (accepted, refused).',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  readonly blacklistSerials = new Gauge({
    name: 'mender_gw_mtls_blacklist_serials',
    help: `Serials in force in the mTLS certificate blacklist (${key('Features.mTLS.BlacklistPath')}).`,
    registers: [this.registry],
  });

  readonly blacklistReloadFailures = new Counter({
    name: 'mender_gw_mtls_blacklist_reload_failures_total',
    help: 'Blacklist reloads not applied (file unreadable, undecodable or looking incomplete); the previous list stayed in force.',
    registers: [this.registry],
  });

  readonly tunnelsOpen = new Gauge({
    name: 'mender_gw_websocket_tunnels_open',
    help: 'WebSocket tunnels (mender-connect) open now.',
    registers: [this.registry],
  });

  readonly buildInfo = new Gauge({
    name: 'mender_gw_build_info',
    help: 'Always 1; the labels say which mender-gw and Node.js run (the Prometheus *_build_info convention).',
    labelNames: ['version', 'node'] as const,
    registers: [this.registry],
  });

  constructor(version = 'unknown') {
    this.buildInfo.set({ version, node: process.versions.node }, 1);
    // Process memory, CPU, event loop lag and start time (docs/protocol.md §6.6).
    collectDefaultMetrics({ register: this.registry });
  }
}
