import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/** The built binary answers the short flags and commands oclif CLIs usually have. */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(ROOT, 'bin/run.js');

function cli(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const run = spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8',
    env: { ...process.env, CI: '1', NO_COLOR: '1' },
  });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

describe('oclif conventions', () => {
  it('-h is --help', () => {
    const out = cli(['serve', '-h']);
    expect(out.code).toBe(0);
    expect(out.stdout).toContain('USAGE\n  $ mender-gw serve');
  });

  it('-v, --version and version print the version', () => {
    for (const args of [['-v'], ['--version'], ['version']]) {
      const out = cli(args);
      expect(out.code, out.stderr).toBe(0);
      expect(out.stdout).toMatch(/^mender-gw\/\d+\.\d+\.\d+ /);
    }
  });

  it('names what every value flag takes with one upper-case placeholder (FILE, DIR, PORT…)', () => {
    const manifest = JSON.parse(readFileSync(join(ROOT, 'oclif.manifest.json'), 'utf8')) as {
      commands: Record<
        string,
        { flags: Record<string, { type: string; helpValue?: string; options?: string[] }> }
      >;
    };
    const missing: string[] = [];
    for (const [id, command] of Object.entries(manifest.commands)) {
      for (const [name, flag] of Object.entries(command.flags)) {
        // A flag with a fixed list shows the list instead.
        if (flag.type !== 'option' || flag.options !== undefined) continue;
        if (!/^[A-Z[][A-Z0-9_=,[\]-]*$/.test(flag.helpValue ?? ''))
          missing.push(`${id} --${name}: ${String(flag.helpValue)}`);
      }
    }
    expect(missing).toEqual([]);
    // And the help shows it, not oclif's "<value>".
    expect(cli(['cache', 'prune', '-h']).stdout).toContain('--older-than AGE');
  });

  it('offers shell completion', () => {
    const out = cli(['autocomplete', 'bash']);
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout).toContain('mender-gw');
  });
});
