import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCommand } from '@oclif/test';
import { ENV_OVERRIDES } from '../../src/core/config/env-overrides.js';
import type { ConfigValidation } from '../../src/core/config/index.js';

/**
 * `mender-gw config validate` through oclif. oclif loads the compiled command from
 * dist/ (its tsx registration does not work with this tsx version), so `npm run build`
 * must have run: `npm test` does that first. The manifest is ignored so a stale
 * oclif.manifest.json cannot hide flag changes (docs/decisions.md §14).
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const FIXTURES = join(ROOT, 'test/fixtures/configs');
const QUICKSTART = join(ROOT, 'docs/examples/quickstart.conf');
const LOAD = { root: ROOT, ignoreManifest: true };

/** The command reads process.env: keep the developer's or CI's environment out of it. */
const ENV_NAMES = ENV_OVERRIDES.flatMap((e) => [e.env, ...(e.aliases ?? []).map((a) => a.env)]);
const saved = new Map<string, string | undefined>();

beforeAll(() => {
  if (!existsSync(join(ROOT, 'dist/commands/config/validate.js'))) {
    throw new Error('dist/ is missing or stale: run `npm run build` before these tests (npm test does)');
  }
  for (const name of ENV_NAMES) {
    saved.set(name, process.env[name]);
    // eslint-disable-next-line @typescript-eslint/no-dynamic-delete -- restoring a test environment
    delete process.env[name];
  }
});
afterAll(() => {
  for (const [name, value] of saved) if (value !== undefined) process.env[name] = value;
});
afterEach(() => {
  // oclif's error path sets process.exitCode; it must not leak into the test runner.
  process.exitCode = undefined;
});

describe('mender-gw config validate', () => {
  it('valid: message on stdout, warnings on stderr, exit 0', async () => {
    const { error, stdout, stderr } = await runCommand(['config', 'validate', '--config', QUICKSTART], LOAD);
    expect(error).toBeUndefined();
    expect(stdout).toBe(`configuration is valid: ${QUICKSTART} (1 warning)\n`);
    expect(stderr).toMatch(
      /^warning \$\.Features\.ArtifactsProxy\.ArtifactsCache\.SignatureSecret \(defaults\): /m,
    );
  });

  it('invalid: every issue on stderr, exit 1', async () => {
    const file = join(FIXTURES, 'wrong-type.conf');
    const { error, stdout, stderr } = await runCommand(['config', 'validate', '-c', file], LOAD);
    expect(error?.oclif?.exit).toBe(1);
    expect(stdout).toBe('');
    expect(stderr.split('\n')).toEqual([
      `error $.HTTP.Enabled (file ${file}): expected a boolean, got "true" — write true or false, without quotes`,
      `error $.HTTP.Listen (file ${file}): expected a string, got 8080 — put the value in double quotes`,
      `configuration is invalid: ${file} (2 errors)`,
      '',
    ]);
  });

  it('--json, valid: the typed result on stdout, nothing on stderr', async () => {
    const { error, stdout, stderr, result } = await runCommand<ConfigValidation>(
      ['config', 'validate', '--config', QUICKSTART, '--json'],
      LOAD,
    );
    expect(error).toBeUndefined();
    expect(stderr).toBe('');
    const parsed = JSON.parse(stdout) as ConfigValidation;
    expect(parsed).toEqual(result);
    expect(parsed).toMatchObject({ valid: true, file: QUICKSTART, errors: [] });
    expect(parsed.warnings).toHaveLength(1);
  });

  it('--json, invalid: one JSON document with valid:false on stdout, exit 1', async () => {
    const file = join(FIXTURES, 'mtls-missing-username.conf');
    const { error, stdout } = await runCommand(['config', 'validate', '--config', file, '--json'], LOAD);
    expect(error?.oclif?.exit).toBe(1);
    const parsed = JSON.parse(stdout) as ConfigValidation;
    expect(parsed).toEqual({
      valid: false,
      file,
      errors: [
        {
          path: '$.Features.mTLS.MenderUsername',
          source: `file ${file}`,
          severity: 'error',
          message: 'mTLS is enabled but Features.mTLS.MenderUsername is not set',
          hint: 'set Features.mTLS.MenderUsername (env MTLS_MENDER_USERNAME)',
        },
      ],
      warnings: [],
    });
    expect(stdout).not.toContain('correcthorsebatterystaple');
  });

  it('--json, unreadable or not JSON: still a result with the position', async () => {
    const file = join(FIXTURES, 'mender-docs-2022-trailing-comma.conf');
    const { error, stdout } = await runCommand(['config', 'validate', '--config', file, '--json'], LOAD);
    expect(error?.oclif?.exit).toBe(1);
    const parsed = JSON.parse(stdout) as ConfigValidation;
    expect(parsed.valid).toBe(false);
    expect(parsed.errors[0]).toMatchObject({ path: '$', source: `file ${file}` });
    expect(parsed.errors[0]?.message).toContain(`${file}:19:5: invalid JSON`);

    const missing = await runCommand(
      ['config', 'validate', '--config', '/nonexistent/mender-gateway.conf', '--json'],
      LOAD,
    );
    expect(missing.error?.oclif?.exit).toBe(1);
    expect(JSON.parse(missing.stdout)).toMatchObject({
      valid: false,
      file: '/nonexistent/mender-gateway.conf',
    });
  });
});
