import { describe, expect, it } from 'vitest';
import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { Instrumentation } from '../../../src/core/diagnostics.js';
import { GatewayError } from '../../../src/core/errors.js';
import { Exchange } from '../../../src/core/server/exchange.js';
import { fakeJwt } from '../../support/unsigned-jwt.js';
import { ACTIVITY_LIMITS, RecentActivity } from '../../../src/core/status/recent-activity.js';

function exchange(
  url: string,
  options: { ip?: string; sub?: string; method?: string; userAgent?: string } = {},
): Exchange {
  const req = new IncomingMessage(new Socket());
  req.method = options.method ?? 'GET';
  req.url = url;
  if (options.sub !== undefined) req.headers.authorization = `Bearer ${fakeJwt({ sub: options.sub })}`;
  if (options.userAgent !== undefined) req.headers['user-agent'] = options.userAgent;
  return new Exchange(req, new ServerResponse(req), 'http', options.ip ?? '192.0.2.10', () => undefined);
}

const NEXT = '/api/devices/v2/deployments/device/deployments/next';
const ARTIFACT = '/api/devices/v1/gateway/artifacts/k1?x-men-signature=secret';

function setup(): { gw: Instrumentation; activity: RecentActivity; off: () => void; clock: { t: number } } {
  const gw = new Instrumentation();
  const clock = { t: Date.parse('2026-12-01T10:00:00Z') };
  const activity = new RecentActivity(() => clock.t);
  return { gw, activity, off: activity.subscribe(gw), clock };
}

describe('recent activity (status page model)', () => {
  it('names a device by its JWT sub, and its token-less download by its address', () => {
    const { gw, activity, off } = setup();
    const poll = exchange(NEXT, { sub: 'dev-1', userAgent: 'Mender/5.1' });
    gw.exchangeStart(poll);
    poll.res.statusCode = 200;
    gw.exchangeEnd(poll);
    const download = exchange(ARTIFACT);
    gw.exchangeStart(download);
    gw.cacheLookup('miss', download, { key: 'k1', artifactId: 'a1', artifactName: 'release-2', size: 1000 });
    download.bytesOut = 400;
    const devices = activity.devices.recentFirst();
    expect(devices).toHaveLength(1);
    expect(devices[0]).toMatchObject({
      identity: 'dev-1',
      address: '192.0.2.10',
      userAgent: 'Mender/5.1',
      lastPath: '/api/devices/v1/gateway/artifacts/k1',
      lastStatus: undefined,
    });
    expect(devices[0]!.download).toMatchObject({ result: 'miss', finished: false, exchange: download });
    download.res.statusCode = 200;
    gw.exchangeEnd(download);
    expect(devices[0]!.download).toMatchObject({ finished: true, bytes: 400, exchange: undefined });
    off();
  });

  it('keeps the 1,000 most recently seen devices of 20,000 distinct identities', () => {
    const { gw, activity, off } = setup();
    for (let i = 0; i < 20_000; i++) {
      const e = exchange(NEXT, { sub: `id-${i}`, ip: `10.0.${(i >> 8) & 255}.${i & 255}` });
      gw.exchangeStart(e);
      gw.exchangeEnd(e);
    }
    expect(activity.devices.size).toBe(ACTIVITY_LIMITS.devices);
    const seen = activity.devices.recentFirst();
    expect(seen[0]!.identity).toBe('id-19999');
    expect(seen.at(-1)!.identity).toBe(`id-${20_000 - ACTIVITY_LIMITS.devices}`);
    off();
  });

  it('keeps the last 100 errors, newest first, with redacted paths and the device', () => {
    const { gw, activity, off, clock } = setup();
    for (let i = 0; i < 150; i++) {
      clock.t += 1000;
      const e = exchange(`/api/devices/v1/gateway/artifacts/proxy/c2VjcmV0LXByZXNpZ25lZA?n=${i}`, {
        sub: 'dev-err',
      });
      gw.exchangeStart(e);
      e.fail(new GatewayError('MGW_NOT_FOUND', `not served ${i}`));
      gw.exchangeEnd(e);
    }
    const errors = activity.errors;
    expect(errors).toHaveLength(ACTIVITY_LIMITS.errors);
    expect(errors[0]).toMatchObject({
      code: 'MGW_NOT_FOUND',
      status: 404,
      message: 'not served 149',
      path: '/api/devices/v1/gateway/artifacts/proxy/[redacted]',
      identity: 'dev-err',
    });
    expect(errors.at(-1)!.message).toBe('not served 50');
    expect(JSON.stringify(errors)).not.toContain('c2VjcmV0');
    off();
  });

  it('counts lookups, saved and fetched bytes like the metrics, and tracks fills', () => {
    const { gw, activity, off } = setup();
    const progress = { key: 'k1', size: 1000, written: 0 };
    gw.fillStarted(progress, { key: 'k1', artifactId: 'a1', artifactName: 'release-2', size: 1000 });
    progress.written = 600;
    expect(activity.fills.get('k1')!.fill.written).toBe(600);
    const miss = exchange(ARTIFACT);
    miss.cacheLookup = { result: 'miss', source: 'fill' };
    miss.bytesOut = 1000;
    gw.cacheLookup('miss');
    gw.exchangeEnd(miss);
    gw.fillFinished(1000, 'k1');
    expect(activity.fills.size).toBe(0);
    const hit = exchange(ARTIFACT);
    hit.cacheLookup = { result: 'hit', source: 'cache' };
    hit.bytesOut = 1000;
    gw.cacheLookup('hit');
    gw.exchangeEnd(hit);
    expect(activity.counters).toEqual({
      lookups: { hit: 1, miss: 1, coalesced: 0, bypass: 0 },
      served: { cache: 1000, fill: 1000, upstream: 0 },
      saved: 1000,
      fetched: 1000,
    });
    off();
  });

  it('ignores other gateways, health checks as devices, and everything after unsubscribing', () => {
    const { gw, activity, off } = setup();
    const other = new Instrumentation();
    other.exchangeStart(exchange(NEXT, { sub: 'elsewhere' }));
    gw.exchangeStart(exchange('/api/internal/v1/gateway/ready'));
    expect(activity.devices.size).toBe(0);
    off();
    gw.exchangeStart(exchange(NEXT, { sub: 'late' }));
    expect(activity.devices.size).toBe(0);
  });
});
