import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startCacheScenario, DEVICE_TYPE } from '../support/cache-scenario.js';
import type { CacheScenario } from '../support/cache-scenario.js';
import { pollNext } from '../support/simulated-device.js';
import type { SimulatedDevice } from '../support/simulated-device.js';
import { startTestGateway } from '../support/test-gateway.js';
import { closedPort } from '../support/loopback-server.js';

const MiB = 1024 * 1024;
const provides = { device_type: DEVICE_TYPE, artifact_name: 'initial' };

/** Value of one sample in Prometheus text format, or 0 when absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const match = /^([a-z_]+)(\{.*\})?\s+([0-9.e+-]+)$/.exec(line); // label values may hold braces (route templates)
    if (match?.[1] !== name) continue;
    const have = Object.fromEntries(
      [...(match[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]),
    );
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(match[3]);
  }
  return 0;
}

async function text(url: string): Promise<{ status: number; body: string }> {
  const res = await request(url);
  return { status: res.statusCode, body: await res.body.text() };
}

/** Metrics and readiness: Prometheus metrics on their own listener, and readiness. */
describe('metrics after a cached update', () => {
  let s: CacheScenario;
  let device: SimulatedDevice;

  beforeAll(async () => {
    s = await startCacheScenario({ metrics: true });
    device = await s.newDevice();
  });
  afterAll(async () => {
    await s.close();
  });

  it('counts one miss, hits for later devices, and the bytes the cache saved', async () => {
    s.addArtifact('metrics-1', 1 * MiB);
    const link = (await pollNext(s.gw.url, device, provides)).json!.artifact.source.uri;
    for (let i = 0; i < 3; i++) {
      const res = await request(link);
      // Read it all (body.dump() stops after 128 KiB and drops the connection).
      expect((await res.body.arrayBuffer()).byteLength).toBe(1 * MiB);
      if (i === 0)
        await s.gw.logs.waitFor((l) => l.msg === 'cache fill finished' && l.artifact === 'metrics-1');
    }
    const scrape = await text(s.metricsUrl!);
    expect(scrape.status).toBe(200);
    const m = scrape.body;
    expect(sample(m, 'mender_gw_cache_requests_total', { result: 'miss' })).toBe(1);
    expect(sample(m, 'mender_gw_cache_requests_total', { result: 'hit' })).toBe(2);
    expect(sample(m, 'mender_gw_cache_bytes_served_total', { source: 'fill' })).toBe(1 * MiB);
    expect(sample(m, 'mender_gw_cache_bytes_served_total', { source: 'cache' })).toBe(2 * MiB);
    expect(sample(m, 'mender_gw_upstream_artifact_bytes_total')).toBe(1 * MiB);
    // Three devices served, one paid for on the uplink: two saved.
    expect(sample(m, 'mender_gw_cache_bytes_saved_total')).toBe(2 * MiB);
    expect(sample(m, 'mender_gw_cache_fills_total', { outcome: 'complete' })).toBe(1);
    expect(sample(m, 'mender_gw_cache_fills_in_progress')).toBe(0);
    // Mender Gateway's own request metrics, labelled by route template, not raw URL (docs/protocol.md §6.6).
    expect(
      sample(m, 'mender_gateway_http_requests_total', {
        method: 'GET',
        code: '200',
        route: '/api/devices/v1/gateway/artifacts/{key}',
      }),
    ).toBe(3);
    expect(
      sample(m, 'mender_gateway_http_requests_total', {
        method: 'POST',
        code: '200',
        route: '/api/devices/{version}/deployments/device/deployments/next',
      }),
    ).toBe(1);
    expect(
      sample(m, 'mender_gateway_http_response_bytes_total', {
        method: 'GET',
        code: '200',
        route: '/api/devices/v1/gateway/artifacts/{key}',
      }),
    ).toBe(3 * MiB);
    expect(m).toContain('process_resident_memory_bytes');
    expect(m).toContain('mender_gw_upstream_response_seconds_bucket');
  });

  it('is not reachable on the device listener', async () => {
    const onDevicePort = await text(`${s.gw.url}/metrics`);
    expect(onDevicePort.status).toBe(404);
    expect(onDevicePort.body).not.toContain('mender_gateway_http_requests_total');
  });

  it('reports readiness with upstream latency and cache free space', async () => {
    const ready = await text(`${s.gw.url}/api/internal/v1/gateway/ready`);
    expect(ready.status).toBe(200);
    const report = JSON.parse(ready.body) as {
      ready: boolean;
      upstream: { reachable: boolean; latencyMs: number; status: number };
      cache: { path: string; freeBytes: number };
    };
    expect(report.ready).toBe(true);
    expect(report.upstream.reachable).toBe(true);
    expect(report.upstream.status).toBe(401);
    expect(report.upstream.latencyMs).toBeGreaterThan(0);
    expect(report.cache.path).toBe(s.cacheDir);
    expect(report.cache.freeBytes).toBeGreaterThan(0);
  });
});

describe('readiness with the upstream down', () => {
  it('starts anyway, answers alive 204 and ready 503 naming the error', async () => {
    const port = await closedPort();
    const gw = await startTestGateway({ UpstreamServer: { URL: `http://127.0.0.1:${port}` } });
    try {
      expect((await text(`${gw.url}/api/internal/v1/gateway/alive`)).status).toBe(204);
      const ready = await text(`${gw.url}/api/internal/v1/gateway/ready`);
      expect(ready.status).toBe(503);
      const report = JSON.parse(ready.body) as {
        ready: boolean;
        upstream: { reachable: boolean; lastError: string };
      };
      expect(report.ready).toBe(false);
      expect(report.upstream.reachable).toBe(false);
      expect(report.upstream.lastError).toMatch(/ECONNREFUSED/);
    } finally {
      await gw.close();
    }
  });
});
