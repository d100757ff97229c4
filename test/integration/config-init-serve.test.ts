import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeUpstream, DEFAULT_MANAGEMENT } from '../support/fake-upstream/index.js';
import type { FakeUpstream } from '../support/fake-upstream/index.js';
import { freePort } from '../support/free-port.js';
import { nodeRequest } from '../support/node-request.js';
import { BIN, startServeProcess } from '../support/serve-process.js';
import { createTestPki } from '../support/test-pki.js';
import type { CertPair, TestPki } from '../support/test-pki.js';

/**
 * The property behind `config init`: it never writes a configuration that `serve` refuses.
 * Every configuration of the matrix is written by the built binary, accepted by the built
 * `config validate`, and started for real with the built `serve` (alive answers 204). Plus the
 * refusals (a key that is not the certificate's, a certificate for another name: nothing
 * written) and the details of the written file (--force keeps the SignatureSecret, the mTLS
 * health listener, --service-group, --gateway-ip leaves the listener on all interfaces).
 * Run `npm run build` first.
 */

const GATEWAY = 'gateway.site.test';
let dir: string;
let upstream: FakeUpstream;
let pki: TestPki;
let server: CertPair;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function mgw(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { env: { PATH: process.env.PATH, HOME: dir, CI: '1', ...env } },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

async function fresh(name: string): Promise<string> {
  const folder = join(dir, name);
  await mkdir(folder);
  return folder;
}

/** GET over HTTPS without verifying the certificate (the test only checks that serve answers). */
function httpsStatus(port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      { host: '127.0.0.1', port, path, rejectUnauthorized: false, agent: false },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mgw-config-init-serve-'));
  upstream = await startFakeUpstream();
  pki = await createTestPki({ dir: join(dir, 'existing-pki') });
  server = await pki.issueServer(GATEWAY, { dns: [GATEWAY], ips: ['127.0.0.1'] });
});
afterAll(async () => {
  await upstream.close();
  await pki.cleanup();
  await rm(dir, { recursive: true, force: true });
});

interface Case {
  name: string;
  /** Flags after the common ones; `folder` is the run's own directory. */
  flags: (folder: string) => string[];
  mtls?: boolean;
}

const MATRIX: Case[] = [
  {
    name: 'plain: created certificates, no proxy',
    flags: (folder) => [
      '--create-certs',
      '--ca-key-out',
      join(folder, '../offline-plain/ca.key'),
      '--no-artifacts-proxy',
    ],
  },
  {
    name: 'created certificates, cache on',
    flags: (folder) => [
      '--create-certs',
      '--keep-ca-key',
      '--enable-cache',
      '--cache-path',
      join(folder, 'cache'),
    ],
  },
  {
    name: 'existing certificates, cache off',
    flags: () => ['--server-cert', server.certPath, '--server-key', server.keyPath, '--no-enable-cache'],
  },
  {
    name: 'mTLS with the created CA',
    mtls: true,
    flags: (folder) => [
      '--create-certs',
      '--ca-key-out',
      join(folder, '../offline-mtls/ca.key'),
      '--cache-path',
      join(folder, 'cache'),
      '--mtls',
      '--mender-username',
      DEFAULT_MANAGEMENT.username,
    ],
  },
  {
    name: 'mTLS with existing certificates and CA, cache off',
    mtls: true,
    flags: () => [
      '--server-cert',
      server.certPath,
      '--server-key',
      server.keyPath,
      '--no-enable-cache',
      '--mtls',
      '--mtls-ca',
      pki.ca.certPath,
      '--mender-username',
      DEFAULT_MANAGEMENT.username,
    ],
  },
  {
    name: '--service-group daemon',
    flags: (folder) => [
      '--create-certs',
      '--keep-ca-key',
      '--cache-path',
      join(folder, 'cache'),
      '--service-group',
      'daemon',
    ],
  },
  {
    name: '--gateway-ip of another host',
    flags: (folder) => [
      '--create-certs',
      '--keep-ca-key',
      '--gateway-ip',
      '10.255.0.1',
      '--cache-path',
      join(folder, 'cache'),
    ],
  },
];

describe('config init never writes a configuration serve refuses', () => {
  it.each(MATRIX)('$name: config validate accepts it and serve starts', async (matrixCase) => {
    const folder = await fresh(matrixCase.name.replace(/[^a-z0-9]+/gi, '-'));
    const out = join(folder, 'mender-gateway.conf');
    const port = await freePort();
    const healthPort = matrixCase.mtls === true ? await freePort() : undefined;
    const init = await mgw(
      [
        'config',
        'init',
        '--no-prompt',
        '--out',
        out,
        '--upstream-url',
        upstream.url,
        '--upstream-ca',
        upstream.pki.ca.certPath,
        '--gateway-name',
        GATEWAY,
        '--https-port',
        String(port),
        ...(healthPort === undefined ? [] : ['--health-port', String(healthPort)]),
        ...matrixCase.flags(folder),
      ],
      { MTLS_MENDER_PASSWORD: DEFAULT_MANAGEMENT.password },
    );
    expect(init.stderr).toBe('');
    expect(init.code).toBe(0);

    const validate = await mgw(['config', 'validate', '--config', out]);
    expect(validate.stdout).toContain('configuration is valid');
    expect(validate.code).toBe(0);

    const serve = await startServeProcess(out, { listeners: matrixCase.mtls === true ? 2 : 1 });
    try {
      if (healthPort === undefined) {
        expect(await httpsStatus(port, '/api/internal/v1/gateway/alive')).toBe(204);
      } else {
        // The HTTPS listener demands client certificates: probes use the loopback listener.
        const alive = await nodeRequest(`http://127.0.0.1:${healthPort}/api/internal/v1/gateway/alive`);
        expect(alive.status).toBe(204);
        const ready = await nodeRequest(`http://127.0.0.1:${healthPort}/api/internal/v1/gateway/ready`);
        expect(ready.status).toBe(200);
      }
    } finally {
      await serve.stop();
    }
  });
});

describe('config init refuses certificates serve or devices would refuse', () => {
  const base = (out: string): string[] => [
    'config',
    'init',
    '--no-prompt',
    '--out',
    out,
    '--upstream-url',
    upstream.url,
    '--no-enable-cache',
  ];

  it("a key that is not the certificate's: exit 2, nothing written", async () => {
    const folder = await fresh('wrong-key');
    const other = await pki.issueServer(GATEWAY, { dns: [GATEWAY] });
    const run = await mgw([
      ...base(join(folder, 'gw.conf')),
      '--gateway-name',
      GATEWAY,
      '--server-cert',
      server.certPath,
      '--server-key',
      other.keyPath,
    ]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(
      `MGW_SETUP_INVALID_INPUT: ${other.keyPath} does not match HTTPS.ServerCertificate`,
    );
    expect(await readdir(folder)).toEqual([]);
  });

  it('a certificate for another name: exit 2 with the cert issue command, nothing written', async () => {
    const folder = await fresh('wrong-name');
    const run = await mgw([
      ...base(join(folder, 'gw.conf')),
      '--gateway-name',
      'gw.example.org',
      '--server-cert',
      server.certPath,
      '--server-key',
      server.keyPath,
    ]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`does not cover the gateway name "gw.example.org"`);
    expect(run.stderr).toContain(
      'hint: Issue one that does: mender-gw cert issue server --dns gw.example.org',
    );
    expect(await readdir(folder)).toEqual([]);
  });

  it('a certificate without the gateway address: refused', async () => {
    const folder = await fresh('wrong-ip');
    const run = await mgw([
      ...base(join(folder, 'gw.conf')),
      '--gateway-name',
      GATEWAY,
      '--gateway-ip',
      '10.9.8.7',
      '--server-cert',
      server.certPath,
      '--server-key',
      server.keyPath,
    ]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('does not cover the gateway address 10.9.8.7');
    expect(run.stderr).toContain('--dns gateway.site.test --ip 10.9.8.7');
    expect(await readdir(folder)).toEqual([]);
  });

  it('--create-certs without a place for the CA key: exit 2, nothing written', async () => {
    const folder = await fresh('no-ca-key-place');
    const run = await mgw([...base(join(folder, 'gw.conf')), '--gateway-name', GATEWAY, '--create-certs']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('missing required input: --ca-key-out PATH (or --keep-ca-key)');
    const inside = await mgw([
      ...base(join(folder, 'gw.conf')),
      '--gateway-name',
      GATEWAY,
      '--create-certs',
      '--ca-key-out',
      join(folder, 'keys/ca.key'),
    ]);
    expect(inside.code).toBe(2);
    expect(inside.stderr).toContain('beside the configuration');
    expect(await readdir(folder)).toEqual([]);
  });
});

describe('what config init writes', () => {
  const common = (out: string): string[] => [
    'config',
    'init',
    '--no-prompt',
    '--out',
    out,
    '--upstream-url',
    upstream.url,
    '--gateway-name',
    GATEWAY,
    '--server-cert',
    server.certPath,
    '--server-key',
    server.keyPath,
    '--cache-path',
    join(dir, 'cache'),
  ];
  const secretOf = async (file: string): Promise<string> =>
    (
      JSON.parse(await readFile(file, 'utf8')) as {
        Features: { ArtifactsProxy: { ArtifactsCache: { SignatureSecret: string } } };
      }
    ).Features.ArtifactsProxy.ArtifactsCache.SignatureSecret;

  it('--force keeps the SignatureSecret, and warns when a different one is given', async () => {
    const folder = await fresh('force');
    const out = join(folder, 'gw.conf');
    expect((await mgw(common(out))).code).toBe(0);
    const first = await secretOf(out);

    const again = await mgw([...common(out), '--force']);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('kept the SignatureSecret of the replaced');
    expect(await secretOf(out)).toBe(first);

    const other = Buffer.alloc(32, 7).toString('base64');
    const replaced = await mgw([...common(out), '--force', '--signature-secret', other]);
    expect(replaced.code).toBe(0);
    expect(replaced.stderr).toContain('the SignatureSecret given differs');
    expect(await secretOf(out)).toBe(other);
  });

  it('$schema names the published schema, and config validate does not warn about it', async () => {
    const folder = await fresh('schema');
    const out = join(folder, 'gw.conf');
    expect((await mgw(common(out))).code).toBe(0);
    const config = JSON.parse(await readFile(out, 'utf8')) as Record<string, unknown>;
    expect(Object.keys(config)[0]).toBe('$schema');
    expect(config.$schema).toMatch(/\/docs\/config\.schema\.json$/);
    const validate = await mgw(['config', 'validate', '--config', out]);
    expect(validate.stdout).toContain('(0 warnings)');
  });

  it('mTLS: a plain-HTTP health listener on loopback, named in the next steps', async () => {
    const folder = await fresh('mtls-health');
    const out = join(folder, 'gw.conf');
    const run = await mgw(
      [
        ...common(out),
        '--mtls',
        '--mtls-ca',
        pki.ca.certPath,
        '--mender-username',
        'gw@example.com',
        '--health-port',
        '8099',
      ],
      { MTLS_MENDER_PASSWORD: 'pw' },
    );
    expect(run.code).toBe(0);
    const config = JSON.parse(await readFile(out, 'utf8')) as Record<string, unknown>;
    expect(config.HTTP).toEqual({ Enabled: true, Listen: '127.0.0.1:8099' });
    expect(run.stdout).toContain('curl -i http://127.0.0.1:8099/api/internal/v1/gateway/alive');
  });

  it('--service-group: group and modes of the configuration, server key and certificate folder', async () => {
    const folder = await fresh('group');
    const out = join(folder, 'gw.conf');
    const run = await mgw([
      'config',
      'init',
      '--no-prompt',
      '--out',
      out,
      '--upstream-url',
      upstream.url,
      '--gateway-name',
      GATEWAY,
      '--create-certs',
      '--keep-ca-key',
      '--no-enable-cache',
      '--service-group',
      'daemon',
    ]);
    expect(run.stderr).toBe('');
    expect(run.stdout).toContain('(mode 0640, group daemon)');
    expect(run.stdout).toContain(`(key ${join(folder, 'pki/server.key')}, mode 0640, group daemon)`);
    const group = (await readFile('/etc/group', 'utf8'))
      .split('\n')
      .find((line) => line.startsWith('daemon:'));
    const gid = Number(group?.split(':')[2]);
    for (const [path, mode] of [
      [out, 0o640],
      [join(folder, 'pki/server.key'), 0o640],
      [join(folder, 'pki'), 0o750],
    ] as const) {
      const info = await stat(path);
      expect({ path, mode: info.mode & 0o777, gid: info.gid }).toEqual({ path, mode, gid });
    }
    // The CA key stays the owner's alone.
    expect((await stat(join(folder, 'pki/ca.key'))).mode & 0o777).toBe(0o600);

    const without = await mgw([...common(join(folder, 'other.conf'))]);
    expect(without.stdout).toContain(
      `chown root:mender-gw ${join(folder, 'other.conf')} ${server.keyPath} && chmod 0640`,
    );
  });

  it('--gateway-ip goes into the certificate, not the listen address', async () => {
    const folder = await fresh('gateway-ip');
    const out = join(folder, 'gw.conf');
    const run = await mgw([
      'config',
      'init',
      '--no-prompt',
      '--out',
      out,
      '--upstream-url',
      upstream.url,
      '--gateway-name',
      GATEWAY,
      '--gateway-ip',
      '10.20.0.1',
      '--create-certs',
      '--keep-ca-key',
      '--no-enable-cache',
    ]);
    expect(run.code).toBe(0);
    const config = JSON.parse(await readFile(out, 'utf8')) as { HTTPS: { Listen: string } };
    expect(config.HTTPS.Listen).toBe(':443');
    const pinned = await mgw([
      'config',
      'init',
      '--no-prompt',
      '--out',
      join(folder, 'pinned.conf'),
      '--upstream-url',
      upstream.url,
      '--gateway-name',
      GATEWAY,
      '--gateway-ip',
      '10.20.0.1',
      '--listen-address',
      '10.20.0.1',
      '--server-cert',
      join(folder, 'pki/server.crt'),
      '--server-key',
      join(folder, 'pki/server.key'),
      '--no-enable-cache',
    ]);
    expect(pinned.code).toBe(0);
    const pinnedConfig = JSON.parse(await readFile(join(folder, 'pinned.conf'), 'utf8')) as {
      HTTPS: { Listen: string };
    };
    expect(pinnedConfig.HTTPS.Listen).toBe('10.20.0.1:443');
  });
});
