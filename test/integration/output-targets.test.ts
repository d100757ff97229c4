import { execFileSync, spawnSync } from 'node:child_process';
import { lstat, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN } from '../support/serve-process.js';

/**
 * --out/--force replace regular files only: a FIFO, a directory or a symbolic link (here one
 * pointing out of the target directory) is refused with MGW_FILE_EXISTS by every command that
 * writes files, and left as it was. "-" and /dev/stdout are standard output.
 */

let dir: string;
let outside: string;

function cli(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const run = spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8',
    cwd: dir,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, CI: '1' },
  });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mgw-targets-'));
  outside = await mkdtemp(join(tmpdir(), 'mgw-targets-outside-'));
  execFileSync('mkfifo', [join(dir, 'fifo')]);
  await writeFile(join(outside, 'victim'), 'keep me\n');
  await symlink(join(outside, 'victim'), join(dir, 'link'));
  await mkdir(join(dir, 'folder'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
  await rm(outside, { recursive: true, force: true });
});

const WRITERS: [string, (target: string) => string[]][] = [
  [
    'device-hosts gen --out',
    (t) => ['device-hosts', 'gen', '--ip', '10.0.0.1', '--alias', 'gw.local', '--out', t],
  ],
  [
    'device-hosts gen --mender-conf',
    (t) => [
      'device-hosts',
      'gen',
      '--ip',
      'gw.local=10.0.0.1',
      '--out',
      join(dir, 'hosts.txt'),
      '--mender-conf',
      t,
    ],
  ],
  [
    'config init --out',
    (t) => [
      'config',
      'init',
      '--no-prompt',
      '--upstream-url',
      'https://hosted.mender.io',
      '--gateway-name',
      'gw.local',
      '--create-certs',
      '--keep-ca-key',
      '--cert-dir',
      join(dir, 'pki-init'),
      '--cache-path',
      join(dir, 'cache'),
      '--out',
      t,
    ],
  ],
  [
    'cert issue ca --name',
    (t) => ['cert', 'issue', 'ca', '--common-name', 'Test CA', '--out-dir', dir, '--name', t],
  ],
];

describe.each(WRITERS)('%s', (_what, argsFor) => {
  it.each(['fifo', 'link', 'folder'])('refuses to replace a %s, even with --force', async (name) => {
    // cert issue takes a file name stem: point <stem>.crt at the special file.
    const isStem = argsFor('x').includes('--name');
    if (isStem) {
      await rm(join(dir, `${name}-stem.crt`), { force: true });
      execFileSync('ln', ['-sfn', join(dir, name), join(dir, `${name}-stem.crt`)]);
    }
    const target = isStem ? `${name}-stem` : join(dir, name);
    const out = cli([...argsFor(target), '--force']);
    expect(out.code, out.stderr).toBe(1);
    expect(out.stderr).toMatch(
      /^MGW_FILE_EXISTS: .* is a (FIFO|symbolic link|directory), not a regular file/m,
    );
    expect(out.stderr).toMatch(/^hint: /m);
    expect(await readFile(join(outside, 'victim'), 'utf8')).toBe('keep me\n');
    expect((await lstat(join(dir, 'fifo'))).isFIFO()).toBe(true);
    expect((await lstat(join(dir, 'link'))).isSymbolicLink()).toBe(true);
  });
});

describe('standard output', () => {
  it('"-" and /dev/stdout print instead of writing a file', () => {
    for (const target of ['-', '/dev/stdout']) {
      const out = cli(['device-hosts', 'gen', '--ip', '10.0.0.1', '--alias', 'gw.local', '--out', target]);
      expect(out.code, out.stderr).toBe(0);
      expect(out.stdout).toContain('10.0.0.1');
    }
  });
});
