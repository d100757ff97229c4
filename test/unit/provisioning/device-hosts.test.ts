import { describe, expect, it } from 'vitest';
import {
  certificateNameCovers,
  dnsNamesOfSubjectAltName,
  normalizeAddress,
  normalizeHostName,
  parseGatewaySpec,
  planDeviceHosts,
  renderDeviceHosts,
  renderDnsmasq,
  renderHostsFile,
  renderMenderConf,
} from '../../../src/core/provisioning/index.js';
import type { GatewayIdentity } from '../../../src/core/provisioning/index.js';
import { isGatewayError } from '../../../src/core/errors.js';

const HEADER = '# Mender gateway names (mender-gw device-hosts gen)';

/** An identity as `loadGatewayIdentity` derives it from a config with a certificate. */
function identity(overrides: Partial<GatewayIdentity> = {}): GatewayIdentity {
  return {
    source: '/etc/mender/mender-gateway.conf',
    scheme: 'https',
    port: 443,
    portSource: 'GatewayURL',
    names: ['gateway.site.test', 'gw.site.test'],
    certificateNames: ['gateway.site.test', 'gw.site.test', 'hosted.mender.io'],
    upstreamHost: 'hosted.mender.io',
    leftOut: [],
    warnings: [],
    ...overrides,
  };
}

function failure(fn: () => unknown): { code: string; message: string; hint: string | undefined } {
  try {
    fn();
  } catch (err) {
    if (!isGatewayError(err)) throw err;
    return { code: err.code, message: err.message, hint: err.hint };
  }
  throw new Error('expected a failure');
}

describe('planDeviceHosts + renderers: one gateway', () => {
  it('hosts: every configuration name and alias on the primary address', () => {
    const plan = planDeviceHosts({
      gateways: ['10.0.0.1'],
      aliases: ['hosted.mender.io'],
      identity: identity(),
    });
    expect(renderHostsFile(plan)).toBe(
      `${HEADER}\n10.0.0.1 gateway.site.test gw.site.test hosted.mender.io\n`,
    );
    expect(plan.warnings).toEqual([
      `alias "hosted.mender.io" is the upstream server's host name: keep these entries away from the gateway's own resolver, or the gateway will connect to itself`,
    ]);
  });

  it('dnsmasq: one host-record line', () => {
    const plan = planDeviceHosts({ gateways: ['10.0.0.1'], identity: identity() });
    expect(renderDnsmasq(plan)).toBe(`${HEADER}\nhost-record=gateway.site.test,gw.site.test,10.0.0.1\n`);
  });

  it('mender.conf: ServerURL and the default ServerCertificate', () => {
    const plan = planDeviceHosts({ gateways: ['10.0.0.1'], identity: identity() });
    expect(renderMenderConf(plan.menderConf)).toBe(
      '{\n  "ServerURL": "https://gateway.site.test",\n  "ServerCertificate": "/etc/mender/server.crt"\n}\n',
    );
  });

  it('a non-standard port goes into the URL; --port overrides the configuration', () => {
    expect(
      planDeviceHosts({ gateways: ['10.0.0.1'], identity: identity({ port: 8443 }) }).menderConf.ServerURL,
    ).toBe('https://gateway.site.test:8443');
    expect(
      planDeviceHosts({ gateways: ['10.0.0.1'], identity: identity({ port: 8443 }), port: 443 }).menderConf
        .ServerURL,
    ).toBe('https://gateway.site.test');
  });

  it('without --config: names from NAME= and --alias, https on 443', () => {
    const plan = planDeviceHosts({ gateways: ['gateway.site.test=10.0.0.1'], aliases: ['mender.site.test'] });
    expect(renderHostsFile(plan)).toBe(`${HEADER}\n10.0.0.1 gateway.site.test mender.site.test\n`);
    expect(plan.menderConf).toEqual({
      ServerURL: 'https://gateway.site.test',
      ServerCertificate: '/etc/mender/server.crt',
    });
    expect(plan.warnings).toEqual([
      `alias "mender.site.test" works only if the gateway's server certificate covers that name (no certificate was read: pass --config to check)`,
    ]);
  });

  it('an alias the certificate does not cover is warned about, one it covers by wildcard is not', () => {
    const plan = planDeviceHosts({
      gateways: ['10.0.0.1'],
      aliases: ['devices.site.test', 'legacy.example.com'],
      identity: identity({ certificateNames: ['gateway.site.test', '*.site.test'] }),
    });
    expect(plan.warnings).toEqual([
      'alias "legacy.example.com" is not among the server certificate\'s names (gateway.site.test, *.site.test): devices connecting to it will fail the TLS check; reissue the certificate with --dns legacy.example.com',
    ]);
  });

  it('IPv6 and a dual-stack gateway', () => {
    const plan = planDeviceHosts({ gateways: ['10.0.0.1,FD00:0:0::1'], identity: identity() });
    expect(renderHostsFile(plan)).toBe(
      `${HEADER}\n10.0.0.1 gateway.site.test gw.site.test\nfd00::1 gateway.site.test gw.site.test\n`,
    );
    expect(renderDnsmasq(plan)).toBe(
      `${HEADER}\nhost-record=gateway.site.test,gw.site.test,10.0.0.1,fd00::1\n`,
    );
    const v6only = planDeviceHosts({ gateways: ['[fd00::1]'], identity: identity() });
    expect(renderDnsmasq(v6only)).toBe(`${HEADER}\nhost-record=gateway.site.test,gw.site.test,fd00::1\n`);
  });

  it('ServerCertificate: a custom path, or left out with ""', () => {
    expect(
      planDeviceHosts({ gateways: ['10.0.0.1'], identity: identity(), serverCertificatePath: '/data/ca.pem' })
        .menderConf,
    ).toEqual({ ServerURL: 'https://gateway.site.test', ServerCertificate: '/data/ca.pem' });
    expect(
      planDeviceHosts({ gateways: ['10.0.0.1'], identity: identity(), serverCertificatePath: '' }).menderConf,
    ).toEqual({ ServerURL: 'https://gateway.site.test' });
  });
});

describe('planDeviceHosts + renderers: primary and standby', () => {
  const input = {
    gateways: ['10.0.0.1,fd00::1', 'gw2.site.test=10.0.0.2,fd00::2'],
    aliases: ['hosted.mender.io'],
    identity: identity(),
  };

  it('hosts: the shared names on the primary only, the standby under its own name', () => {
    expect(renderDeviceHosts(planDeviceHosts(input), 'hosts')).toBe(
      [
        HEADER,
        '10.0.0.1 gateway.site.test gw.site.test hosted.mender.io',
        'fd00::1 gateway.site.test gw.site.test hosted.mender.io',
        '10.0.0.2 gw2.site.test',
        'fd00::2 gw2.site.test',
        '',
      ].join('\n'),
    );
  });

  it('dnsmasq: one host-record per gateway, IPv4 and IPv6 paired', () => {
    expect(renderDeviceHosts(planDeviceHosts(input), 'dnsmasq')).toBe(
      [
        HEADER,
        'host-record=gateway.site.test,gw.site.test,hosted.mender.io,10.0.0.1,fd00::1',
        'host-record=gw2.site.test,10.0.0.2,fd00::2',
        '',
      ].join('\n'),
    );
  });

  it('dnsmasq: more addresses of one family become more lines for the same names', () => {
    const plan = planDeviceHosts({ gateways: ['gw.site.test=10.0.0.1,10.0.1.1,fd00::1'] });
    expect(renderDnsmasq(plan)).toBe(
      `${HEADER}\nhost-record=gw.site.test,10.0.0.1,fd00::1\nhost-record=gw.site.test,10.0.1.1\n`,
    );
  });

  it('mender.conf: Servers, primary first', () => {
    expect(renderMenderConf(planDeviceHosts(input).menderConf)).toBe(
      [
        '{',
        '  "Servers": [',
        '    {',
        '      "ServerURL": "https://gateway.site.test"',
        '    },',
        '    {',
        '      "ServerURL": "https://gw2.site.test"',
        '    }',
        '  ],',
        '  "ServerCertificate": "/etc/mender/server.crt"',
        '}',
        '',
      ].join('\n'),
    );
  });

  it('json: the whole plan', () => {
    const plan = planDeviceHosts({
      gateways: ['10.0.0.1', 'gw2.site.test=fd00::2'],
      identity: identity({ names: ['gateway.site.test'] }),
    });
    expect(JSON.parse(renderDeviceHosts(plan, 'json'))).toEqual({
      gateways: [
        {
          role: 'primary',
          names: ['gateway.site.test'],
          addresses: ['10.0.0.1'],
          serverUrl: 'https://gateway.site.test',
        },
        {
          role: 'standby',
          names: ['gw2.site.test'],
          addresses: ['fd00::2'],
          serverUrl: 'https://gw2.site.test',
        },
      ],
      hosts: [
        { address: '10.0.0.1', names: ['gateway.site.test'] },
        { address: 'fd00::2', names: ['gw2.site.test'] },
      ],
      menderConf: {
        Servers: [{ ServerURL: 'https://gateway.site.test' }, { ServerURL: 'https://gw2.site.test' }],
        ServerCertificate: '/etc/mender/server.crt',
      },
      leftOut: [],
      warnings: [],
    });
  });
});

describe('planDeviceHosts: refused inputs name the culprit', () => {
  const cases: [string, Parameters<typeof planDeviceHosts>[0], RegExp][] = [
    ['no --ip', { gateways: [], identity: identity() }, /^no gateway address given$/],
    [
      'an address out of range',
      { gateways: ['10.0.0.256'], identity: identity() },
      /--ip "10.0.0.256": "10.0.0.256" is not an IP address/,
    ],
    [
      'a word',
      { gateways: ['gateway'], identity: identity() },
      /--ip "gateway": "gateway" is not an IP address/,
    ],
    ['a zone id', { gateways: ['fe80::1%eth0'], identity: identity() }, /has a zone id/],
    [
      'the unspecified address',
      { gateways: ['0.0.0.0'], identity: identity() },
      /is the unspecified address/,
    ],
    [
      'an empty address',
      { gateways: ['10.0.0.1,'], identity: identity() },
      /--ip "10.0.0.1,": empty address/,
    ],
    [
      'an underscore',
      { gateways: ['10.0.0.1'], aliases: ['bad_name.test'], identity: identity() },
      /--alias "bad_name.test": "bad_name.test" is not a valid host name \(label "bad_name"\)/,
    ],
    [
      'a leading hyphen',
      { gateways: ['-gw.test=10.0.0.1'] },
      /--ip "-gw.test=10.0.0.1": "-gw.test" is not a valid host name/,
    ],
    [
      'a wildcard',
      { gateways: ['10.0.0.1'], aliases: ['*.site.test'] },
      /"\*.site.test" is not a valid host name \(label "\*"\)/,
    ],
    [
      'an address as alias',
      { gateways: ['10.0.0.1'], aliases: ['10.0.0.9'] },
      /--alias "10.0.0.9": "10.0.0.9" is an IP address/,
    ],
    [
      'a mistyped address as alias',
      { gateways: ['10.0.0.1'], aliases: ['10.0.0.256'] },
      /"10.0.0.256" is neither a host name nor an IP address/,
    ],
    [
      'a label over 63 characters',
      { gateways: ['10.0.0.1'], aliases: [`${'a'.repeat(64)}.test`] },
      /is not a valid host name/,
    ],
    ['no name at all', { gateways: ['10.0.0.1'] }, /^no host name for the gateway at --ip "10.0.0.1"$/],
    [
      'a standby without a name',
      { gateways: ['10.0.0.1', '10.0.0.2'], identity: identity() },
      /^standby gateway --ip "10.0.0.2" has no name$/,
    ],
    [
      'one name for two gateways',
      { gateways: ['10.0.0.1', 'gateway.site.test=10.0.0.2'], identity: identity() },
      /"gateway.site.test" would resolve to two gateways/,
    ],
    [
      'one address for two gateways',
      { gateways: ['10.0.0.1', 'gw2.site.test=10.0.0.1'], identity: identity() },
      /address 10.0.0.1 is given for two gateways/,
    ],
    [
      'port 0 from the configuration',
      { gateways: ['10.0.0.1'], identity: identity({ port: 0, portSource: 'HTTPS.Listen' }) },
      /HTTPS.Listen of \/etc\/mender\/mender-gateway.conf gives port 0/,
    ],
    [
      'a relative ServerCertificate',
      { gateways: ['10.0.0.1'], identity: identity(), serverCertificatePath: 'server.crt' },
      /--server-certificate-path "server.crt" is not an absolute path/,
    ],
  ];
  it.each(cases)('%s', (_name, input, message) => {
    const error = failure(() => planDeviceHosts(input));
    expect(error.code).toBe('MGW_PROVISIONING_INVALID_INPUT');
    expect(error.message).toMatch(message);
    expect(error.hint).toBeTruthy();
  });

  it('the standby hint shows how to name it', () => {
    expect(
      failure(() => planDeviceHosts({ gateways: ['10.0.0.1', '10.0.0.2'], identity: identity() })).hint,
    ).toBe(
      'Devices fail over between URLs, so each gateway needs its own name: --ip gw2.example=10.0.0.2 (its certificate must cover that name).',
    );
  });
});

describe('names and addresses', () => {
  it('normalizeHostName lower-cases and drops one trailing dot', () => {
    expect(normalizeHostName('Gateway.Site.TEST.', 'x')).toBe('gateway.site.test');
    expect(normalizeHostName('gateway', 'x')).toBe('gateway');
    expect(normalizeHostName('xn--bcher-kva.example', 'x')).toBe('xn--bcher-kva.example');
  });

  it('normalizeAddress canonicalises IPv6 (RFC 5952) and drops brackets', () => {
    expect(normalizeAddress('FD00:0000:0:0::0001', 'x')).toBe('fd00::1');
    expect(normalizeAddress('[::ffff:10.0.0.1]', 'x')).toBe('::ffff:a00:1');
    expect(normalizeAddress(' 10.0.0.1 ', 'x')).toBe('10.0.0.1');
  });

  it('parseGatewaySpec: name, addresses, duplicates dropped', () => {
    expect(parseGatewaySpec('GW2.site.test=10.0.0.2, fd00::2,10.0.0.2')).toEqual({
      name: 'gw2.site.test',
      addresses: ['10.0.0.2', 'fd00::2'],
    });
    expect(parseGatewaySpec('10.0.0.1')).toEqual({ name: undefined, addresses: ['10.0.0.1'] });
  });

  it('certificateNameCovers: exact or one wildcard label', () => {
    expect(certificateNameCovers('gateway.site.test', 'GATEWAY.site.test')).toBe(true);
    expect(certificateNameCovers('*.site.test', 'gw.site.test')).toBe(true);
    expect(certificateNameCovers('*.site.test', 'a.gw.site.test')).toBe(false);
    expect(certificateNameCovers('*.site.test', 'site.test')).toBe(false);
    expect(certificateNameCovers('gateway.site.test', 'gw.site.test')).toBe(false);
  });

  it('dnsNamesOfSubjectAltName reads Node’s subjectAltName text, quoted values included', () => {
    expect(
      dnsNamesOfSubjectAltName(
        'DNS:gateway.site.test, DNS:*.site.test, IP Address:10.0.0.1, DNS:"a,b.test", URI:x',
      ),
    ).toEqual(['gateway.site.test', '*.site.test', 'a,b.test']);
    expect(dnsNamesOfSubjectAltName(undefined)).toEqual([]);
  });
});
