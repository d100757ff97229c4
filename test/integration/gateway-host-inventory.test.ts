import { execFile } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN } from '../support/serve-process.js';

const run = promisify(execFile);
const SCRIPT = join(process.cwd(), 'docs/examples/inventory/mender-inventory-mender-gateway');

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

async function capture(file: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Result> {
  try {
    const { stdout, stderr } = await run(file, args, { env: { ...process.env, ...env } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/**
 * The gateway host's own inventory (docs/operator-guide.md, "The gateway host in Mender's UI"):
 * `mender-gw inventory` through the built binary and the shipped inventory script, which Mender
 * clients run with their other inventory scripts.
 */
describe('mender-gw inventory', () => {
  let dir: string;
  let conf: string;
  let wrapper: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mgw-inventory-'));
    conf = join(dir, 'mender-gateway.conf');
    await writeFile(
      conf,
      JSON.stringify({
        UpstreamServer: { URL: 'https://mender.example.com' },
        HTTP: { Enabled: true, Listen: '127.0.0.1:8080' },
        Features: { DeviceSystem: { Enabled: true, SystemID: 'ship-7' } },
      }),
    );
    // The shipped script runs `mender-gw`; here that is the built binary.
    wrapper = join(dir, 'mender-gw');
    await writeFile(
      wrapper,
      `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(BIN)} "$@"\n`,
    );
    await chmod(wrapper, 0o755);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('prints mender_is_gateway and the Device System id as inventory lines', async () => {
    const r = await capture(process.execPath, [BIN, 'inventory', '--config', conf]);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toBe('mender_is_gateway=true\nmender_gateway_system_id=ship-7\n');
  });

  it('leaves the system id out when Device System is off', async () => {
    const off = join(dir, 'off.conf');
    await writeFile(
      off,
      JSON.stringify({ UpstreamServer: { URL: 'https://mender.example.com' }, HTTP: { Enabled: true } }),
    );
    const r = await capture(process.execPath, [BIN, 'inventory', '--config', off]);
    expect(r.stdout).toBe('mender_is_gateway=true\n');
  });

  it('still reports the gateway, exit 0, when the configuration cannot be loaded', async () => {
    const r = await capture(process.execPath, [BIN, 'inventory', '--config', join(dir, 'missing.conf')]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('mender_is_gateway=true\n');
    expect(r.stderr).toMatch(/^MGW_CONFIG_UNREADABLE: configuration file .*missing\.conf does not exist/);
  });

  it('never forges attributes from a system id with a line break', async () => {
    const forged = join(dir, 'forged.conf');
    await writeFile(
      forged,
      JSON.stringify({
        UpstreamServer: { URL: 'https://mender.example.com' },
        HTTP: { Enabled: true },
        Features: { DeviceSystem: { Enabled: true, SystemID: 'a\nmender_is_gateway=false' } },
      }),
    );
    const r = await capture(process.execPath, [BIN, 'inventory', '--config', forged]);
    expect(r.stdout).toBe('mender_is_gateway=true\n');
    expect(r.stderr).toMatch(/mender_gateway_system_id left out: .*line break/);
  });

  it('the shipped script reads the service environment file, whose variables win', async () => {
    const envFile = join(dir, 'mender-gw.default');
    await writeFile(envFile, '# as /etc/default/mender-gw\nDEVICE_SYSTEM_ID=from-env-file\n');
    const r = await capture('sh', [SCRIPT], {
      MENDER_GW_BIN: wrapper,
      MENDER_GW_CONFIG: conf,
      MENDER_GW_ENV_FILE: envFile,
    });
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toBe('mender_is_gateway=true\nmender_gateway_system_id=from-env-file\n');
  });
});
