import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCommand } from '@oclif/test';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ENV_OVERRIDES } from '../../src/core/config/env-overrides.js';
import { createTestPki } from '../support/test-pki.js';
import type { TestPki } from '../support/test-pki.js';

/**
 * `mender-gw device-hosts gen` through oclif, reading a real gateway configuration whose
 * server certificate carries DNS and IP SANs. oclif loads the compiled command from dist/,
 * so `npm run build` must have run (npm test does that first).
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const LOAD = { root: ROOT, ignoreManifest: true };
const HEADER = '# Mender gateway names (mender-gw device-hosts gen)';

/** The command reads process.env like serve: keep the runner's environment out of it. */
const ENV_NAMES = ENV_OVERRIDES.flatMap((e) => [e.env, ...(e.aliases ?? []).map((a) => a.env)]);
const saved = new Map<string, string | undefined>();

let pki: TestPki;
let dir: string;
let config: string;

beforeAll(async () => {
  if (!existsSync(join(ROOT, 'dist/commands/device-hosts/gen.js'))) {
    throw new Error('dist/ is missing or stale: run `npm run build` before these tests (npm test does)');
  }
  for (const name of [...ENV_NAMES, 'CI']) {
    saved.set(name, process.env[name]);
    // eslint-disable-next-line @typescript-eslint/no-dynamic-delete -- restoring a test environment
    delete process.env[name];
  }
  process.env.CI = '1';
  pki = await createTestPki();
  dir = await mkdtemp(join(tmpdir(), 'mgw-device-hosts-'));
  const cert = await pki.issueServer('gateway.site.test', {
    dns: ['gateway.site.test', 'mender.site.test'],
    ips: ['10.0.0.1'],
  });
  config = join(dir, 'mender-gateway.conf');
  await writeFile(
    config,
    JSON.stringify({
      UpstreamServer: { URL: 'https://hosted.mender.io' },
      HTTPS: { Enabled: true, Listen: ':443', ServerCertificate: cert.certPath, ServerKey: cert.keyPath },
      Features: {
        ArtifactsProxy: {
          Enabled: true,
          GatewayURL: 'https://gateway.site.test',
          DomainWhitelist: ['s3.amazonaws.com'],
        },
      },
    }),
  );
});
afterAll(async () => {
  for (const [name, value] of saved) {
    // eslint-disable-next-line @typescript-eslint/no-dynamic-delete -- restoring a test environment
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  await rm(dir, { recursive: true, force: true });
  await pki.cleanup();
});
afterEach(() => {
  // oclif's error path sets process.exitCode; it must not leak into the test runner.
  process.exitCode = undefined;
});

describe('mender-gw device-hosts gen', () => {
  it('hosts (default): the GatewayURL host and the certificate names, from the configuration', async () => {
    const { stdout, stderr, error } = await runCommand(
      ['device-hosts', 'gen', '--config', config, '--ip', '10.0.0.1'],
      LOAD,
    );
    expect(error).toBeUndefined();
    expect(stdout).toBe(`${HEADER}\n10.0.0.1 gateway.site.test mender.site.test\n`);
    expect(stderr).toBe('');
  });

  it('hosts with a standby, an alias and IPv6; the alias the certificate lacks is warned about on stderr', async () => {
    const { stdout, stderr, error } = await runCommand(
      [
        'device-hosts',
        'gen',
        '-c',
        config,
        '--ip',
        '10.0.0.1,fd00::1',
        '--ip',
        'gw2.site.test=fd00::2',
        '--alias',
        'hosted.mender.io',
      ],
      LOAD,
    );
    expect(error).toBeUndefined();
    expect(stdout).toBe(
      [
        HEADER,
        '10.0.0.1 gateway.site.test mender.site.test hosted.mender.io',
        'fd00::1 gateway.site.test mender.site.test hosted.mender.io',
        'fd00::2 gw2.site.test',
        '',
      ].join('\n'),
    );
    expect(stderr).toBe(
      [
        `warning: alias "hosted.mender.io" is not among the server certificate's names (gateway.site.test, mender.site.test): devices connecting to it will fail the TLS check; reissue the certificate with --dns hosted.mender.io`,
        `warning: alias "hosted.mender.io" is the upstream server's host name: keep these entries away from the gateway's own resolver, or the gateway will connect to itself`,
        '',
      ].join('\n'),
    );
  });

  it('dnsmasq to --out, the mender.conf fragment to --mender-conf', async () => {
    const out = join(dir, 'dnsmasq.conf');
    const fragment = join(dir, 'mender.conf.json');
    const { stdout, stderr, error, result } = await runCommand<{ written: string[] }>(
      [
        'device-hosts',
        'gen',
        '-c',
        config,
        '--ip',
        '10.0.0.1',
        '--ip',
        'gw2.site.test=10.0.0.2',
        '--format',
        'dnsmasq',
        '--out',
        out,
        '--mender-conf',
        fragment,
      ],
      LOAD,
    );
    expect(error).toBeUndefined();
    expect(stdout).toBe('');
    expect(stderr).toBe(`wrote ${out}\nwrote ${fragment}\n`);
    expect(result?.written).toEqual([out, fragment]);
    expect(await readFile(out, 'utf8')).toBe(
      `${HEADER}\nhost-record=gateway.site.test,mender.site.test,10.0.0.1\nhost-record=gw2.site.test,10.0.0.2\n`,
    );
    expect(JSON.parse(await readFile(fragment, 'utf8'))).toEqual({
      Servers: [{ ServerURL: 'https://gateway.site.test' }, { ServerURL: 'https://gw2.site.test' }],
      ServerCertificate: '/etc/mender/server.crt',
    });
    expect((await stat(out)).mode & 0o777).toBe(0o644);

    // Existing files are replaced only with --force.
    const again = await runCommand(
      ['device-hosts', 'gen', '-c', config, '--ip', '10.0.0.9', '--out', out],
      LOAD,
    );
    expect(again.error?.message).toMatch(/EEXIT: 1/);
    expect(again.stderr).toContain(`MGW_FILE_EXISTS: ${out} already exists; nothing was written`);
    expect(await readFile(out, 'utf8')).toContain('10.0.0.1');
    const forced = await runCommand(
      ['device-hosts', 'gen', '-c', config, '--ip', '10.0.0.9', '--out', out, '--force'],
      LOAD,
    );
    expect(forced.error).toBeUndefined();
    expect(await readFile(out, 'utf8')).toBe(`${HEADER}\n10.0.0.9 gateway.site.test mender.site.test\n`);
  });

  it('--mender-conf - prints the fragment on stdout when the main output goes to a file', async () => {
    const out = join(dir, 'hosts-for-stdout-test');
    const { stdout, error } = await runCommand(
      [
        'device-hosts',
        'gen',
        '-c',
        config,
        '--ip',
        '10.0.0.1',
        '--out',
        out,
        '--mender-conf',
        '-',
        '--server-certificate-path',
        '/data/mender/ca.pem',
      ],
      LOAD,
    );
    expect(error).toBeUndefined();
    expect(stdout).toBe(
      '{\n  "ServerURL": "https://gateway.site.test",\n  "ServerCertificate": "/data/mender/ca.pem"\n}\n',
    );
  });

  it('--format json: the plan with menderConf; --port overrides the configuration', async () => {
    const { stdout, error } = await runCommand(
      ['device-hosts', 'gen', '-c', config, '--ip', '10.0.0.1', '--format', 'json', '--port', '8443'],
      LOAD,
    );
    expect(error).toBeUndefined();
    expect(JSON.parse(stdout)).toEqual({
      gateways: [
        {
          role: 'primary',
          names: ['gateway.site.test', 'mender.site.test'],
          addresses: ['10.0.0.1'],
          serverUrl: 'https://gateway.site.test:8443',
        },
      ],
      hosts: [{ address: '10.0.0.1', names: ['gateway.site.test', 'mender.site.test'] }],
      menderConf: {
        ServerURL: 'https://gateway.site.test:8443',
        ServerCertificate: '/etc/mender/server.crt',
      },
      leftOut: [],
      warnings: [],
    });
  });

  it('--json: the same plan as oclif JSON, plus the files written', async () => {
    const { stdout, error } = await runCommand(
      ['device-hosts', 'gen', '-c', config, '--ip', '10.0.0.1', '--json'],
      LOAD,
    );
    expect(error).toBeUndefined();
    const doc = JSON.parse(stdout) as { menderConf: unknown; written: unknown };
    expect(doc.menderConf).toEqual({
      ServerURL: 'https://gateway.site.test',
      ServerCertificate: '/etc/mender/server.crt',
    });
    expect(doc.written).toEqual([]);
  });

  describe('refuses invalid input and writes nothing', () => {
    const cases: [string, string[], string][] = [
      [
        'a bad IP',
        ['--ip', '10.0.0.256'],
        'MGW_PROVISIONING_INVALID_INPUT: --ip "10.0.0.256": "10.0.0.256" is not an IP address',
      ],
      [
        'a bad standby name',
        ['--ip', '10.0.0.1', '--ip', 'gw_2.site.test=10.0.0.2'],
        'MGW_PROVISIONING_INVALID_INPUT: --ip "gw_2.site.test=10.0.0.2": "gw_2.site.test" is not a valid host name (label "gw_2")',
      ],
      [
        'a bad alias',
        ['--ip', '10.0.0.1', '--alias', 'bad..name'],
        'MGW_PROVISIONING_INVALID_INPUT: --alias "bad..name": "bad..name" is not a valid host name (label "")',
      ],
      [
        'an unnamed standby',
        ['--ip', '10.0.0.1', '--ip', '10.0.0.2'],
        'MGW_PROVISIONING_INVALID_INPUT: standby gateway --ip "10.0.0.2" has no name',
      ],
    ];
    it.each(cases)('%s', async (_name, args, message) => {
      const out = join(dir, `refused-${_name.replace(/\W+/g, '-')}`);
      const fragment = `${out}.json`;
      const { stdout, stderr, error } = await runCommand(
        ['device-hosts', 'gen', '-c', config, ...args, '--out', out, '--mender-conf', fragment],
        LOAD,
      );
      expect(error?.message).toMatch(/EEXIT: 2/);
      expect(stdout).toBe('');
      expect(stderr.split('\n')[0]).toBe(message);
      expect(stderr).toMatch(/\nhint: /);
      expect(existsSync(out)).toBe(false);
      expect(existsSync(fragment)).toBe(false);
    });

    it('no staging files are left behind', async () => {
      expect((await readdir(dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    });

    it('--mender-conf - without --out', async () => {
      const { stderr, error } = await runCommand(
        ['device-hosts', 'gen', '-c', config, '--ip', '10.0.0.1', '--mender-conf', '-'],
        LOAD,
      );
      expect(error?.message).toMatch(/EEXIT: 2/);
      expect(stderr).toContain(
        'MGW_PROVISIONING_INVALID_INPUT: --mender-conf - and the main output both go to stdout',
      );
    });

    it('an invalid configuration is reported like config validate does', async () => {
      const bad = join(dir, 'bad.conf');
      await writeFile(bad, JSON.stringify({ HTTPS: { Enabled: false }, HTTP: { Enabled: true } }));
      const { stderr, error } = await runCommand(
        ['device-hosts', 'gen', '-c', bad, '--ip', '10.0.0.1'],
        LOAD,
      );
      expect(error?.message).toMatch(/EEXIT: 1/);
      expect(stderr).toContain('MGW_CONFIG_INVALID');
      expect(stderr).toContain('$.UpstreamServer.URL');
    });

    it('--json: the error document with code and hint', async () => {
      const { stdout } = await runCommand(
        ['device-hosts', 'gen', '-c', config, '--ip', 'nope', '--json'],
        LOAD,
      );
      const doc = JSON.parse(stdout) as { error: { code: string; hint: string } };
      expect(doc.error.code).toBe('MGW_PROVISIONING_INVALID_INPUT');
      expect(doc.error.hint).toBeTruthy();
    });
  });
});

/**
 * What `device-hosts gen` prints is appended to devices' /etc/hosts or loaded into a site's DNS
 * server as is: it must claim no name that means something else (the device itself, every host,
 * discovery names, wildcards, the upstream server or the storage the gateway downloads from),
 * and say what it left out and why.
 */
describe('device-hosts gen with a certificate that names more than the gateway', () => {
  let hostile: string;
  const NOT_OURS = [
    'localhost',
    'app.localhost',
    'ip6-allnodes',
    'broadcasthost',
    'wpad.site.test',
    'isatap',
    'gone.invalid',
    '*.site.test',
    'hosted.mender.io',
    'bucket.s3.amazonaws.com',
  ];

  beforeAll(async () => {
    const cert = await pki.issueServer('gateway.site.test', { dns: ['gateway.site.test', ...NOT_OURS] });
    hostile = join(dir, 'hostile-sans.conf');
    await writeFile(
      hostile,
      JSON.stringify({
        UpstreamServer: { URL: 'https://hosted.mender.io' },
        HTTPS: { Enabled: true, Listen: ':443', ServerCertificate: cert.certPath, ServerKey: cert.keyPath },
        Features: {
          ArtifactsProxy: {
            Enabled: true,
            GatewayURL: 'https://gateway.site.test',
            DomainWhitelist: ['s3.amazonaws.com'],
          },
        },
      }),
    );
  });

  it.each(['hosts', 'dnsmasq'])(
    '%s: only the gateway name is claimed; every other one is a comment saying why',
    async (format) => {
      const { stdout, stderr, error } = await runCommand(
        [
          'device-hosts',
          'gen',
          '--config',
          hostile,
          '--ip',
          '10.0.0.1',
          '--format',
          format,
          '--alias',
          'localhost',
          '--alias',
          'WPAD',
        ],
        LOAD,
      );
      expect(error).toBeUndefined();
      const claims = stdout.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
      expect(claims).toEqual([
        format === 'hosts' ? '10.0.0.1 gateway.site.test' : 'host-record=gateway.site.test,10.0.0.1',
      ]);
      const comments = stdout.split('\n').filter((l) => l.startsWith('# left out '));
      for (const name of [...NOT_OURS, 'wpad'])
        expect(
          comments.some((c) => c.startsWith(`# left out ${name}: it `)),
          name,
        ).toBe(true);
      expect(comments.find((c) => c.startsWith('# left out localhost:'))).toMatch(/means the device itself/);
      expect(comments.find((c) => c.startsWith('# left out hosted.mender.io:'))).toMatch(
        /upstream Mender server/,
      );
      expect(comments.find((c) => c.startsWith('# left out bucket.s3.amazonaws.com:'))).toMatch(
        /artifact storage host/,
      );
      expect(comments.find((c) => c.startsWith('# left out *.site.test:'))).toMatch(/wildcard/);
      expect(stderr).toContain(
        'warning: left out "wpad.site.test": it is looked up by web proxy auto-discovery',
      );
    },
  );

  it('json lists what was left out', async () => {
    const { stdout } = await runCommand(
      ['device-hosts', 'gen', '--config', hostile, '--ip', '10.0.0.1', '--format', 'json'],
      LOAD,
    );
    const plan = JSON.parse(stdout) as {
      hosts: { names: string[] }[];
      leftOut: { name: string; reason: string }[];
    };
    expect(plan.hosts.flatMap((h) => h.names)).toEqual(['gateway.site.test']);
    expect(plan.leftOut.map((l) => l.name).sort()).toEqual([...NOT_OURS].sort());
  });

  it('refuses a standby named after something else', async () => {
    const { stdout, stderr, error } = await runCommand(
      ['device-hosts', 'gen', '--config', hostile, '--ip', '10.0.0.1', '--ip', 'localhost=10.0.0.2'],
      LOAD,
    );
    expect(error?.message).toMatch(/EEXIT: 2/);
    expect(stdout).toBe('');
    expect(stderr.split('\n')[0]).toMatch(
      /^MGW_PROVISIONING_INVALID_INPUT: --ip "localhost=10\.0\.0\.2": "localhost" means the device itself/,
    );
  });
});
