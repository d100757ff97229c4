import { constants } from 'node:fs';
import { access, readFile, rm } from 'node:fs/promises';
import { DEFAULT_DEVICE_TYPE } from './constants.js';
import { launchDaemon } from './daemon-process.js';
import type { DaemonProcess } from './daemon-process.js';
import { daemonEnv } from './daemon-env.js';
import { generateDeviceKey, publicKeyOfFile } from './device-key.js';
import { allocateDeviceDir, writeDeviceLayout } from './device-layout.js';
import type { DeviceLayout } from './device-layout.js';
import { fileSize, waitForLogLine } from './log-file.js';
import { deriveMac } from './mac-address.js';
import type { MenderDevice, MenderDeviceOptions } from './types.js';

/** Mender 3.4 exits within ~10 ms of SIGTERM; the grace only matters if it hangs. */
const STOP_GRACE_MS = 5_000;
/**
 * From spawn to the first state transition takes ~1 s on this (2-core, busy) machine, ~6 s for
 * 8 devices started at once: CPU-bound TLS setup inside the client (strace shows it loading the
 * system CA folder and ServerCertificate several times; an empty SSL_CERT_DIR did not measurably
 * help). Generous for a loaded CI machine.
 */
const START_TIMEOUT_MS = 15_000;
/** Logged once the daemon has loaded its config and key store and runs its state machine. */
const RUNNING_LINE = /msg="State transition: /;

/** Identity, key and folder contents of a new device. */
async function prepareDevice(
  options: MenderDeviceOptions,
  location: { baseDir: string; dir: string },
): Promise<{ mac: string; identity: Record<string, string>; publicKeyPem: string; layout: DeviceLayout }> {
  const mac = options.mac ?? deriveMac(options.name, location.dir);
  const identity = { mac };
  // The seeded key is written even for mTLS devices (harmless: the client then ignores it).
  const key = await generateDeviceKey(options.keyType ?? 'ec');
  let publicKeyPem = key.publicKeyPem;
  if (options.clientCertificate !== undefined) {
    // 3.4 silently goes without a client certificate it cannot read; fail here instead.
    await access(options.clientCertificate.certPath, constants.R_OK);
    publicKeyPem = await publicKeyOfFile(options.clientCertificate.keyPath);
  }
  const layout = await writeDeviceLayout(
    location,
    { ...options, deviceType: options.deviceType ?? DEFAULT_DEVICE_TYPE },
    identity,
    key.privateKeyPem,
  );
  return { mac, identity, publicKeyPem, layout };
}

/**
 * Prepares a device folder (see device-layout.ts), pre-seeds its key and starts the real
 * `mender daemon` for it. Call destroy() (or stop() and remove `dir`'s parent) when done.
 */
export async function startMenderDevice(options: MenderDeviceOptions): Promise<MenderDevice> {
  const location = await allocateDeviceDir(options.name);
  const { mac, identity, publicKeyPem, layout } = await prepareDevice(options, location).catch(
    async (error: unknown) => {
      await rm(location.baseDir, { recursive: true, force: true });
      throw error;
    },
  );
  const env = daemonEnv(options.env);
  let daemon: DaemonProcess | undefined;
  let starting: Promise<void> | undefined;
  let destroyed = false;

  const launch = async (): Promise<void> => {
    const offset = await fileSize(layout.logPath);
    const started = await launchDaemon(layout, env);
    daemon = started;
    try {
      await waitForLogLine(layout.logPath, RUNNING_LINE, START_TIMEOUT_MS, {
        fromOffset: offset,
        writerGone: () => started.exitStatus(),
      });
    } catch (error) {
      await started.stop(STOP_GRACE_MS);
      throw error;
    }
  };

  const device: MenderDevice = {
    dir: layout.dir,
    mac,
    identity,
    publicKeyPem,
    logPath: layout.logPath,
    installedDir: layout.installedDir,

    start() {
      if (destroyed) return Promise.reject(new Error(`device ${options.name} was destroyed`));
      // Concurrent start() calls share one launch instead of racing two daemons on one folder.
      if (starting !== undefined) return starting;
      if (daemon !== undefined && daemon.exitStatus() === undefined) return Promise.resolve();
      starting = launch().finally(() => {
        starting = undefined;
      });
      return starting;
    },

    async stop() {
      // A launch in flight may not have handed over its process yet: let it finish first.
      await starting?.catch(() => undefined);
      await daemon?.stop(STOP_GRACE_MS);
    },

    async destroy() {
      destroyed = true;
      await device.stop();
      await rm(layout.baseDir, { recursive: true, force: true });
    },

    waitForLog(pattern, timeoutMs, fromOffset = 0) {
      return waitForLogLine(layout.logPath, pattern, timeoutMs, {
        fromOffset,
        writerGone: () => daemon?.exitStatus(),
      });
    },

    logSize: () => fileSize(layout.logPath),

    log: () => readFile(layout.logPath, 'utf8').catch(() => ''),
  };

  try {
    await device.start();
  } catch (error) {
    await device.destroy();
    throw error;
  }
  return device;
}
