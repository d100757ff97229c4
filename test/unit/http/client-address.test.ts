import { describe, expect, it } from 'vitest';
import { Socket } from 'node:net';
import { clientAddress } from '../../../src/core/http/client-address.js';
import { NOT_FORWARDED, forwardedFor } from '../../../src/core/http/forwarding-headers.js';

const socket = (remoteAddress: string | undefined): Socket => {
  // A real Socket instance (remoteAddress is a prototype getter), never connected.
  const s = new Socket();
  Object.defineProperty(s, 'remoteAddress', { value: remoteAddress });
  return s;
};

describe('client address and X-Forwarded-For', () => {
  it('unmaps IPv4-mapped IPv6 addresses and keeps real IPv6 ones', () => {
    expect(clientAddress(socket('::ffff:10.1.2.3'))).toBe('10.1.2.3');
    expect(clientAddress(socket('fd00::1'))).toBe('fd00::1');
    expect(clientAddress(socket(undefined))).toBe('unknown');
  });

  it('sets the device IP itself and never forwards the address claims of a device', () => {
    expect(forwardedFor('10.0.0.5')).toEqual(['x-forwarded-for', '10.0.0.5', 'x-real-ip', '10.0.0.5']);
    for (const name of [
      'x-forwarded-for',
      'x-real-ip',
      'forwarded',
      'true-client-ip',
      'x-forwarded-host',
      'expect',
    ])
      expect(NOT_FORWARDED.has(name), name).toBe(true);
  });
});
