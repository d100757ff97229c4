import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';

/**
 * Every failure of the built binary, oclif's parse errors included, is `CODE: message` plus
 * `hint: …` on stderr, or exactly one small `{"error":{code,message,hint}}` document on stdout
 * with `--json`, with the code's exit status (2 for usage errors) and never a stack or oclif's
 * parser context.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(ROOT, 'bin/run.js');

function cli(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const run = spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8',
    env: { ...process.env, CI: '1', NO_COLOR: '1' },
  });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

beforeAll(() => {
  if (!existsSync(join(ROOT, 'dist/cli/cli-error.js'))) throw new Error('run `npm run build` first');
});

const USAGE_ERRORS: [string, string[], RegExp][] = [
  ['an unknown flag', ['config', 'validate', '--bogus'], /Nonexistent flag: --bogus/],
  [
    'exclusive flags',
    ['cache', 'prune', '-p', 'x', '--all', '--older-than', '1d'],
    /cannot also be provided/,
  ],
  ['a bad integer', ['cert', 'issue', 'device', '--days', '0'], /^Parsing --days: Expected an integer/],
  ['a value outside the options', ['device-hosts', 'gen', '--format', 'xml'], /one of: hosts, dnsmasq, json/],
  ['an unknown command', ['cache', 'list'], /^"cache list" is not a mender-gw command$/],
  [
    'an argument a command does not take',
    ['config', 'validate', 'extra-arg'],
    /takes no argument "extra-arg"/,
  ],
];

describe('usage errors', () => {
  it.each(USAGE_ERRORS)('%s is MGW_USAGE with a hint, exit 2', (_what, args, message) => {
    const out = cli(args);
    expect(out.code, out.stderr).toBe(2);
    expect(out.stdout).toBe('');
    const lines = out.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^MGW_USAGE: /);
    expect(lines[0]?.slice('MGW_USAGE: '.length)).toMatch(message);
    expect(lines[1]).toMatch(/^hint: .*Run "mender-gw .*--help"/);
  });

  it.each(USAGE_ERRORS)('%s with --json is one small error document, exit 2', (_what, args, message) => {
    const out = cli([...args, '--json']);
    expect(out.code, out.stdout).toBe(2);
    expect(out.stderr).toBe('');
    expect(out.stdout.length).toBeLessThan(400);
    const doc = JSON.parse(out.stdout) as { error: Record<string, unknown> };
    expect(Object.keys(doc)).toEqual(['error']);
    expect(Object.keys(doc.error).sort()).toEqual(['code', 'hint', 'message']);
    expect(doc.error.code).toBe('MGW_USAGE');
    expect(doc.error.message).toMatch(message);
  });

  it('suggests the closest command for a typo', () => {
    expect(cli(['cache', 'list']).stderr).toContain('hint: Did you mean "mender-gw cache ls"?');
    expect(cli(['config', 'valdate']).stderr).toContain('Did you mean "mender-gw config validate"?');
  });
});

describe('errors of the commands themselves', () => {
  it('use the same document under --json, with their own exit status', () => {
    const out = cli(['cache', 'ls', '--path', join(ROOT, 'no-such-cache-dir'), '--json']);
    expect(out.code).toBe(1);
    const doc = JSON.parse(out.stdout) as { error: { code: string; hint: string } };
    expect(doc.error.code).toBe('MGW_CACHE_NOT_FOUND');
    expect(doc.error.hint).toBeTruthy();
  });

  it('never show a stack trace or oclif internals', () => {
    for (const args of [
      ['cert', 'issue', 'ca', '--json'],
      ['cert', 'issue', 'ca'],
      ['serve', '--nope'],
    ]) {
      const out = cli(args);
      expect(out.stdout + out.stderr).not.toMatch(/\n\s+at |"oclif"|"pjson"|›/);
    }
  });
});
