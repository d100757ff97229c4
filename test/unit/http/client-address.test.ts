import { describe, expect, it } from 'vitest';
import { Socket } from 'node:net';
import { appendForwardedFor, clientAddress } from '../../../src/core/http/client-address.js';

const socket = (remoteAddress: string | undefined): Socket => {
  // A real Socket instance (remoteAddress is a prototype getter), never connected.
  const s = new Socket();
  Object.defineProperty(s, 'remoteAddress', { value: remoteAddress });
  return s;
};

describe('client address and X-Forwarded-For (protocol doc §7)', () => {
  it('unmaps IPv4-mapped IPv6 addresses and keeps real IPv6 ones', () => {
    expect(clientAddress(socket('::ffff:10.1.2.3'))).toBe('10.1.2.3');
    expect(clientAddress(socket('fd00::1'))).toBe('fd00::1');
    expect(clientAddress(socket(undefined))).toBe('unknown');
  });

  it('appends the device IP so upstream always finds ours last', () => {
    expect(appendForwardedFor(undefined, '10.0.0.5')).toBe('10.0.0.5');
    expect(appendForwardedFor('  ', '10.0.0.5')).toBe('10.0.0.5');
    expect(appendForwardedFor('1.2.3.4', '10.0.0.5')).toBe('1.2.3.4, 10.0.0.5');
    expect(appendForwardedFor(['1.1.1.1', '2.2.2.2'], '10.0.0.5')).toBe('1.1.1.1, 2.2.2.2, 10.0.0.5');
  });
});
