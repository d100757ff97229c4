import { spawnSync } from 'node:child_process';
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STARTUP_CHECKS } from '../../src/core/config/startup-checks.js';
import type { ConfigIssue } from '../../src/core/config/index.js';
import { BIN } from '../support/serve-process.js';
import { createTestPki } from '../support/test-pki.js';
import type { TestPki } from '../support/test-pki.js';

/**
 * `config validate` runs every start-up check of `serve`: for each check in the one list both
 * use, a configuration that breaks exactly that check makes `serve` (the built binary) exit
 * with the check's code, and `config validate` report it with the same check id and code.
 * A check added without a case here fails the first test.
 */

type Conf = Record<string, unknown>;

let dir: string;
let pki: TestPki;
let other: TestPki;

const base = (): Conf => ({
  HTTP: { Enabled: false },
  HTTPS: {
    Enabled: true,
    Listen: '127.0.0.1:8443',
    ServerCertificate: 'server.crt',
    ServerKey: 'server.key',
  },
  UpstreamServer: { URL: 'https://127.0.0.1:9' },
  Metrics: { Enabled: false },
});
const mtls = (extra: Conf): Conf => ({
  mTLS: { Enabled: true, CACertificate: 'ca.crt', MenderUsername: 'u', MenderPassword: 'p', ...extra },
});
const proxy = (extra: Conf, cache: Conf = { Enabled: false }): Conf => ({
  ArtifactsProxy: {
    Enabled: true,
    GatewayURL: 'https://gateway.test',
    DomainWhitelist: ['s3.example'],
    ArtifactsCache: { SignatureSecret: 'c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0ITEyMzQ=', ...cache },
    ...extra,
  },
});

/** One configuration per check that breaks that check alone. */
const CASES: Record<string, () => Conf> = {
  'https.certificate-parses': () => ({
    ...base(),
    HTTPS: { ...(base().HTTPS as Conf), ServerCertificate: 'garbage.pem' },
  }),
  'https.key-matches': () => ({ ...base(), HTTPS: { ...(base().HTTPS as Conf), ServerKey: 'foreign.key' } }),
  'https.certificate-names-gateway': () => ({
    ...base(),
    Features: proxy({ GatewayURL: 'https://elsewhere.example' }),
  }),
  'upstream.ca-holds-certificates': () => ({
    ...base(),
    UpstreamServer: { URL: 'https://127.0.0.1:9', CACertificate: 'garbage.pem' },
  }),
  'mtls.ca-is-ca': () => ({ ...base(), Features: mtls({ CACertificate: 'server.crt' }) }),
  'mtls.blacklist-parses': () => ({ ...base(), Features: mtls({ BlacklistPath: 'blacklist.txt' }) }),
  'cache.path-usable': () => ({
    ...base(),
    Features: proxy({}, { Enabled: true, Path: 'garbage.pem/cache' }),
  }),
};

function cli(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const run = spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: '1' },
    // A safety net only: a serve that started by mistake would otherwise run forever.
    timeout: 30_000,
  });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

async function writeConf(name: string, conf: Conf): Promise<string> {
  const path = join(dir, `${name}.conf`);
  await writeFile(path, JSON.stringify(conf, null, 2));
  return path;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mgw-twins-'));
  [pki, other] = await Promise.all([
    createTestPki({ name: 'twins' }),
    createTestPki({ name: 'twins-other' }),
  ]);
  const [server, foreign] = await Promise.all([
    pki.issueServer('gateway.test', { ips: ['127.0.0.1'] }),
    other.issueServer('gateway.test', { ips: ['127.0.0.1'] }),
  ]);
  await copyFile(server.certPath, join(dir, 'server.crt'));
  await copyFile(server.keyPath, join(dir, 'server.key'));
  await copyFile(foreign.keyPath, join(dir, 'foreign.key'));
  await copyFile(pki.ca.certPath, join(dir, 'ca.crt'));
  await writeFile(join(dir, 'garbage.pem'), 'this is not PEM\n');
  await writeFile(join(dir, 'blacklist.txt'), '# revoked\n0A1B\nnot-a-serial\n');
});
afterAll(async () => {
  await Promise.all([pki.cleanup(), other.cleanup()]);
  await rm(dir, { recursive: true, force: true });
});

describe('every start-up check of serve has its config validate twin', () => {
  it('each check in the list has a case that breaks it', () => {
    expect(Object.keys(CASES).sort()).toEqual(STARTUP_CHECKS.map((check) => check.id).sort());
  });

  it('the base configuration passes every check', async () => {
    const out = cli(['config', 'validate', '--strict', '--config', await writeConf('base', base())]);
    expect(out.code, out.stderr).toBe(0);
  });

  it.each(STARTUP_CHECKS.map((check) => [check.id, check] as const))('%s', async (id, check) => {
    const make = CASES[id];
    if (make === undefined) throw new Error(`no case for ${id}`);
    const path = await writeConf(id, make());
    const verdict = cli(['config', 'validate', '--json', '--config', path]);
    const doc = JSON.parse(verdict.stdout) as { errors: ConfigIssue[]; warnings: ConfigIssue[] };
    const found = [...doc.errors, ...doc.warnings].filter((issue) => issue.check === id);
    expect(found, verdict.stdout).not.toHaveLength(0);
    expect(found.every((issue) => issue.code === check.code)).toBe(true);

    if (doc.errors.length > 0) {
      // An error: validate fails, and serve refuses to start with the check's code.
      expect(
        doc.errors.every((issue) => issue.check === id),
        verdict.stdout,
      ).toBe(true);
      expect(verdict.code).toBe(1);
      const serve = cli(['serve', '--config', path]);
      expect(serve.code, serve.stderr).toBe(1);
      expect(serve.stderr.startsWith(`${check.code}:`), serve.stderr).toBe(true);
      expect(serve.stderr).toContain(found[0]?.message);
    } else {
      // A warning: validate passes but says so, fails with --strict, and serve reports it too
      // (shown here with an upstream URL missing, so that serve stops).
      expect(verdict.code).toBe(0);
      expect(cli(['config', 'validate', '--strict', '--config', path]).code).toBe(1);
      const conf = make();
      conf.UpstreamServer = {};
      const serve = cli(['serve', '--config', await writeConf(`${id}-stop`, conf)]);
      expect(serve.code).toBe(1);
      expect(serve.stderr).toContain(found[0]?.message);
    }
  });
});

describe('config validate flags', () => {
  it('--offline-files skips every file check and says so', async () => {
    const path = await writeConf('offline', {
      ...base(),
      HTTPS: {
        ...(base().HTTPS as Conf),
        ServerCertificate: '/nowhere/server.crt',
        ServerKey: 'garbage.pem',
      },
    });
    expect(cli(['config', 'validate', '--config', path]).code).toBe(1);
    const out = cli(['config', 'validate', '--offline-files', '--config', path]);
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout).toBe(`configuration is valid: ${path} (0 warnings, files not checked)\n`);
  });

  it('a misspelt gateway variable is a warning naming it and the closest name; --strict fails on it', () => {
    const run = (args: string[], env: NodeJS.ProcessEnv): ReturnType<typeof cli> => {
      const out = spawnSync(process.execPath, [BIN, ...args], {
        encoding: 'utf8',
        env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
      });
      return { code: out.status, stdout: out.stdout, stderr: out.stderr };
    };
    const env = {
      HTTPS_LISTN: ':1',
      HTTP_PROXY: 'http://proxy.example:3128',
      UPSTREAM_SERVER_URL: 'https://hosted.mender.io',
      HTTPS_ENABLED: 'false',
      HTTP_ENABLED: 'true',
    };
    const args = ['config', 'validate', '--offline-files'];
    const out = run(args, env);
    expect(out.code, out.stderr).toBe(0);
    expect(out.stderr).toContain(
      'environment variable HTTPS_LISTN is not a gateway setting and is ignored (did you mean HTTPS_LISTEN?)',
    );
    expect(out.stderr).not.toContain('HTTP_PROXY');
    expect(out.stdout).toMatch(/\(1 warning, files not checked\)/);
    expect(run([...args, '--strict'], env).code).toBe(1);
  });
});
