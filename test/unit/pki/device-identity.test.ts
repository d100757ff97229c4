import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checkDistinctIdentities,
  deviceFileStem,
  expandDeviceIdentities,
  MAX_DEVICE_BATCH,
  parseDeviceIdentity,
  parseIdentityList,
  readIdentitiesFile,
} from '../../../src/core/pki/index.js';

const values = (list: { value: string }[]): string[] => list.map((i) => i.value);

describe('parseDeviceIdentity', () => {
  it('splits name=value; the value is what goes into CN', () => {
    expect(parseDeviceIdentity('mac=02:00:00:00:00:01')).toEqual({
      text: 'mac=02:00:00:00:00:01',
      attribute: 'mac',
      value: '02:00:00:00:00:01',
    });
    expect(parseDeviceIdentity(' serial = SN-0001 ')).toEqual({
      text: 'serial=SN-0001',
      attribute: 'serial',
      value: 'SN-0001',
    });
  });

  it('takes a bare value as is, also one with "=" that is not name=value', () => {
    expect(parseDeviceIdentity('02:00:00:00:00:01')).toEqual({
      text: '02:00:00:00:00:01',
      attribute: undefined,
      value: '02:00:00:00:00:01',
    });
    expect(parseDeviceIdentity('=x').value).toBe('=x');
    expect(parseDeviceIdentity('a b=c').value).toBe('a b=c');
    expect(parseDeviceIdentity('id=a=b')).toMatchObject({ attribute: 'id', value: 'a=b' });
  });

  it.each([
    ['', /empty/],
    ['mac=', /empty/],
    ['mac=' + 'x'.repeat(65), /longer than 64/],
    ['mac=a\tb', /control characters/],
  ])('refuses %j', (input, message) => {
    expect(() => parseDeviceIdentity(input)).toThrow(message);
  });
});

describe('expandDeviceIdentities', () => {
  it('counts MAC addresses up as 48-bit numbers, keeping separator and case', () => {
    expect(values(expandDeviceIdentities(parseDeviceIdentity('mac=02:00:00:00:00:fe'), 3))).toEqual([
      '02:00:00:00:00:fe',
      '02:00:00:00:00:ff',
      '02:00:00:00:01:00',
    ]);
    expect(values(expandDeviceIdentities(parseDeviceIdentity('02-00-00-00-FF-FF'), 2))).toEqual([
      '02-00-00-00-FF-FF',
      '02-00-00-01-00-00',
    ]);
    expect(expandDeviceIdentities(parseDeviceIdentity('mac=02:00:00:00:00:01'), 2)[1]?.text).toBe(
      'mac=02:00:00:00:00:02',
    );
  });

  it('refuses to run past ff:ff:ff:ff:ff:ff', () => {
    expect(() => expandDeviceIdentities(parseDeviceIdentity('ff:ff:ff:ff:ff:fe'), 3)).toThrow(/run past/);
    expect(values(expandDeviceIdentities(parseDeviceIdentity('ff:ff:ff:ff:ff:fe'), 2))).toHaveLength(2);
  });

  it('counts a trailing number up, keeping zero padding and growing past it', () => {
    expect(values(expandDeviceIdentities(parseDeviceIdentity('serial=dev-0098'), 3))).toEqual([
      'dev-0098',
      'dev-0099',
      'dev-0100',
    ]);
    expect(values(expandDeviceIdentities(parseDeviceIdentity('n9'), 3))).toEqual(['n9', 'n10', 'n11']);
  });

  it('refuses a value it cannot count up', () => {
    expect(() => expandDeviceIdentities(parseDeviceIdentity('mac=gateway'), 2)).toThrow(/cannot count up/);
  });

  it('returns a single identity unchanged, whatever it looks like', () => {
    expect(values(expandDeviceIdentities(parseDeviceIdentity('gateway'), 1))).toEqual(['gateway']);
  });

  it(`limits a batch to ${MAX_DEVICE_BATCH}`, () => {
    expect(() => expandDeviceIdentities(parseDeviceIdentity('d1'), MAX_DEVICE_BATCH + 1)).toThrow(
      /between 1 and/,
    );
    expect(() => expandDeviceIdentities(parseDeviceIdentity('d1'), 0)).toThrow(/between 1 and/);
  });
});

describe('identity lists', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mgw-identities-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads one identity per line, skipping blanks and # comments, CRLF or LF', async () => {
    const file = join(dir, 'ids.txt');
    await writeFile(
      file,
      '# factory batch 7\r\nmac=02:00:00:00:00:01\r\n\r\n  serial=SN-2  \n#mac=02:00:00:00:00:03\n',
    );
    expect((await readIdentitiesFile(file)).map((i) => i.text)).toEqual([
      'mac=02:00:00:00:00:01',
      'serial=SN-2',
    ]);
  });

  it('names file and line of a bad entry', () => {
    expect(() => parseIdentityList('ok\nmac=\n', 'ids.txt')).toThrow(/^ids\.txt:2: /);
  });

  it('refuses an empty list and an unreadable file', async () => {
    expect(() => parseIdentityList('# nothing\n\n', 'empty.txt')).toThrow(/lists no device identities/);
    await expect(readIdentitiesFile(join(dir, 'missing.txt'))).rejects.toMatchObject({
      code: 'MGW_PKI_INVALID_INPUT',
    });
  });
});

describe('deviceFileStem and checkDistinctIdentities', () => {
  it('maps the value to a safe file name', () => {
    expect(deviceFileStem(parseDeviceIdentity('mac=02:00:00:00:00:01'))).toBe('device-02-00-00-00-00-01');
    expect(deviceFileStem(parseDeviceIdentity('serial=SN 0001/B'))).toBe('device-SN-0001-B');
    expect(deviceFileStem(parseDeviceIdentity('../../etc/passwd'))).toBe('device-etc-passwd');
    expect(deviceFileStem(parseDeviceIdentity('日本'))).toMatch(/^device-[0-9a-f]{12}$/);
  });

  it('refuses duplicates and identities that would share a file', () => {
    expect(() =>
      checkDistinctIdentities([parseDeviceIdentity('mac=a1'), parseDeviceIdentity('serial=a1')]),
    ).toThrow(/listed twice/);
    expect(() => checkDistinctIdentities([parseDeviceIdentity('a:b'), parseDeviceIdentity('a-b')])).toThrow(
      /both be written as device-a-b\.crt/,
    );
    expect(() =>
      checkDistinctIdentities([parseDeviceIdentity('a1'), parseDeviceIdentity('a2')]),
    ).not.toThrow();
  });
});
