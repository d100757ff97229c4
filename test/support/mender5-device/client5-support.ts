import { accessSync, constants, statSync } from 'node:fs';
import { join } from 'node:path';
import { findBinary } from '../mender-device/find-binary.js';

/** Where the 5.1 client is installed; `MGW_MENDER5_PREFIX` moves it. */
export function mender5Prefix(): string {
  const fromEnv = process.env.MGW_MENDER5_PREFIX;
  return fromEnv === undefined || fromEnv === '' ? '/opt/mender-client-5' : fromEnv;
}

/** The command that builds the client, as run from the repository root (the shared folder is its sibling). */
export const MENDER5_BUILD_COMMAND = 'bash ../shared/mender-client-5/build.sh /opt/mender-client-5';

export type Mender5Support = { ok: true; prefix: string } | { ok: false; reason: string };

let cached: Mender5Support | undefined;

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function probe(): Mender5Support {
  if (process.platform !== 'linux') return { ok: false, reason: `needs Linux, not ${process.platform}` };
  const prefix = mender5Prefix();
  for (const binary of ['mender-auth', 'mender-update']) {
    if (!isExecutable(join(prefix, 'bin', binary))) {
      return {
        ok: false,
        reason: `${join(prefix, 'bin', binary)} not found (build the Mender 5.1 client with: ${MENDER5_BUILD_COMMAND}, or set MGW_MENDER5_PREFIX)`,
      };
    }
  }
  if (!isDirectory(join(prefix, 'share', 'mender', 'inventory')))
    return { ok: false, reason: `${join(prefix, 'share/mender/inventory')} missing: incomplete 5.1 install` };
  // dbus-daemon: one private bus per device; mender-update reaches mender-auth only over D-Bus.
  const tools: [string, string][] = [
    ['dbus-daemon', 'apt-get install dbus'],
    ['mender-artifact', 'apt-get install mender-artifact'],
    ['setpriv', 'apt-get install util-linux'],
  ];
  for (const [binary, install] of tools) {
    if (findBinary(binary) === undefined)
      return { ok: false, reason: `${binary} not found on PATH (${install})` };
  }
  return { ok: true, prefix };
}

/** Whether Mender 5.1 devices can run here; probed once per process, then cached. */
export function mender5Support(): Mender5Support {
  cached ??= probe();
  return cached;
}
