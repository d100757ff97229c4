import { execFile } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const AUDIT = join(process.cwd(), 'scripts/audit.sh');

/**
 * The dependency audit gate (scripts/audit.sh) with a stand-in `npm` on PATH: its verdict must
 * say what happened, and a gate that could not reach the advisory service is never reported as
 * passed (scripts/test.sh repeats the verdict in its summary).
 */
describe('scripts/audit.sh', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mgw-audit-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function audit(
    npmOutput: string,
    npmExit: number,
    env: Record<string, string> = {},
  ): Promise<{ code: number; status: string; stderr: string }> {
    const bin = await mkdtemp(join(dir, 'bin-'));
    await writeFile(join(bin, 'npm'), `#!/bin/sh\ncat <<'OUT'\n${npmOutput}\nOUT\nexit ${String(npmExit)}\n`);
    await chmod(join(bin, 'npm'), 0o755);
    const statusFile = join(bin, 'status');
    const options = {
      env: { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}`, MGW_AUDIT_STATUS: statusFile, ...env },
    };
    try {
      const { stderr } = await run('bash', [AUDIT], options);
      return { code: 0, status: (await readFile(statusFile, 'utf8')).trim(), stderr };
    } catch (err) {
      const e = err as { code: number; stderr: string };
      return { code: e.code, status: (await readFile(statusFile, 'utf8')).trim(), stderr: e.stderr };
    }
  }

  it('passes when the advisory service found nothing', async () => {
    const r = await audit('found 0 vulnerabilities', 0);
    expect(r.code).toBe(0);
    expect(r.status).toMatch(/^audit: passed/);
  });

  it('says NOT RUN, loudly, when the advisory service cannot be reached', async () => {
    const r = await audit(
      'npm warn audit 405 Method Not Allowed - POST https://registry.npmjs.org/-/npm/v1/security/advisories/bulk\nnpm error audit endpoint returned an error',
      1,
    );
    expect(r.code).toBe(0);
    expect(r.status).toMatch(/^audit: NOT RUN/);
    expect(r.stderr).toMatch(/WARNING: audit: NOT RUN/);
  });

  it('fails "not run" when MGW_AUDIT_REQUIRED=1', async () => {
    const r = await audit('npm error audit endpoint returned an error', 1, { MGW_AUDIT_REQUIRED: '1' });
    expect(r.code).toBe(1);
    expect(r.status).toMatch(/^audit: NOT RUN/);
  });

  it('fails on advisories', async () => {
    const r = await audit('2 high severity vulnerabilities', 1);
    expect(r.code).toBe(1);
    expect(r.status).toMatch(/^audit: FAILED/);
  });
});
