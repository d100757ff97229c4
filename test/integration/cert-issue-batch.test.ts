import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeviceManifest, IssueResult } from '../../src/core/pki/index.js';
import { BIN, DRAWING, ptyUnavailable, runInPty, screenLines } from '../support/pty.js';
import { skipBecause } from '../support/skip-reason.js';

/**
 * `cert issue device` batches through the built binary: the manifest written next to the
 * certificates (docs/certificates.md, "Batch manifest"), progress drawn only on a terminal,
 * the one-line summary on stderr, per-certificate lines only with --verbose, and nothing but
 * JSON under --json. Needs `npm run build`.
 */

const NO_PTY = ptyUnavailable();
let dir: string;
let ca: string[];

function cli(args: string[], cwd = dir): { code: number | null; stdout: string; stderr: string } {
  const env: NodeJS.ProcessEnv = { ...process.env, TERM: 'xterm' };
  delete env.CI;
  const run = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env, cwd });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

beforeAll(async () => {
  if (!existsSync(join(BIN, '../../dist/commands/cert/issue/device.js'))) {
    throw new Error('dist/ is missing or stale: run `npm run build` before these tests (npm test does)');
  }
  dir = await mkdtemp(join(tmpdir(), 'mgw-cert-batch-'));
  const made = cli(['cert', 'issue', 'ca', '--common-name', 'Batch CA', '--out-dir', 'pki']);
  expect(made.code, made.stderr).toBe(0);
  ca = ['--ca-cert', join(dir, 'pki/ca.crt'), '--ca-key', join(dir, 'pki/ca.key')];
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** RFC 4180 records without quoted fields (the manifest's values have no commas). */
const csvRows = (text: string): string[][] =>
  text
    .split('\r\n')
    .filter((line) => line !== '')
    .map((line) => line.split(','));

describe('cert issue device batches', () => {
  it('5 devices: manifest.csv and manifest.json match the files, fingerprints recomputed', async () => {
    const out = join(dir, 'batch5');
    const run = cli([
      'cert',
      'issue',
      'device',
      ...ca,
      '-i',
      'mac=02:00:00:00:00:fe',
      '--count',
      '5',
      '-o',
      out,
    ]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toBe(''); // per-certificate lines only with --verbose
    expect(run.stderr).toMatch(
      /^issued 5 device certificates in \d+\.\d s → .*batch5\/ \(manifest\.csv, manifest\.json\)\n$/,
    );
    expect((await readdir(out)).sort()).toHaveLength(12);

    const json = JSON.parse(await readFile(join(out, 'manifest.json'), 'utf8')) as DeviceManifest;
    const csv = csvRows(await readFile(join(out, 'manifest.csv'), 'utf8'));
    expect(csv[0]).toEqual([
      'identity',
      'subject',
      'serial_number',
      'sha256_fingerprint',
      'certificate_file',
      'key_file',
      'not_before',
      'not_after',
      'key_type',
    ]);
    expect(json.count).toBe(5);
    expect(json.issuer).toBe('CN=Batch CA');
    expect(csv).toHaveLength(6);
    const macs = ['fe', 'ff', '100', '101', '102'].map((n) =>
      n.length === 2 ? `02:00:00:00:00:${n}` : `02:00:00:00:01:0${n.slice(2)}`,
    );
    for (const [i, device] of json.devices.entries()) {
      const cert = new X509Certificate(await readFile(join(out, device.certificateFile)));
      expect(device.identity).toBe(`mac=${macs[i]}`);
      expect(cert.subject).toBe(`CN=${macs[i]}`);
      expect(device.serialNumber).toBe(cert.serialNumber.toUpperCase());
      expect(device.sha256Fingerprint).toBe(cert.fingerprint256);
      expect(device.keyFile).toBe(device.certificateFile.replace(/\.crt$/, '.key'));
      expect(existsSync(join(out, device.keyFile))).toBe(true);
      expect(csv[i + 1]).toEqual([
        device.identity,
        device.subject,
        device.serialNumber,
        device.sha256Fingerprint,
        device.certificateFile,
        device.keyFile,
        device.notBefore,
        device.notAfter,
        device.keyType,
      ]);
    }
  });

  it('--verbose prints every certificate; a single device prints its block and writes no manifest', () => {
    const verbose = cli([
      'cert',
      'issue',
      'device',
      ...ca,
      '-i',
      'dev-0001',
      '--count',
      '2',
      '-o',
      'v',
      '--verbose',
    ]);
    expect(verbose.code, verbose.stderr).toBe(0);
    expect(verbose.stdout.match(/^device certificate "CN=dev-000[12]"/gm)).toHaveLength(2);
    const single = cli(['cert', 'issue', 'device', ...ca, '-i', 'dev-0009', '-o', 'one']);
    expect(single.code, single.stderr).toBe(0);
    expect(single.stdout).toMatch(/^device certificate "CN=dev-0009"/);
    expect(single.stderr).toMatch(/^issued 1 device certificate in \d+\.\d s → one\/\n$/);
    expect(existsSync(join(dir, 'one', 'manifest.csv'))).toBe(false);
  });

  it('without a terminal nothing is drawn; --json prints only the JSON document', () => {
    const plain = cli(['cert', 'issue', 'device', ...ca, '-i', 'dev-0100', '--count', '3', '-o', 'plain']);
    expect(plain.code).toBe(0);
    expect(plain.stderr).not.toMatch(DRAWING);
    expect(plain.stderr).toMatch(/^issued 3 device certificates in /);
    const json = cli([
      'cert',
      'issue',
      'device',
      ...ca,
      '-i',
      'dev-0200',
      '--count',
      '3',
      '-o',
      'json',
      '--json',
    ]);
    expect(json.code).toBe(0);
    expect(json.stderr).toBe('');
    expect((JSON.parse(json.stdout) as IssueResult).certificates).toHaveLength(3);
  });

  it.skipIf(skipBecause(NO_PTY !== undefined, 'progress on a terminal', NO_PTY ?? ''))(
    'on a terminal: a progress count, then the summary line; --json stays pure',
    async () => {
      const run = await runInPty(
        ['cert', 'issue', 'device', ...ca, '-i', 'dev-1000', '--count', '20', '-o', 'tty'],
        {
          cwd: dir,
        },
      );
      expect(run.code, run.output).toBe(0);
      expect(run.output).toMatch(DRAWING);
      const screen = screenLines(run.output).join('\n');
      expect(screen).toMatch(/^Issuing device certificates\.\.\. 20\/20$/m);
      expect(screen).toMatch(
        /^issued 20 device certificates in \d+\.\d s → tty\/ \(manifest\.csv, manifest\.json\)$/m,
      );

      const json = await runInPty(
        ['cert', 'issue', 'device', ...ca, '-i', 'dev-2000', '--count', '3', '-o', 'tty-json', '--json'],
        { cwd: dir },
      );
      expect(json.code).toBe(0);
      expect(json.output).not.toMatch(DRAWING);
      expect((JSON.parse(json.output) as IssueResult).certificates).toHaveLength(3);
    },
  );
});
