import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG_PATH } from '../../src/core/config/index.js';
import { BIN } from '../support/serve-process.js';

/**
 * Without --config and without the default file, a failing command says which path it
 * looked for and names the mender-gateway.conf `config init` wrote in the working directory.
 */

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mgw-default-config-'));
  await writeFile(join(dir, 'mender-gateway.conf'), '{}\n');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe.skipIf(existsSync(DEFAULT_CONFIG_PATH))('the default configuration path', () => {
  it.each([[['serve']], [['cache', 'ls']]])('%j names the path looked for and the file nearby', (args) => {
    const run = spawnSync(process.execPath, [BIN, ...args], {
      encoding: 'utf8',
      cwd: dir,
      env: { PATH: process.env.PATH, HOME: process.env.HOME },
    });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain(`${DEFAULT_CONFIG_PATH} does not exist`);
    expect(run.stderr).toContain(`pass --config ${join(dir, 'mender-gateway.conf')}`);
  });
});
