import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Readable } from 'node:stream';
import { request } from 'undici';
import { startFakeUpstream } from '../support/fake-upstream/index.js';
import type { FakeUpstream, InventoryRequestRecord } from '../support/fake-upstream/index.js';
import { startTestGateway } from '../support/test-gateway.js';
import type { TestGateway } from '../support/test-gateway.js';
import { SimulatedDevice } from '../support/simulated-device.js';

/**
 * Features.DeviceSystem (docs/protocol.md §5): every inventory update through the gateway carries
 * `mender_gateway_system_id` and the DefaultInventory attributes the device did not send itself,
 * with a Content-Length that matches the rewritten body (MEN-7738).
 */

const INVENTORY_PATH = '/api/devices/v1/inventory/device/attributes';
const DEFAULTS = [
  { Name: 'region', Value: 'north' },
  { Name: 'customer', Value: 'acme' },
];

interface Attribute {
  name: string;
  value: unknown;
}

async function startWorld(
  conf: Record<string, unknown>,
): Promise<{ upstream: FakeUpstream; gw: TestGateway; device: SimulatedDevice }> {
  const upstream = await startFakeUpstream({ autoAcceptDevices: true });
  const gw = await startTestGateway({
    UpstreamServer: { URL: upstream.url, CACertificate: upstream.pki.ca.certPath },
    ...conf,
  });
  const device = new SimulatedDevice('02:00:00:00:5e:01');
  expect(await device.authenticate(gw.url)).toBe(200);
  return { upstream, gw, device };
}

describe('Device System inventory injection', () => {
  let upstream: FakeUpstream;
  let gw: TestGateway;
  let device: SimulatedDevice;

  beforeAll(async () => {
    ({ upstream, gw, device } = await startWorld({
      Features: { DeviceSystem: { Enabled: true, SystemID: 'site-7', DefaultInventory: DEFAULTS } },
    }));
  });
  afterAll(async () => {
    await gw.close();
    await upstream.close();
  });

  async function send(
    method: 'PUT' | 'PATCH',
    body: string | Buffer | Readable,
  ): Promise<{ status: number; record: InventoryRequestRecord | undefined }> {
    const before = upstream.state.inventoryRequests.length;
    const res = await request(`${gw.url}${INVENTORY_PATH}`, {
      method,
      headers: { authorization: `Bearer ${device.jwt ?? ''}`, 'content-type': 'application/json' },
      body,
    });
    await res.body.dump();
    return { status: res.statusCode, record: upstream.state.inventoryRequests[before] };
  }

  const parsed = (record: InventoryRequestRecord | undefined): Attribute[] =>
    JSON.parse(record!.rawBody.toString('utf8')) as Attribute[];

  it.each(['PUT', 'PATCH'] as const)(
    'adds the system id and the defaults to a %s, keeping the device’s own value',
    async (method) => {
      const sent: Attribute[] = [
        { name: 'device_type', value: 'qemux86-64' },
        { name: 'region', value: 'south' },
        { name: 'ipv4_eth0', value: ['10.0.0.5/24', '10.0.0.6/24'] },
      ];
      const { status, record } = await send(method, JSON.stringify(sent));
      expect(status).toBe(200);
      expect(record?.method).toBe(method);
      expect(parsed(record)).toEqual([
        ...sent,
        { name: 'mender_gateway_system_id', value: 'site-7' },
        { name: 'customer', value: 'acme' },
      ]);
      expect(record?.contentLengthHeader).toBe(String(record?.rawBody.length));
      expect(record?.contentLengthMatched).toBe(true);
      const stored = upstream.state.inventory.get(upstream.device(device.mac)!.id) ?? [];
      expect(stored.find((a) => a.name === 'region')?.value).toBe('south');
      expect(stored.find((a) => a.name === 'mender_gateway_system_id')?.value).toBe('site-7');
    },
  );

  it('rewrites a chunked body (the 3.x client streams it) and sends it with a Content-Length', async () => {
    const chunks = [
      Buffer.from('[{"name":"device_type",'),
      Buffer.from('"value":"raspberrypi4"}'),
      Buffer.from(']'),
    ];
    const { status, record } = await send('PUT', Readable.from(chunks));
    expect(status).toBe(200);
    expect(record?.transferEncoding).toBeUndefined();
    expect(record?.contentLengthMatched).toBe(true);
    expect(parsed(record)).toEqual([
      { name: 'device_type', value: 'raspberrypi4' },
      { name: 'mender_gateway_system_id', value: 'site-7' },
      { name: 'region', value: 'north' },
      { name: 'customer', value: 'acme' },
    ]);
  });

  it('keeps a system id the device (or an inner gateway) already set', async () => {
    const sent = [{ name: 'mender_gateway_system_id', value: 'inner-site' }];
    const { record } = await send('PATCH', JSON.stringify(sent));
    expect(parsed(record).filter((a) => a.name === 'mender_gateway_system_id')).toEqual(sent);
  });

  it.each([
    ['an object', '{"name":"device_type","value":"x"}'],
    ['an array of non-attributes', '[1,2,3]'],
    ['not JSON', '[{"name":'],
  ])('forwards %s unchanged for upstream to judge', async (_label, body) => {
    const { status, record } = await send('PUT', body);
    expect(status).toBe(400); // the fake upstream's verdict, relayed
    expect(record?.rawBody.toString('utf8')).toBe(body);
    expect(record?.contentLengthMatched).toBe(true);
  });

  it('answers 413 to a body over 1 MiB without sending anything upstream', async () => {
    const big = JSON.stringify([{ name: 'blob', value: 'x'.repeat(1024 * 1024) }]);
    const before = upstream.state.requests.length;
    const { status, record } = await send('PUT', big);
    expect(status).toBe(413);
    expect(record).toBeUndefined();
    expect(upstream.state.requests.length).toBe(before);
  });

  it('answers 413 to a chunked body over 1 MiB too', async () => {
    const before = upstream.state.requests.length;
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    const { status } = await send('PUT', Readable.from(Array.from({ length: 17 }, () => chunk)));
    expect(status).toBe(413);
    expect(upstream.state.requests.length).toBe(before);
  });

  it('respects the 100-attribute limit: with 99 from the device only the system id is added, and a warning is logged', async () => {
    const sent = Array.from({ length: 99 }, (_, i) => ({ name: `attr_${i}`, value: i }));
    const { status, record } = await send('PUT', JSON.stringify(sent));
    expect(status).toBe(200);
    const forwarded = parsed(record);
    expect(forwarded).toHaveLength(100);
    expect(forwarded.at(-1)).toEqual({ name: 'mender_gateway_system_id', value: 'site-7' });
    const warning = await gw.logs.waitFor((l) => l.msg.startsWith('inventory attribute limit reached'));
    expect(warning.level).toBe('warn');
    expect(warning.dropped).toEqual(['region', 'customer']);
  });

  it('leaves other device calls alone', async () => {
    const before = upstream.state.authRequests.length;
    expect(await device.authenticate(gw.url)).toBe(200);
    expect(upstream.state.authRequests[before]?.rawBody.equals(device.authBody())).toBe(true);
  });
});

describe('Device System with DefaultInventory at the root of the config (1.1.0 location)', () => {
  let upstream: FakeUpstream;
  let gw: TestGateway;
  let device: SimulatedDevice;

  beforeAll(async () => {
    ({ upstream, gw, device } = await startWorld({
      Features: { DeviceSystem: { Enabled: true, SystemID: 'site-8' } },
      DefaultInventory: [{ Name: 'rack', Value: 12 }],
    }));
  });
  afterAll(async () => {
    await gw.close();
    await upstream.close();
  });

  it('injects the legacy defaults', async () => {
    const res = await request(`${gw.url}${INVENTORY_PATH}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${device.jwt ?? ''}`, 'content-type': 'application/json' },
      body: JSON.stringify([{ name: 'device_type', value: 'qemux86-64' }]),
    });
    expect(res.statusCode).toBe(200);
    await res.body.dump();
    const record = upstream.state.inventoryRequests.at(-1)!;
    expect(JSON.parse(record.rawBody.toString('utf8'))).toEqual([
      { name: 'device_type', value: 'qemux86-64' },
      { name: 'mender_gateway_system_id', value: 'site-8' },
      { name: 'rack', value: 12 },
    ]);
    expect(record.contentLengthMatched).toBe(true);
  });
});

describe('Device System disabled', () => {
  let upstream: FakeUpstream;
  let gw: TestGateway;
  let device: SimulatedDevice;

  beforeAll(async () => {
    ({ upstream, gw, device } = await startWorld({}));
  });
  afterAll(async () => {
    await gw.close();
    await upstream.close();
  });

  it('forwards inventory byte for byte', async () => {
    const body = '[ {"name": "device_type", "value": "qemux86-64"} ]';
    const res = await request(`${gw.url}${INVENTORY_PATH}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${device.jwt ?? ''}`, 'content-type': 'application/json' },
      body,
    });
    expect(res.statusCode).toBe(200);
    await res.body.dump();
    expect(upstream.state.inventoryRequests.at(-1)?.rawBody.toString('utf8')).toBe(body);
  });
});
