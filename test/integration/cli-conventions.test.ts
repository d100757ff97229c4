import { spawnSync } from 'node:child_process';
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

  it('offers shell completion', () => {
    const out = cli(['autocomplete', 'bash']);
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout).toContain('mender-gw');
  });
});
