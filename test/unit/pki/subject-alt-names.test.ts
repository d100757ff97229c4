import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  buildSubjectAltNames,
  createIssuer,
  issueCa,
  issueServer,
  normalizeDnsName,
  normalizeIpAddress,
  serverNames,
  splitHostNames,
} from '../../../src/core/pki/index.js';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return (err as { code?: string }).code;
  }
  return undefined;
}

describe('normalizeDnsName', () => {
  it.each([
    ['Gateway.Example.COM', 'gateway.example.com'],
    ['localhost', 'localhost'],
    ['*.gw.example.com', '*.gw.example.com'],
    ['my_host.lan', 'my_host.lan'],
    ['xn--bcher-kva.example', 'xn--bcher-kva.example'],
  ])('accepts %s as %s', (input, expected) => {
    expect(normalizeDnsName(input)).toBe(expected);
  });

  it.each([
    ['', /empty/],
    ['10.0.0.1', /is an IP address/],
    ['bücher.example', /non-ASCII/],
    ['gw.example.com.', /ends with a dot/],
    ['-gw.example', /invalid label "-gw"/],
    ['gw-.example', /invalid label "gw-"/],
    ['gw..example', /invalid label ""/],
    ['gw.*.example', /invalid label "\*"/],
    ['*', /invalid label "\*"/],
    ['a'.repeat(64) + '.example', /invalid label/],
    ['has space.example', /invalid label/],
    [Array.from({ length: 60 }, () => 'abcd').join('.'), /longer than 253/],
  ])('refuses %j', (input, message) => {
    expect(() => normalizeDnsName(input)).toThrow(message);
    expect(codeOf(() => normalizeDnsName(input))).toBe('MGW_PKI_INVALID_INPUT');
  });

  it('points an IP given as a DNS name at --ip', () => {
    try {
      normalizeDnsName('192.168.1.1');
    } catch (err) {
      expect((err as { hint?: string }).hint).toContain('--ip 192.168.1.1');
    }
  });
});

describe('normalizeIpAddress', () => {
  it.each([
    ['10.0.0.1', '10.0.0.1'],
    ['::1', '::1'],
    ['[fd00::1]', 'fd00::1'],
    ['FD00:0:0:0:0:0:0:1', 'fd00::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    // Embedded dotted quads are rewritten to hex groups: @peculiar/x509 mis-parses them.
    ['::ffff:192.0.2.1', '::ffff:c000:201'],
  ])('accepts %s as %s', (input, expected) => {
    expect(normalizeIpAddress(input)).toBe(expected);
  });

  it.each([
    ['fe80::1%eth0', /zone id/],
    ['10.0.0.256', /not an IP address/],
    ['010.0.0.1', /not an IP address/],
    ['gateway', /not an IP address/],
    ['', /not an IP address/],
  ])('refuses %j', (input, message) => {
    expect(() => normalizeIpAddress(input)).toThrow(message);
  });
});

describe('buildSubjectAltNames', () => {
  it('lists DNS names, then IPs, in order and without duplicates', () => {
    expect(
      buildSubjectAltNames({
        dns: ['gw.example.com', 'GW.example.com', 'gw'],
        ip: ['10.0.0.1', '::1', '10.0.0.1'],
      }),
    ).toEqual([
      { type: 'dns', value: 'gw.example.com' },
      { type: 'dns', value: 'gw' },
      { type: 'ip', value: '10.0.0.1' },
      { type: 'ip', value: '::1' },
    ]);
  });

  it('needs at least one name', () => {
    expect(() => buildSubjectAltNames({})).toThrow(/at least one DNS name or IP address/);
    expect(codeOf(() => buildSubjectAltNames({ dns: [], ip: [] }))).toBe('MGW_PKI_INVALID_INPUT');
  });
});

describe('serverNames', () => {
  it('uses the first name as CN, an IP when no DNS name is given', () => {
    expect(serverNames({ dns: ['b.example', 'a.example'] }).commonName).toBe('b.example');
    expect(serverNames({ ip: ['10.1.2.3'] }).commonName).toBe('10.1.2.3');
  });

  it('refuses a first name too long for a CN', () => {
    const long = `${'a'.repeat(60)}.example.com`;
    expect(() => serverNames({ dns: [long, 'short.example'] })).toThrow(/longer than 64 characters/);
    expect(serverNames({ dns: ['short.example', long] }).altNames).toHaveLength(2);
  });
});

describe('splitHostNames', () => {
  it('sorts a free-form answer into DNS names and IPs', () => {
    expect(splitHostNames(' gw.example.com, 10.0.0.1 [::1]  gateway,,')).toEqual({
      dns: ['gw.example.com', 'gateway'],
      ip: ['10.0.0.1', '[::1]'],
    });
  });
});

describe('SANs in an issued server certificate', () => {
  it('are what Node (OpenSSL) reads back, IPv6 and IPv4-mapped included', async () => {
    const ca = await issueCa({ commonName: 'SAN Test CA' });
    const issuer = await createIssuer(ca.certificate, ca.privateKey, { source: 'test CA' });
    const server = await issueServer({
      dns: ['gw.example.com', '*.devices.example.com'],
      ip: ['192.0.2.10', 'fd00::10', '::ffff:192.0.2.1'],
      issuer,
    });
    const node = new X509Certificate(Buffer.from(server.certificate.rawData));
    expect(node.subjectAltName).toBe(
      'DNS:gw.example.com, DNS:*.devices.example.com, IP Address:192.0.2.10, IP Address:FD00:0:0:0:0:0:0:10, IP Address:0:0:0:0:0:FFFF:C000:201',
    );
    expect(node.checkHost('gw.example.com')).toBe('gw.example.com');
    expect(node.checkHost('d1.devices.example.com')).toBe('*.devices.example.com');
    expect(node.checkHost('a.b.devices.example.com')).toBeUndefined();
    expect(node.checkIP('192.0.2.10')).toBe('192.0.2.10');
    expect(node.checkIP('fd00::10')).toBe('fd00::10');
    expect(node.subject).toBe('CN=gw.example.com');
  });
});
