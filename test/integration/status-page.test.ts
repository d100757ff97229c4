import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import type { Dispatcher } from 'undici';
import { startCacheScenario, DEVICE_TYPE } from '../support/cache-scenario.js';
import type { CacheScenario } from '../support/cache-scenario.js';
import { pollNext } from '../support/simulated-device.js';
import type { SimulatedDevice } from '../support/simulated-device.js';
import { fakeJwt } from '../support/unsigned-jwt.js';
import type { StatusSnapshot } from '../../src/core/status/status-snapshot.js';
import { MAX_STATUS_STREAMS } from '../../src/core/status/status-stream.js';

const provides = { device_type: DEVICE_TYPE, artifact_name: 'initial' };
const XSS = '<img src=x onerror=document.title="owned">';

/**
 * The first `data:` event of a stream, parsed. The stream stays open (an async iterator would
 * destroy it on return): later chunks flow on unread.
 */
function firstEvent(body: Dispatcher.ResponseData['body']): Promise<StatusSnapshot> {
  return new Promise((resolve, reject) => {
    let text = '';
    const onData = (chunk: Buffer): void => {
      text += chunk.toString('utf8');
      const match = /^data: (.*)\n\n/m.exec(text);
      if (match?.[1] === undefined) return;
      body.off('data', onData);
      resolve(JSON.parse(match[1]) as StatusSnapshot);
    };
    body.on('data', onData);
    body.once('error', reject);
    body.once('end', () => reject(new Error(`stream ended before an event: ${text}`)));
  });
}

/** The status page on the metrics listener of an in-process gateway. */
describe('status page', () => {
  let s: CacheScenario;
  let base: string;
  let device: SimulatedDevice;

  beforeAll(async () => {
    s = await startCacheScenario({ metrics: true });
    base = s.metricsUrl!.replace(/\/metrics$/, '');
    device = await s.newDevice();
  });
  afterAll(async () => {
    await s.close();
  });

  it('serves the page with a strict policy, never cached, never sniffed', async () => {
    const res = await request(`${base}/status`);
    const html = await res.body.text();
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.headers['content-security-policy']).toMatch(
      /^default-src 'none'; script-src 'sha256-[A-Za-z0-9+/=]+'; style-src 'sha256-[A-Za-z0-9+/=]+'; connect-src 'self'/,
    );
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['cache-control']).toBe('no-store');
    expect(html).toContain('<title>mender-gw status</title>');
    // Not on the device listener: only the admin listener has it.
    const onDevicePort = await request(`${s.gw.url}/status`);
    await onDevicePort.body.dump();
    expect(onDevicePort.statusCode).toBe(404);
  });

  it('shows a device by its token subject, markup as plain data, and no link signature', async () => {
    const answer = await pollNext(s.gw.url, device, provides);
    expect(answer.status).toBe(204);
    const forged = await request(`${s.gw.url}/api/devices/v1/inventory/device/attributes`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${fakeJwt({ sub: XSS })}`, 'content-type': 'application/json' },
      body: '[]',
    });
    await forged.body.dump();
    const res = await request(`${base}/status.json`);
    expect(res.headers['cache-control']).toBe('no-store');
    const snapshot = (await res.body.json()) as StatusSnapshot;
    const identities = snapshot.devices.map((d) => d.identity);
    expect(identities).toContain(XSS);
    const real = snapshot.devices.find((d) => d.identity !== XSS);
    expect(real?.identity).toMatch(/^[0-9a-f-]{36}$/);
    expect(real?.lastCall).toBe('POST /api/devices/v2/deployments/device/deployments/next');
    expect(snapshot.upstream?.reachable).toBe(true);
    expect(snapshot.cache?.path).toBe(s.cacheDir);
  });

  it(`streams snapshots to ${MAX_STATUS_STREAMS} viewers, refuses the next, and ends them all at close`, async () => {
    const streams = await Promise.all(
      Array.from({ length: MAX_STATUS_STREAMS }, () => request(`${base}/status/events`)),
    );
    for (const res of streams) {
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    }
    const events = await Promise.all(streams.map((res) => firstEvent(res.body)));
    for (const e of events) expect(e.version).toBeTypeOf('string');
    const refused = await request(`${base}/status/events`);
    expect(refused.statusCode).toBe(503);
    expect(await refused.body.text()).toContain('status.json');
    // Closing the gateway ends every stream instead of waiting for the browsers.
    const ended = streams.map((res) => new Promise((resolve) => res.body.once('close', resolve)));
    await s.gw.close();
    await Promise.all(ended);
    await s.restartGateway();
  });
});
