import { constants } from 'node:fs';
import { access, readFile, rm } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { daemonEnv } from '../mender-device/daemon-env.js';
import { launchProcess, signalIfAlive } from '../mender-device/daemon-process.js';
import type { DaemonProcess } from '../mender-device/daemon-process.js';
import { generateDeviceKey } from '../mender-device/device-key.js';
import { fileSize, waitForLogLine } from '../mender-device/log-file.js';
import { deriveMac } from '../mender-device/mac-address.js';
import { mender5Support } from './client5-support.js';
import { allocateDevice5Dir, writeDevice5Layout } from './layout.js';
import type { Mender5Layout } from './layout.js';
import type { Mender5Device, Mender5DeviceOptions, Mender5Process } from './types.js';

const STOP_GRACE_MS = 5_000;
/** Generous for a loaded 2-core CI machine; each start takes well under a second when idle. */
const START_TIMEOUT_MS = 20_000;

/**
 * Readiness of each process. dbus-daemon prints its address (`--print-address`) once it
 * listens; the daemons' lines are from the 5.1 source:
 * https://github.com/mendersoftware/mender/blob/5.1.0/src/mender-auth/cli/actions.cpp and
 * https://github.com/mendersoftware/mender/blob/5.1.0/src/mender-update/cli/actions.cpp
 */
const READY: Record<Exclude<Mender5Process, 'connect'>, RegExp> = {
  dbus: /^unix:path=/,
  auth: /msg="The authentication daemon is now ready to accept incoming authentication request"/,
  update: /msg="The update client daemon is now ready to handle incoming deployments"/,
};

/**
 * Prepares a device folder (see layout.ts) and starts, in this order: a private dbus-daemon,
 * `mender-auth daemon`, `mender-update daemon` and, with `connect`, Debian's mender-connect.
 * Every process gets MENDER_CONF_DIR, MENDER_DATA_DIR and MENDER_DATASTORE_DIR (the scripts and
 * modules they run inherit these, not the flags) and DBUS_SYSTEM_BUS_ADDRESS pointing at the
 * device's own bus: the bus name `io.mender.AuthenticationManager` is fixed, so one bus per device.
 */
export async function startMender5Device(options: Mender5DeviceOptions): Promise<Mender5Device> {
  const support = mender5Support();
  if (!support.ok) throw new Error(`Mender 5.1 cannot run here: ${support.reason}`);
  const prefix = support.prefix;
  if (options.clientCertificate !== undefined) {
    // Fail here rather than in a TLS handshake far away.
    await access(options.clientCertificate.certPath, constants.R_OK);
    await access(options.clientCertificate.keyPath, constants.R_OK);
  }
  const location = await allocateDevice5Dir(options.name);
  let layout: Mender5Layout;
  const mac = options.mac ?? deriveMac(options.name, location.dir);
  const identity = { mac };
  const key = await generateDeviceKey(options.keyType ?? 'ec');
  try {
    layout = await writeDevice5Layout(location, prefix, options, identity, key.privateKeyPem);
  } catch (error) {
    await rm(location.baseDir, { recursive: true, force: true });
    throw error;
  }

  const env = daemonEnv({
    ...options.env,
    MENDER_CONF_DIR: layout.confDir,
    MENDER_DATA_DIR: layout.shareDir,
    MENDER_DATASTORE_DIR: layout.datastoreDir,
    DBUS_SYSTEM_BUS_ADDRESS: layout.busAddress,
    PATH: [layout.binDir, process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'].join(delimiter),
  });
  const common = [
    '--config',
    layout.configPath,
    '--datastore',
    layout.datastoreDir,
    '--log-level',
    options.logLevel ?? 'info',
  ];
  const commands: Record<Mender5Process, string[]> = {
    dbus: [
      'dbus-daemon',
      '--config-file',
      layout.dbusConfigPath,
      '--nofork',
      '--nopidfile',
      '--print-address',
    ],
    auth: [join(prefix, 'bin', 'mender-auth'), ...common, 'daemon'],
    update: [join(prefix, 'bin', 'mender-update'), ...common, 'daemon'],
    // Its fallback config would default to /var/lib/mender/mender-connect.conf: point it inside.
    connect: [
      'mender-connect',
      '--config',
      layout.connectConfigPath,
      '--fallback-config',
      join(layout.confDir, 'unused-mender-connect.conf'),
      '--debug',
      'daemon',
    ],
  };
  const order: Mender5Process[] = [
    'dbus',
    'auth',
    'update',
    ...(options.connect === true ? (['connect'] as const) : []),
  ];
  const running = new Map<Mender5Process, DaemonProcess>();
  let starting: Promise<void> | undefined;
  let destroyed = false;

  const launchOne = async (name: Mender5Process): Promise<void> => {
    const logPath = layout.logPaths[name];
    const offset = await fileSize(logPath);
    // `ip netns exec` enters the namespace and execs the command in place: the PID stays the daemon's.
    const command =
      options.netns === undefined
        ? commands[name]
        : ['ip', 'netns', 'exec', options.netns, ...commands[name]];
    const started = await launchProcess(command, env, logPath);
    running.set(name, started);
    if (name === 'connect') return; // it logs nothing stable at start; tests await the tunnel itself
    await waitForLogLine(logPath, READY[name], START_TIMEOUT_MS, {
      fromOffset: offset,
      writerGone: () => started.exitStatus(),
    });
  };

  const stopAll = async (): Promise<void> => {
    for (const name of [...order].reverse()) {
      await running.get(name)?.stop(STOP_GRACE_MS);
      running.delete(name);
    }
  };

  const launch = async (): Promise<void> => {
    try {
      for (const name of order) {
        const current = running.get(name);
        if (current !== undefined && current.exitStatus() === undefined) continue;
        await launchOne(name);
      }
    } catch (error) {
      await stopAll();
      throw error;
    }
  };

  const updateProcess = (): DaemonProcess => {
    const update = running.get('update');
    if (update === undefined || update.exitStatus() !== undefined)
      throw new Error(
        `mender-update of ${options.name} is not running (${update?.exitStatus() ?? 'never started'})`,
      );
    return update;
  };

  const device: Mender5Device = {
    name: options.name,
    dir: layout.dir,
    mac,
    identity,
    publicKeyPem: key.publicKeyPem,
    installedDir: layout.installedDir,
    logPaths: layout.logPaths,
    updatePid: () => updateProcess().pid,
    // The documented `mender-update check-update` finds the daemon through systemctl; the signal
    // is what it sends: https://github.com/mendersoftware/mender/blob/5.1.0/src/mender-update/cli/actions.cpp
    checkUpdate: () => signalIfAlive(updateProcess().pid, 'SIGUSR1'),
    sendInventory: () => signalIfAlive(updateProcess().pid, 'SIGUSR2'),
    waitForLog(name, pattern, timeoutMs, fromOffset = 0) {
      return waitForLogLine(layout.logPaths[name], pattern, timeoutMs, {
        fromOffset,
        writerGone: () => running.get(name)?.exitStatus(),
      });
    },
    logSize: (name) => fileSize(layout.logPaths[name]),
    log: (name) => readFile(layout.logPaths[name], 'utf8').catch(() => ''),
    start() {
      if (destroyed) return Promise.reject(new Error(`device ${options.name} was destroyed`));
      starting ??= launch().finally(() => {
        starting = undefined;
      });
      return starting;
    },
    async stop() {
      await starting?.catch(() => undefined);
      await stopAll();
    },
    async destroy() {
      destroyed = true;
      await device.stop();
      await rm(layout.baseDir, { recursive: true, force: true });
    },
  };

  try {
    await device.start();
  } catch (error) {
    await device.destroy();
    throw error;
  }
  return device;
}
