import { describe, expect, it } from 'vitest';
import { parseListenAddress } from '../../../src/core/config/listen-address.js';

describe('listen addresses (Go host:port, docs/protocol.md §6.3)', () => {
  it.each([
    [':443', undefined, 443],
    ['0.0.0.0:8080', '0.0.0.0', 8080],
    ['[::1]:8443', '::1', 8443],
    ['[::]:443', '::', 443],
    ['localhost:80', 'localhost', 80],
    ['gateway.example.com:65535', 'gateway.example.com', 65535],
    ['127.0.0.1:0', '127.0.0.1', 0],
  ])('%s → host %s port %d', (raw, host, port) => {
    expect(parseListenAddress(raw)).toEqual({ ok: true, value: { host, port, raw } });
  });

  it.each([
    ['abc', /is not host:port/],
    ['443', /is not host:port/],
    [':', /has no port/],
    [':https', /ports must be numbers/],
    [':70000', /ports are 1–65535/],
    ['::1:8443', /IPv6 addresses need brackets/],
    ['[::1:8443', /without a closing/],
    ['[::1]8443', /missing ":port"/],
    ['[example.com]:80', /not an IPv6 address/],
    ['bad_host:80', /neither an IP address nor a host name/],
    [' :80', /neither an IP address nor a host name/],
  ])('rejects %j', (raw, why) => {
    const result = parseListenAddress(raw);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.message).toMatch(why);
      expect(result.message.startsWith(JSON.stringify(raw))).toBe(true);
      expect(result.hint).not.toBe('');
    }
  });

  it('takes only IP addresses or an empty host for the metrics listener', () => {
    expect(parseListenAddress(':9102', { ipOnly: true }).ok).toBe(true);
    expect(parseListenAddress('127.0.0.1:9102', { ipOnly: true }).ok).toBe(true);
    expect(parseListenAddress('[::1]:9102', { ipOnly: true }).ok).toBe(true);
    const named = parseListenAddress('localhost:9102', { ipOnly: true });
    expect(named).toMatchObject({ ok: false, message: expect.stringMatching(/not a host name/) });
  });
});
