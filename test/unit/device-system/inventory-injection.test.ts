import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  injectInventory,
  MAX_INVENTORY_ATTRIBUTES,
  SYSTEM_ID_ATTRIBUTE,
} from '../../../src/core/device-system/inventory-injection.js';
import { INVENTORY_PATH, isInventoryUpdate } from '../../../src/core/device-system/inventory-interceptor.js';
import type { InventoryAttribute } from '../../../src/core/config/gateway-config.js';

/** Features.DeviceSystem (docs/protocol.md §5). */
describe('injectInventory', () => {
  const defaults: InventoryAttribute[] = [
    { name: 'region', value: 'north' },
    { name: 'rack', value: 12 },
    { name: 'zones', value: ['a', 'b'] },
  ];
  const inject = (attributes: unknown, d = defaults): ReturnType<typeof injectInventory> =>
    injectInventory(
      Buffer.from(typeof attributes === 'string' ? attributes : JSON.stringify(attributes)),
      'site-7',
      d,
    );
  const parse = (body: Buffer | undefined): unknown => JSON.parse(body!.toString('utf8'));

  it('appends the system id, then each default, after the device’s attributes', () => {
    const result = inject([{ name: 'device_type', value: 'qemux86-64' }]);
    expect(parse(result.body)).toEqual([
      { name: 'device_type', value: 'qemux86-64' },
      { name: SYSTEM_ID_ATTRIBUTE, value: 'site-7' },
      { name: 'region', value: 'north' },
      { name: 'rack', value: 12 },
      { name: 'zones', value: ['a', 'b'] },
    ]);
    expect(result.added).toEqual([SYSTEM_ID_ATTRIBUTE, 'region', 'rack', 'zones']);
    expect(result.dropped).toEqual([]);
  });

  it('keeps the device’s own value for a default and for the system id', () => {
    const sent = [
      { name: 'region', value: 'south', description: 'set on the device' },
      { name: SYSTEM_ID_ATTRIBUTE, value: 'inner-gateway' },
    ];
    const result = inject(sent);
    expect(parse(result.body)).toEqual([
      ...sent,
      { name: 'rack', value: 12 },
      { name: 'zones', value: ['a', 'b'] },
    ]);
    expect(result.added).toEqual(['rack', 'zones']);
  });

  it('adds each name once even if DefaultInventory repeats it', () => {
    const result = inject(
      [],
      [
        { name: 'region', value: 'north' },
        { name: 'region', value: 'east' },
        { name: SYSTEM_ID_ATTRIBUTE, value: 'ignored' },
      ],
    );
    expect(parse(result.body)).toEqual([
      { name: SYSTEM_ID_ATTRIBUTE, value: 'site-7' },
      { name: 'region', value: 'north' },
    ]);
  });

  it('serialises compactly, so the new Content-Length is the body’s byte length', () => {
    const result = inject('[ { "name" : "ü", "value" : "ä" } ]');
    expect(result.body!.toString('utf8')).toBe(
      '[{"name":"ü","value":"ä"},{"name":"mender_gateway_system_id","value":"site-7"},{"name":"region","value":"north"},{"name":"rack","value":12},{"name":"zones","value":["a","b"]}]',
    );
  });

  it.each([
    ['an object', '{"name":"a","value":1}'],
    ['an array of numbers', '[1,2]'],
    ['an attribute without a string name', '[{"name":1,"value":1}]'],
    ['null', 'null'],
    ['not JSON', '[{"name":'],
    ['an empty body', ''],
  ])('leaves %s alone (body undefined: forward unchanged)', (_label, text) => {
    expect(inject(text)).toEqual({ body: undefined, added: [], dropped: [] });
  });

  it('injects into an empty array', () => {
    expect(inject([]).added).toEqual([SYSTEM_ID_ATTRIBUTE, 'region', 'rack', 'zones']);
  });

  it('never goes over 100 attributes: with 99 only the system id fits; the rest is reported as dropped', () => {
    const sent = Array.from({ length: 99 }, (_, i) => ({ name: `a${i}`, value: i }));
    const result = inject(sent);
    expect((parse(result.body) as unknown[]).length).toBe(MAX_INVENTORY_ATTRIBUTES);
    expect(result.added).toEqual([SYSTEM_ID_ATTRIBUTE]);
    expect(result.dropped).toEqual(['region', 'rack', 'zones']);
  });

  it('adds nothing to a full update of 100, and does not drop the device’s own 101st', () => {
    const full = Array.from({ length: 100 }, (_, i) => ({ name: `a${i}`, value: i }));
    expect(inject(full).added).toEqual([]);
    const over = Array.from({ length: 101 }, (_, i) => ({ name: `a${i}`, value: i }));
    expect((parse(inject(over).body) as unknown[]).length).toBe(101); // upstream's call to refuse
  });

  it('keeps every device attribute, in order, and adds only missing names (property)', () => {
    const attribute = fc.record({
      name: fc.constantFrom('region', 'rack', 'device_type', SYSTEM_ID_ATTRIBUTE, 'x', 'y'),
      value: fc.oneof(fc.string(), fc.integer()),
    });
    fc.assert(
      fc.property(fc.array(attribute, { maxLength: 8 }), (sent) => {
        const result = inject(sent);
        const out = parse(result.body) as { name: string; value: unknown }[];
        expect(out.slice(0, sent.length)).toEqual(sent);
        const names = new Set<string>(sent.map((a) => a.name));
        for (const added of out.slice(sent.length)) expect(names.has(added.name)).toBe(false);
        expect(new Set(out.map((a) => a.name))).toEqual(
          new Set([...names, SYSTEM_ID_ATTRIBUTE, 'region', 'rack', 'zones']),
        );
      }),
    );
  });
});

describe('isInventoryUpdate', () => {
  it('intercepts PUT and PATCH of the device attributes only', () => {
    expect(isInventoryUpdate('PUT', INVENTORY_PATH)).toBe(true);
    expect(isInventoryUpdate('PATCH', INVENTORY_PATH)).toBe(true);
    expect(isInventoryUpdate('GET', INVENTORY_PATH)).toBe(false);
    expect(isInventoryUpdate('POST', INVENTORY_PATH)).toBe(false);
    expect(isInventoryUpdate('PUT', `${INVENTORY_PATH}/`)).toBe(false);
    expect(isInventoryUpdate('PUT', '/api/devices/v1/inventory/device/tags')).toBe(false);
  });
});
