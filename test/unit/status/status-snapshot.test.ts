import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { Instrumentation } from '../../../src/core/diagnostics.js';
import type { ArtifactEntry } from '../../../src/core/cache/artifact-store.js';
import type { ReadinessReport } from '../../../src/core/server/readiness-probe.js';
import { Exchange } from '../../../src/core/server/exchange.js';
import { RecentActivity } from '../../../src/core/status/recent-activity.js';
import { ARTIFACTS_LISTED, StatusSnapshotBuilder } from '../../../src/core/status/status-snapshot.js';
import { STATUS_PAGE_CSP, STATUS_PAGE_HTML } from '../../../src/core/status/status-page-html.js';
import { fakeJwt } from '../../support/unsigned-jwt.js';

const T0 = Date.parse('2026-12-01T10:00:00Z');

function report(overrides: Partial<ReadinessReport> = {}): ReadinessReport {
  return {
    ready: true,
    degraded: false,
    upstream: {
      url: 'https://hosted.mender.io',
      reachable: true,
      status: 401,
      latencyMs: 42.5,
      lastError: 'upstream https://hosted.mender.io did not answer in time',
      checkedAt: new Date(T0).toISOString(),
    },
    cache: undefined,
    blacklist: undefined,
    management: undefined,
    draining: false,
    ...overrides,
  };
}

function entry(i: number, size: number): ArtifactEntry {
  return {
    key: `key-${i}`,
    origin: 'https://s3.example/bucket/a',
    artifactId: `id-${i}`,
    artifactName: `release-${i}`,
    size,
    sha256: '0'.repeat(64),
    etag: undefined,
    lastModified: undefined,
    contentType: undefined,
    createdAt: new Date(T0).toISOString(),
    lastAccessAt: new Date(T0 + i * 1000).toISOString(),
    hits: i,
    bytesServed: 0,
  };
}

function device(url: string, sub: string): Exchange {
  const req = new IncomingMessage(new Socket());
  req.method = 'GET';
  req.url = url;
  req.headers.authorization = `Bearer ${fakeJwt({ sub })}`;
  return new Exchange(req, new ServerResponse(req), 'http', '192.0.2.7', () => undefined);
}

describe('status snapshot', () => {
  it('puts readiness, cache volume, fills, artifacts, devices and counters together', async () => {
    const gw = new Instrumentation();
    const activity = new RecentActivity(() => T0);
    activity.subscribe(gw);
    const entries = Array.from({ length: ARTIFACTS_LISTED + 50 }, (_, i) => entry(i, 100));
    const fill = { key: 'key-new', size: 1000, written: 250 };
    gw.fillStarted(fill, { key: 'key-new', artifactId: 'id-new', artifactName: 'release-new', size: 1000 });
    const poll = device('/api/devices/v1/deployments/device/deployments/next', 'dev-7');
    gw.exchangeStart(poll);
    gw.exchangeEnd(poll);
    const download = device('/api/devices/v1/gateway/artifacts/key-new?sig=x', 'dev-7');
    gw.exchangeStart(download);
    gw.cacheLookup('miss', download, {
      key: 'key-new',
      artifactId: 'id-new',
      artifactName: 'release-new',
      size: 1000,
    });
    download.bytesOut = 200;
    let draining = false;
    let probes = 0;
    let now = T0;
    const builder = new StatusSnapshotBuilder(
      {
        version: '1.2.3',
        activity,
        readiness: () => {
          probes++;
          return Promise.resolve(report({ management: { loggedIn: false, lastError: 'wrong password' } }));
        },
        draining: () => draining,
        cache: {
          store: {
            location: '/var/cache/mender-gateway',
            list: () => entries,
            freeSpace: () => Promise.resolve(5000),
            capacity: () => Promise.resolve(100_000),
          },
          fault: () => undefined,
        },
      },
      () => now,
    );
    const s = await builder.build();
    expect(s.version).toBe('1.2.3');
    expect(s.upstream).toMatchObject({ reachable: true, latencyMs: 42.5, status: 401 });
    expect(s.management).toEqual({ loggedIn: false, lastError: 'wrong password' });
    expect(s.cache).toMatchObject({
      path: '/var/cache/mender-gateway',
      entries: 250,
      usedBytes: 250 * 100 + 250,
      freeBytes: 5000,
      volumeBytes: 100_000,
      hitRatio: 0,
      bytesFetched: 250,
    });
    expect(s.fills).toEqual([
      expect.objectContaining({ key: 'key-new', artifactName: 'release-new', written: 250, size: 1000 }),
    ]);
    expect(s.artifacts).toHaveLength(ARTIFACTS_LISTED);
    expect(s.artifactsTotal).toBe(251);
    expect(s.artifacts[0]).toMatchObject({ artifactName: 'release-new', state: 'filling', written: 250 });
    expect(s.artifacts[1]).toMatchObject({ artifactName: 'release-249', state: 'complete' });
    expect(s.devices).toEqual([
      expect.objectContaining({
        identity: 'dev-7',
        lastCall: 'GET /api/devices/v1/gateway/artifacts/key-new',
        download: expect.objectContaining({
          artifactName: 'release-new',
          bytes: 200,
          size: 1000,
          state: 'downloading',
        }),
      }),
    ]);
    expect(JSON.stringify(s)).not.toContain('sig=x');

    // Live values move between snapshots; the readiness report (an upstream probe) is reused.
    fill.written = 900;
    download.bytesOut = 800;
    draining = true;
    now += 1000;
    const next = await builder.build();
    expect(next.fills[0]!.written).toBe(900);
    expect(next.devices[0]!.download!.bytes).toBe(800);
    expect(next.draining).toBe(true);
    expect(probes).toBe(1);
    now += 5000;
    await builder.build();
    expect(probes).toBe(2);
  });

  it('has no cache part with the cache off, and a null ratio before any lookup', async () => {
    const builder = new StatusSnapshotBuilder({
      version: 'x',
      activity: new RecentActivity(),
      readiness: () => Promise.resolve(report()),
      draining: () => false,
      cache: undefined,
    });
    const s = await builder.build();
    expect(s.cache).toBeNull();
    expect(s.artifacts).toEqual([]);
    expect(s.management).toBeNull();
  });
});

describe('status page document', () => {
  it('allows exactly its inline script and style by hash, and nothing external', () => {
    const script = /<script>([\s\S]*)<\/script>/.exec(STATUS_PAGE_HTML)![1]!;
    const style = /<style>([\s\S]*)<\/style>/.exec(STATUS_PAGE_HTML)![1]!;
    const hash = (t: string): string => `'sha256-${createHash('sha256').update(t).digest('base64')}'`;
    expect(STATUS_PAGE_CSP).toContain(`script-src ${hash(script)}`);
    expect(STATUS_PAGE_CSP).toContain(`style-src ${hash(style)}`);
    expect(STATUS_PAGE_CSP).toMatch(/^default-src 'none'; /);
    expect(STATUS_PAGE_CSP).toContain("connect-src 'self'");
    expect(STATUS_PAGE_HTML).not.toMatch(/(src|href)=["']?(https?:)?\/\//);
    expect(script).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write/);
  });
});
