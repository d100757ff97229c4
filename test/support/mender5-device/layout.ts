import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  DEFAULT_ARTIFACT_NAME,
  DEFAULT_DEVICE_TYPE,
  TEST_UPDATE_MODULE,
} from '../mender-device/constants.js';
import { keyValueScript, writeExecutable } from '../mender-device/device-layout.js';
import { serverKeys } from '../mender-device/device-config.js';
import { updateModuleScript } from '../mender-device/update-module.js';
import type { Mender5DeviceOptions, Mender5Process } from './types.js';

const run = promisify(execFile);

/**
 * Stock inventory scripts left out: `geo` asks a public web service where the device is, which a
 * test must never do.
 */
const SKIPPED_INVENTORY_SCRIPTS = new Set(['mender-inventory-geo']);

/**
 * Everything one 5.1 device owns on disk:
 * - `conf/`       MENDER_CONF_DIR and `--config conf/mender.conf` (also mender-connect.conf, scripts/)
 * - `share/`      MENDER_DATA_DIR: identity/, inventory/ (stock scripts, paths patched), modules/v3/
 * - `datastore/`  MENDER_DATASTORE_DIR and `--datastore`: mender-agent.pem, device_type, the
 *                 bootstrap artifact, the LMDB store, update logs. Never /var/lib/mender, which
 *                 belongs to the host's 3.4 client (5.1 would migrate it).
 * - `bin/reboot`  a stub first in PATH: mender-update runs `reboot` when an artifact asks for it
 * - `dbus.conf`, `bus` (the private system bus socket), `installed/`, `*.log`
 */
export interface Mender5Layout {
  baseDir: string;
  dir: string;
  confDir: string;
  shareDir: string;
  datastoreDir: string;
  binDir: string;
  configPath: string;
  connectConfigPath: string;
  dbusConfigPath: string;
  busAddress: string;
  installedDir: string;
  logPaths: Record<Mender5Process, string>;
}

export async function allocateDevice5Dir(name: string): Promise<{ baseDir: string; dir: string }> {
  if (name === '' || name === '.' || name === '..' || name.includes('/'))
    throw new Error(`device name must be a plain folder name, got ${JSON.stringify(name)}`);
  const baseDir = await mkdtemp(join(tmpdir(), 'mgw-mender5-'));
  const dir = join(baseDir, name);
  await mkdir(dir);
  return { baseDir, dir };
}

/**
 * The client's own `mender.conf` keys, see
 * https://docs.mender.io/client-installation/configuration/configuration-options
 */
function menderConf(
  options: Mender5DeviceOptions,
  datastoreDir: string,
  confDir: string,
): Record<string, unknown> {
  return {
    ...serverKeys(options),
    ...(options.retryDownloadCount === undefined ? {} : { RetryDownloadCount: options.retryDownloadCount }),
    DeviceTypeFile: join(datastoreDir, 'device_type'),
    UpdateLogPath: join(datastoreDir, 'update-logs'),
    ArtifactScriptsPath: join(datastoreDir, 'scripts'),
    RootfsScriptsPath: join(confDir, 'scripts'),
    ModuleTimeoutSeconds: 60,
  };
}

/** A bus that lets every local process own and call anything: the device's private "system" bus. */
function dbusConfig(socketPath: string): string {
  return `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=${socketPath}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
`;
}

/**
 * Copies of the stock inventory scripts with the paths they hard-code replaced by the device's
 * own (`/etc/mender/mender.conf`, `/usr/share/mender/modules`, `/usr/bin/mender-update`).
 */
async function copyInventoryScripts(
  prefix: string,
  layout: Pick<Mender5Layout, 'confDir' | 'shareDir'>,
): Promise<void> {
  const stock = join(prefix, 'share', 'mender', 'inventory');
  for (const name of await readdir(stock)) {
    if (SKIPPED_INVENTORY_SCRIPTS.has(name)) continue;
    const patched = (await readFile(join(stock, name), 'utf8'))
      .replaceAll('/etc/mender/', `${layout.confDir}/`)
      .replaceAll('/usr/share/mender/', `${layout.shareDir}/`)
      .replaceAll('/usr/bin/mender-update', join(prefix, 'bin', 'mender-update'));
    await writeExecutable(join(layout.shareDir, 'inventory', name), patched);
  }
}

export async function writeDevice5Layout(
  location: { baseDir: string; dir: string },
  prefix: string,
  options: Mender5DeviceOptions,
  identity: Record<string, string>,
  privateKeyPem: string,
): Promise<Mender5Layout> {
  const { baseDir, dir } = location;
  const confDir = join(dir, 'conf');
  const shareDir = join(dir, 'share');
  const datastoreDir = join(dir, 'datastore');
  const binDir = join(dir, 'bin');
  const installedDir = join(dir, 'installed');
  const modulesDir = join(shareDir, 'modules', 'v3');
  for (const folder of [
    join(confDir, 'scripts'),
    join(shareDir, 'identity'),
    join(shareDir, 'inventory'),
    modulesDir,
    join(datastoreDir, 'scripts'),
    join(datastoreDir, 'update-logs'),
    binDir,
    installedDir,
  ]) {
    await mkdir(folder, { recursive: true });
  }
  const deviceType = options.deviceType ?? DEFAULT_DEVICE_TYPE;

  await writeExecutable(join(shareDir, 'identity', 'mender-device-identity'), keyValueScript(identity));
  await copyInventoryScripts(prefix, { confDir, shareDir });
  await writeExecutable(
    join(shareDir, 'inventory', 'mender-inventory-mgw-test'),
    keyValueScript({ mgw_device_name: options.name, mgw_harness: 'mender5-device' }),
  );
  for (const [name, script] of Object.entries(options.inventoryScripts ?? {}))
    await writeExecutable(join(shareDir, 'inventory', name), script);
  await cp(join(prefix, 'share', 'mender', 'modules', 'v3'), modulesDir, { recursive: true });
  await writeExecutable(
    join(modulesDir, TEST_UPDATE_MODULE),
    updateModuleScript(installedDir, join(dir, 'update-module-states.log')),
  );
  // Nothing the harness installs asks for a reboot; if something did, it must not reach the host.
  await writeExecutable(
    join(binDir, 'reboot'),
    `#!/bin/sh\necho "reboot $*" >> ${JSON.stringify(join(dir, 'reboot.log'))}\n`,
  );

  await writeFile(join(datastoreDir, 'device_type'), `device_type=${deviceType}\n`);
  await writeFile(join(datastoreDir, 'mender-agent.pem'), privateKeyPem, { mode: 0o600 });
  // A fresh 5.1 datastore has no artifact name until it installs datastore/bootstrap.mender,
  // which mender-update does on its first start (and then deletes the file).
  await run(
    'mender-artifact',
    [
      'write',
      'bootstrap-artifact',
      '-n',
      options.artifactName ?? DEFAULT_ARTIFACT_NAME,
      '-t',
      deviceType,
      '--compression',
      'none',
      '--no-progress',
      '-o',
      join(datastoreDir, 'bootstrap.mender'),
    ],
    { timeout: 60_000 },
  );

  const configPath = join(confDir, 'mender.conf');
  await writeFile(configPath, `${JSON.stringify(menderConf(options, datastoreDir, confDir), null, 2)}\n`);
  // mender-connect 2.1: the stock shell (it starts it with --login), run as this user; the stock
  // config says nobody, which needs root.
  const connectConfigPath = join(confDir, 'mender-connect.conf');
  await writeFile(
    connectConfigPath,
    `${JSON.stringify({ ShellCommand: '/bin/bash', User: userInfo().username }, null, 2)}\n`,
  );
  const socketPath = join(dir, 'bus');
  const dbusConfigPath = join(dir, 'dbus.conf');
  await writeFile(dbusConfigPath, dbusConfig(socketPath));

  return {
    baseDir,
    dir,
    confDir,
    shareDir,
    datastoreDir,
    binDir,
    configPath,
    connectConfigPath,
    dbusConfigPath,
    busAddress: `unix:path=${socketPath}`,
    installedDir,
    logPaths: {
      dbus: join(dir, 'dbus.log'),
      auth: join(dir, 'mender-auth.log'),
      update: join(dir, 'mender-update.log'),
      connect: join(dir, 'mender-connect.log'),
    },
  };
}
