import { chmod, cp, mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DEFAULT_ARTIFACT_NAME,
  DEFAULT_DEVICE_TYPE,
  STOCK_MODULES_DIR,
  TEST_UPDATE_MODULE,
} from './constants.js';
import { menderConfig } from './device-config.js';
import { shQuote } from './shell-quote.js';
import { updateModuleScript } from './update-module.js';
import type { MenderDeviceOptions } from './types.js';

/**
 * Everything one device owns on disk:
 * - `etc-mender/`        bind-mounted over /etc/mender (artifact_info, scripts/)
 * - `usr-share-mender/`  bind-mounted over /usr/share/mender (identity/, inventory/, modules/v3/)
 * - `data/`              `--data` (mender-agent.pem, LMDB store, module work dir, device_type)
 * - `hosts`              bind-mounted over /etc/hosts, only when options.hosts is given
 * - `mender.conf`, `fallback.conf`, `mender.log` (stdout/stderr of launcher and daemon, appended
 *   across restarts), `installed/` (update module output), `update-module-states.log` (each
 *   state the test update module was called for).
 */
export interface DeviceLayout {
  /** Temp base dir; removing it removes everything. */
  baseDir: string;
  dir: string;
  etcDir: string;
  shareDir: string;
  dataDir: string;
  configPath: string;
  fallbackConfigPath: string;
  logPath: string;
  installedDir: string;
  hostsPath: string | undefined;
}

export async function allocateDeviceDir(name: string): Promise<{ baseDir: string; dir: string }> {
  if (name === '' || name === '.' || name === '..' || name.includes('/')) {
    throw new Error(`device name must be a plain folder name, got ${JSON.stringify(name)}`);
  }
  const baseDir = await mkdtemp(join(tmpdir(), 'mgw-mender-'));
  const dir = join(baseDir, name);
  await mkdir(dir);
  return { baseDir, dir };
}

export async function writeExecutable(path: string, content: string): Promise<void> {
  await writeFile(path, content);
  await chmod(path, 0o755);
}

export function keyValueScript(values: Record<string, string>): string {
  const lines = Object.entries(values).map(([key, value]) => `printf '%s\\n' ${shQuote(`${key}=${value}`)}`);
  return `#!/bin/sh\n${lines.join('\n')}\n`;
}

/** The host's own hosts file plus the extra entries, so localhost keeps resolving. */
async function hostsFile(extra: Record<string, string>): Promise<string> {
  const base = await readFile('/etc/hosts', 'utf8').catch(() => '127.0.0.1 localhost\n::1 localhost\n');
  const lines = Object.entries(extra).map(([name, ip]) => `${ip} ${name}`);
  return `${base.endsWith('\n') ? base : `${base}\n`}# mgw test harness\n${lines.join('\n')}\n`;
}

export async function writeDeviceLayout(
  location: { baseDir: string; dir: string },
  options: MenderDeviceOptions,
  identity: Record<string, string>,
  privateKeyPem: string,
): Promise<DeviceLayout> {
  const { baseDir, dir } = location;
  const etcDir = join(dir, 'etc-mender');
  const shareDir = join(dir, 'usr-share-mender');
  const dataDir = join(dir, 'data');
  const installedDir = join(dir, 'installed');
  const modulesDir = join(shareDir, 'modules', 'v3');
  for (const folder of [
    join(etcDir, 'scripts'),
    join(shareDir, 'identity'),
    join(shareDir, 'inventory'),
    modulesDir,
    join(dataDir, 'scripts'),
    join(dataDir, 'update-logs'),
    installedDir,
  ]) {
    await mkdir(folder, { recursive: true });
  }

  await writeFile(
    join(etcDir, 'artifact_info'),
    `artifact_name=${options.artifactName ?? DEFAULT_ARTIFACT_NAME}\n`,
  );
  await writeExecutable(join(shareDir, 'identity', 'mender-device-identity'), keyValueScript(identity));
  await writeExecutable(
    join(shareDir, 'inventory', 'mender-inventory-test'),
    keyValueScript({ mgw_device_name: options.name, mgw_harness: 'mender-device' }),
  );
  // Stock modules too, so artifacts for e.g. `single-file` or `directory` also install.
  if (existsSync(STOCK_MODULES_DIR)) await cp(STOCK_MODULES_DIR, modulesDir, { recursive: true });
  await writeExecutable(
    join(modulesDir, TEST_UPDATE_MODULE),
    updateModuleScript(installedDir, join(dir, 'update-module-states.log')),
  );

  const deviceTypeFile = join(dataDir, 'device_type');
  await writeFile(deviceTypeFile, `device_type=${options.deviceType ?? DEFAULT_DEVICE_TYPE}\n`);
  await writeFile(join(dataDir, 'mender-agent.pem'), privateKeyPem, { mode: 0o600 });

  const configPath = join(dir, 'mender.conf');
  const config = menderConfig(options, {
    dataDir,
    deviceTypeFile,
    updateLogDir: join(dataDir, 'update-logs'),
    artifactScriptsDir: join(dataDir, 'scripts'),
  });
  await writeFile(configPath, `${JSON.stringify(config, null, 2)}\n`);
  // An explicit empty fallback, or the client would also read /var/lib/mender/mender.conf.
  const fallbackConfigPath = join(dir, 'fallback.conf');
  await writeFile(fallbackConfigPath, '{}\n');

  let hostsPath: string | undefined;
  if (options.hosts !== undefined) {
    hostsPath = join(dir, 'hosts');
    await writeFile(hostsPath, await hostsFile(options.hosts));
  }

  return {
    baseDir,
    dir,
    etcDir,
    shareDir,
    dataDir,
    configPath,
    fallbackConfigPath,
    logPath: join(dir, 'mender.log'),
    installedDir,
    hostsPath,
  };
}
