import { chmod, copyFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { launchProcess } from './mender-device/daemon-process.js';
import type { DaemonProcess } from './mender-device/daemon-process.js';
import { fileSize, readTail, waitForLogLine } from './mender-device/log-file.js';
import { REPO_ROOT } from './serve-process.js';

/** The shipped example (docs/operator-guide.md §7), used as is apart from the site's values. */
export const KEEPALIVED_EXAMPLE = join(REPO_ROOT, 'docs/examples/keepalived/keepalived.conf');
export const CHECK_EXAMPLE = join(REPO_ROOT, 'docs/examples/keepalived/mender-gw-check');

/** State changes keepalived logs: `(mender_gw) Entering MASTER STATE`. */
export const VRRP_STATE = {
  master: /\(mender_gw\) Entering MASTER STATE/,
  backup: /\(mender_gw\) Entering BACKUP STATE/,
  fault: /\(mender_gw\) Entering FAULT STATE/,
} as const;

export interface KeepalivedOptions {
  /** Network namespace keepalived runs in (`ip netns exec`). */
  netns: string;
  /** The interface on the shared segment, in that namespace. */
  iface: string;
  /** The floating address and its prefix length. */
  virtualAddress: string;
  prefixLength: number;
  /** A folder of its own, owned by root and not writable by others (enable_script_security). */
  dir: string;
}

export interface Keepalived {
  logPath: string;
  process: DaemonProcess;
  logSize(): Promise<number>;
  waitForLog(pattern: RegExp, timeoutMs: number, fromOffset?: number): Promise<string>;
  tail(lines?: number): Promise<string>;
  stop(): Promise<void>;
}

function replaceOnce(text: string, from: string, to: string): string {
  if (!text.includes(from)) throw new Error(`the shipped keepalived.conf no longer contains ${from}`);
  return text.replaceAll(from, to);
}

/**
 * The shipped keepalived.conf with only the site's values replaced (interface, floating address,
 * path of the check script, a copy of the shipped one), run in the foreground (`-n`, log on
 * stdout `-l`, VRRP only) with pid files of its own, so several instances share one host.
 */
export async function startKeepalived(options: KeepalivedOptions): Promise<Keepalived> {
  const checkPath = join(options.dir, 'mender-gw-check');
  await copyFile(CHECK_EXAMPLE, checkPath);
  await chmod(checkPath, 0o755);
  let conf = await readFile(KEEPALIVED_EXAMPLE, 'utf8');
  conf = replaceOnce(conf, '"/etc/keepalived/mender-gw-check"', JSON.stringify(checkPath));
  conf = replaceOnce(
    conf,
    '192.0.2.10/24 dev eth0',
    `${options.virtualAddress}/${options.prefixLength} dev ${options.iface}`,
  );
  conf = replaceOnce(conf, 'interface eth0', `interface ${options.iface}`);
  const confPath = join(options.dir, 'keepalived.conf');
  await writeFile(confPath, conf, { mode: 0o600 });
  const logPath = join(options.dir, 'keepalived.log');
  const process = await launchProcess(
    [
      'ip',
      'netns',
      'exec',
      options.netns,
      'keepalived',
      '--dont-fork',
      '--log-console',
      '--log-detail',
      '--vrrp',
      '--use-file',
      confPath,
      '--pid',
      join(options.dir, 'keepalived.pid'),
      '--vrrp_pid',
      join(options.dir, 'vrrp.pid'),
    ],
    { PATH: globalThis.process.env.PATH },
    logPath,
  );
  return {
    logPath,
    process,
    logSize: () => fileSize(logPath),
    waitForLog: (pattern, timeoutMs, fromOffset = 0) =>
      waitForLogLine(logPath, pattern, timeoutMs, { fromOffset, writerGone: () => process.exitStatus() }),
    tail: (lines = 40) => readTail(logPath, lines),
    stop: () => process.stop(5_000),
  };
}
