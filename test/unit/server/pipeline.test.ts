import { describe, expect, it } from 'vitest';
import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { GatewayError } from '../../../src/core/errors.js';
import { Exchange } from '../../../src/core/server/exchange.js';
import { runPipeline } from '../../../src/core/server/interceptor.js';
import type { Interceptor } from '../../../src/core/server/interceptor.js';
import { aliveEndpoint, mtlsAdmission, pathPolicy } from '../../../src/core/server/gateway-endpoints.js';
import type { PeerPolicy } from '../../../src/core/mtls/client-certificate-check.js';
import { drainInterceptor } from '../../../src/core/server/drain.js';

/** An exchange on an unconnected socket: what interceptors see, without a server. */
function fakeExchange(method: string, url: string, listener: 'http' | 'https' = 'http'): Exchange {
  const req = new IncomingMessage(new Socket());
  req.method = method;
  req.url = url;
  const res = new ServerResponse(req);
  return new Exchange(req, res, listener, '192.0.2.10', () => undefined);
}

function recorder(name: string, seen: string[], matches = true): Interceptor {
  return {
    name,
    matches: () => matches,
    handle(_exchange, next) {
      seen.push(name);
      return name.startsWith('guard') ? next() : Promise.resolve();
    },
  };
}

describe('request pipeline', () => {
  it('runs the first matching interceptor only, and a guard passes on with next()', async () => {
    const seen: string[] = [];
    const chain = [
      recorder('skipped', seen, false),
      recorder('guard', seen),
      recorder('handler', seen),
      recorder('never', seen),
    ];
    await runPipeline(chain, fakeExchange('GET', '/api/devices/v1/x'));
    expect(seen).toEqual(['guard', 'handler']);
  });

  it('alive answers 204 and matches nothing else', async () => {
    const alive = fakeExchange('GET', '/api/internal/v1/gateway/alive');
    expect(aliveEndpoint.matches(alive)).toBe(true);
    expect(aliveEndpoint.matches(fakeExchange('GET', '/api/devices/v1/x'))).toBe(false);
    await aliveEndpoint.handle(alive, () => Promise.resolve());
    expect(alive.res.statusCode).toBe(204);
    expect(alive.outcome.kind).toBe('completed');
  });

  it('path policy refuses the management API (404) and dot segments (400) as refusals, never as upstream failures', async () => {
    const management = fakeExchange('GET', '/api/management/v1/useradm/users');
    expect(pathPolicy.matches(management)).toBe(true);
    await pathPolicy.handle(management, () => Promise.resolve());
    expect(management.res.statusCode).toBe(404);
    expect(management.outcome.kind).toBe('refused');

    const dots = fakeExchange('GET', '/api/devices/v1/%2e%2e/management');
    await pathPolicy.handle(dots, () => Promise.resolve());
    expect(dots.res.statusCode).toBe(400);
    expect(dots.outcome.kind).toBe('refused');
    expect(pathPolicy.matches(fakeExchange('GET', '/api/devices/v1/inventory/device/attributes'))).toBe(
      false,
    );
  });

  it('mTLS admission refuses the device API on plain HTTP with 403 unless allowed', async () => {
    const policy: PeerPolicy = { anchors: [], blacklist: undefined, skipExpiry: false };
    const refused = fakeExchange('POST', '/api/devices/v1/authentication/auth_requests');
    let passed = false;
    await mtlsAdmission(policy, false).handle(refused, () => {
      passed = true;
      return Promise.resolve();
    });
    expect(passed).toBe(false);
    expect(refused.res.statusCode).toBe(403);
    expect(refused.error?.code).toBe('MGW_DEVICE_FORBIDDEN');

    const allowed = fakeExchange('POST', '/api/devices/v1/authentication/auth_requests');
    await mtlsAdmission(policy, true).handle(allowed, () => {
      passed = true;
      return Promise.resolve();
    });
    expect(passed).toBe(true);
    expect(allowed.certificate).toBeUndefined();
  });

  it('an exchange records a failure by whose it is: device, upstream or storage', () => {
    const exchange = fakeExchange('GET', '/api/devices/v1/x');
    exchange.record(new GatewayError('MGW_BODY_TOO_LARGE', 'too large'));
    expect(exchange.outcome.kind).toBe('refused');
    exchange.record(new GatewayError('MGW_UPSTREAM_TIMEOUT', 'slow'));
    expect(exchange.outcome.kind).toBe('upstream-failed');
    exchange.record(new GatewayError('MGW_UPSTREAM_UNREACHABLE', 'down'), 'storage');
    expect(exchange.outcome.kind).toBe('storage-failed');
    exchange.record(new GatewayError('MGW_CACHE_IO', 'disk'));
    expect(exchange.outcome.kind).toBe('cache-fault');
  });

  it('ends an exchange once, and not on the response closing when a tunnel took it over', () => {
    let ended = 0;
    const req = new IncomingMessage(new Socket());
    req.url = '/api/devices/v1/deviceconnect/connect';
    const exchange = new Exchange(req, new ServerResponse(req), 'http', '192.0.2.10', () => ended++);
    exchange.takeOver();
    exchange.responseClosed();
    expect(ended).toBe(0);
    exchange.end();
    exchange.end();
    expect(ended).toBe(1);
  });
});

describe('drain interceptor', () => {
  const state = { draining: false };
  const drain = drainInterceptor(state, 30);

  it('matches nothing until the gateway drains, then every device call but downloads', () => {
    const poll = fakeExchange('POST', '/api/devices/v2/deployments/device/deployments/next');
    expect(drain.matches(poll)).toBe(false);
    state.draining = true;
    expect(drain.matches(poll)).toBe(true);
    expect(
      drain.matches(fakeExchange('GET', '/api/devices/v1/gateway/artifacts/abc?x-men-signature=s')),
    ).toBe(false);
    expect(
      drain.matches(fakeExchange('GET', '/api/devices/v1/deployments/download/configuration/d/a/c')),
    ).toBe(false);
  });

  it('answers 401 to a device call and 503 + Retry-After to an auth request, never as an upstream failure', async () => {
    state.draining = true;
    const poll = fakeExchange('PUT', '/api/devices/v1/inventory/device/attributes');
    await drain.handle(poll, () => Promise.reject(new Error('must not pass')));
    expect(poll.res.statusCode).toBe(401);
    expect(poll.error?.code).toBe('MGW_DRAINING_REAUTHENTICATE');
    expect(poll.outcome.kind).not.toBe('upstream-failed');

    const auth = fakeExchange('POST', '/api/devices/v1/authentication/auth_requests');
    await drain.handle(auth, () => Promise.reject(new Error('must not pass')));
    expect(auth.res.statusCode).toBe(503);
    expect(auth.res.getHeader('retry-after')).toBe('30');
    expect(auth.error?.code).toBe('MGW_DRAINING');
    expect(auth.outcome.kind).not.toBe('upstream-failed');
  });
});
