import { X509Certificate } from 'node:crypto';
import { existsSync } from 'node:fs';
import { lstat, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCommand } from '@oclif/test';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { IssueResult } from '../../src/core/pki/index.js';

/**
 * `mender-gw cert issue ca|server|device` through oclif. oclif loads the compiled commands
 * from dist/, so `npm run build` must have run (npm test does that first). The manifest is
 * ignored so a stale oclif.manifest.json cannot hide the commands (docs/decisions.md §14).
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const LOAD = { root: ROOT, ignoreManifest: true };
// runCommand joins its arguments with spaces and splits them again: quote values with spaces.

let dir: string;
let savedCi: string | undefined;

beforeAll(async () => {
  if (!existsSync(join(ROOT, 'dist/commands/cert/issue/ca.js'))) {
    throw new Error('dist/ is missing or stale: run `npm run build` before these tests (npm test does)');
  }
  dir = await mkdtemp(join(tmpdir(), 'mgw-cert-cmd-'));
  // Never prompt, even if the test runner happens to have a terminal.
  savedCi = process.env.CI;
  process.env.CI = '1';
});
afterAll(async () => {
  if (savedCi === undefined) delete process.env.CI;
  else process.env.CI = savedCi;
  await rm(dir, { recursive: true, force: true });
});
afterEach(() => {
  // oclif's error path sets process.exitCode; it must not leak into the test runner.
  process.exitCode = undefined;
});

const FINGERPRINT = /^(?:[0-9A-F]{2}:){31}[0-9A-F]{2}$/;
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$/;

describe('mender-gw cert issue (--json)', () => {
  const out = (): string => join(dir, 'json');

  it('ca: one summary per certificate, the same document on stdout', async () => {
    const { result, stdout, stderr, error } = await runCommand<IssueResult>(
      [
        'cert',
        'issue',
        'ca',
        '--common-name',
        '"Cmd Root CA"',
        '--organization',
        'Acme',
        '--out-dir',
        out(),
        '--json',
      ],
      LOAD,
    );
    expect(error).toBeUndefined();
    expect(stderr).toBe('');
    expect(JSON.parse(stdout)).toEqual(result);
    expect(result).toEqual({
      certificates: [
        {
          role: 'ca',
          certificatePath: join(out(), 'ca.crt'),
          keyPath: join(out(), 'ca.key'),
          subject: 'O=Acme, CN=Cmd Root CA',
          issuer: 'O=Acme, CN=Cmd Root CA',
          serialNumber: expect.stringMatching(/^(?!00)[0-7][0-9A-F]{31}$/),
          notBefore: expect.stringMatching(ISO),
          notAfter: expect.stringMatching(ISO),
          keyType: 'ecdsa-p256',
          sha256Fingerprint: expect.stringMatching(FINGERPRINT),
          subjectAltNames: [],
          certificatesInFile: 1,
        },
      ],
      warnings: [],
    });
    const summary = result!.certificates[0]!;
    const cert = new X509Certificate(await readFile(summary.certificatePath));
    expect(cert.serialNumber).toBe(summary.serialNumber);
    expect(cert.fingerprint256).toBe(summary.sha256Fingerprint);
    expect(new Date(cert.validTo).toISOString()).toBe(summary.notAfter);
    expect((await lstat(summary.keyPath)).mode & 0o777).toBe(0o600);
    const days = (Date.parse(summary.notAfter) - Date.parse(summary.notBefore)) / 86_400_000;
    expect(Math.round(days)).toBe(3650);
  });

  it('server: SANs from repeated and comma-separated flags, CN = first name', async () => {
    const { result, error } = await runCommand<IssueResult>(
      [
        'cert',
        'issue',
        'server',
        '--ca-cert',
        join(out(), 'ca.crt'),
        '--ca-key',
        join(out(), 'ca.key'),
        '--dns',
        'gw.example.com',
        '--dns',
        'gateway,gw.local',
        '--ip',
        '10.0.0.1',
        '--key-type',
        'ed25519',
        '--out-dir',
        out(),
        '--json',
      ],
      LOAD,
    );
    expect(error).toBeUndefined();
    expect(result?.certificates[0]).toMatchObject({
      role: 'server',
      subject: 'CN=gw.example.com',
      issuer: 'O=Acme, CN=Cmd Root CA',
      keyType: 'ed25519',
      certificatePath: join(out(), 'server.crt'),
      subjectAltNames: [
        { type: 'dns', value: 'gw.example.com' },
        { type: 'dns', value: 'gateway' },
        { type: 'dns', value: 'gw.local' },
        { type: 'ip', value: '10.0.0.1' },
      ],
    });
    const { notBefore, notAfter } = result!.certificates[0]!;
    expect(Math.round((Date.parse(notAfter) - Date.parse(notBefore)) / 86_400_000)).toBe(825);
  });

  it('device: a counted batch, one key each, identity in the summary', async () => {
    const { result, error } = await runCommand<IssueResult>(
      [
        'cert',
        'issue',
        'device',
        '--ca-cert',
        join(out(), 'ca.crt'),
        '--ca-key',
        join(out(), 'ca.key'),
        '--identity',
        'mac=02:00:00:00:00:0f',
        '--count',
        '3',
        '--out-dir',
        join(out(), 'devices'),
        '--json',
      ],
      LOAD,
    );
    expect(error).toBeUndefined();
    expect(result?.certificates.map((c) => [c.identity, c.subject, c.certificatePath, c.keyPath])).toEqual(
      ['0f', '10', '11'].map((last) => [
        `mac=02:00:00:00:00:${last}`,
        `CN=02:00:00:00:00:${last}`,
        join(out(), 'devices', `device-02-00-00-00-00-${last}.crt`),
        join(out(), 'devices', `device-02-00-00-00-00-${last}.key`),
      ]),
    );
    // Three certificates, three keys, and the batch manifest in two formats.
    expect((await readdir(join(out(), 'devices'))).sort()).toHaveLength(8);
    expect(result?.manifest).toEqual({
      csvPath: join(out(), 'devices', 'manifest.csv'),
      jsonPath: join(out(), 'devices', 'manifest.json'),
    });
  });

  it('an error is a JSON document with code and hint, and the exit status of the code', async () => {
    const { stdout, result, error } = await runCommand<IssueResult>(
      ['cert', 'issue', 'ca', '--common-name', 'Again', '--out-dir', out(), '--json'],
      LOAD,
    );
    expect(result).toBeUndefined();
    expect(JSON.parse(stdout)).toEqual({
      error: {
        code: 'MGW_FILE_EXISTS',
        message: `${join(out(), 'ca.crt')}, ${join(out(), 'ca.key')} already exist; nothing was written`,
        hint: 'Choose another --out-dir or name, remove the files, or pass --force to replace them.',
        details: { existing: [join(out(), 'ca.crt'), join(out(), 'ca.key')] },
      },
    });
    expect(error?.oclif?.exit).toBe(1);
  });
});

describe('mender-gw cert issue (human output and errors)', () => {
  const out = (): string => join(dir, 'human');

  it('prints what was written and what to do next', async () => {
    const { stdout, stderr, error } = await runCommand(
      ['cert', 'issue', 'ca', '--common-name', '"Human CA"', '-o', out()],
      LOAD,
    );
    expect(error).toBeUndefined();
    expect(stderr).toBe('');
    const lines = stdout.split('\n');
    expect(lines[0]).toMatch(
      /^CA certificate "CN=Human CA" \(ecdsa-p256, serial [0-9A-F]{32}, valid until \d{4}-\d\d-\d\d\)$/,
    );
    expect(lines.slice(1, 3)).toEqual([
      `  certificate: ${join(out(), 'ca.crt')}`,
      `  private key: ${join(out(), 'ca.key')} (mode 0600)`,
    ]);
    expect(stdout).toContain(
      `cert issue server --ca-cert ${join(out(), 'ca.crt')} --ca-key ${join(out(), 'ca.key')}`,
    );
  });

  it('refuses to overwrite: code, message and a hint naming --force on stderr, exit 1', async () => {
    const before = await readFile(join(out(), 'ca.key'), 'utf8');
    const { stdout, stderr, error } = await runCommand(
      ['cert', 'issue', 'ca', '--common-name', '"Human CA"', '-o', out()],
      LOAD,
    );
    expect(error?.oclif?.exit).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toBe(
      `MGW_FILE_EXISTS: ${join(out(), 'ca.crt')}, ${join(out(), 'ca.key')} already exist; nothing was written\n` +
        'hint: Choose another --out-dir or name, remove the files, or pass --force to replace them.\n',
    );
    expect(await readFile(join(out(), 'ca.key'), 'utf8')).toBe(before);
  });

  it('--force replaces the files', async () => {
    const before = await readFile(join(out(), 'ca.key'), 'utf8');
    const { error } = await runCommand(
      ['cert', 'issue', 'ca', '--common-name', '"Human CA"', '-o', out(), '--force'],
      LOAD,
    );
    expect(error).toBeUndefined();
    expect(await readFile(join(out(), 'ca.key'), 'utf8')).not.toBe(before);
    expect((await lstat(join(out(), 'ca.key'))).mode & 0o777).toBe(0o600);
  });

  it('without a terminal, missing inputs are one error listing every flag, exit 2', async () => {
    const { stderr, error } = await runCommand(['cert', 'issue', 'device', '-o', out()], LOAD);
    expect(error?.oclif?.exit).toBe(2);
    expect(stderr).toBe(
      'MGW_PKI_INVALID_INPUT: missing required input: --ca-cert, --ca-key, --identity or --identities-file\n' +
        'hint: Pass them on the command line (prompts are offered only in an interactive terminal without --json or CI).\n',
    );
  });

  it('an unusable CA is reported with its file', async () => {
    const { stderr, error } = await runCommand(
      [
        'cert',
        'issue',
        'server',
        '--ca-cert',
        join(out(), 'missing.crt'),
        '--ca-key',
        join(out(), 'ca.key'),
        '--dns',
        'gw',
        '-o',
        out(),
      ],
      LOAD,
    );
    expect(error?.oclif?.exit).toBe(1);
    expect(stderr).toMatch(/^MGW_PKI_CA_UNUSABLE: cannot read CA certificate .*missing\.crt: ENOENT/);
    expect(stderr).toMatch(/\nhint: Check the path given to --ca-cert and that it is readable\.\n$/);
  });

  it('bad input fails before any key is generated or file written', async () => {
    const sub = join(out(), 'never');
    const { stderr, error } = await runCommand(
      [
        'cert',
        'issue',
        'server',
        '--ca-cert',
        join(out(), 'ca.crt'),
        '--ca-key',
        join(out(), 'ca.key'),
        '--dns',
        'bad_-.',
        '--key-type',
        'ecdsa',
        '--rsa-bits',
        '2048',
        '-o',
        sub,
      ],
      LOAD,
    );
    expect(error?.oclif?.exit).toBe(2);
    expect(stderr).toMatch(/^MGW_PKI_INVALID_INPUT: an RSA key size does not apply to ecdsa keys\n/);
    expect(existsSync(sub)).toBe(false);
  });
});
