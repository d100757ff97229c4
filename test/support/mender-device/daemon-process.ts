import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { MENDER_ETC_DIR, MENDER_SHARE_DIR } from './constants.js';
import type { DeviceLayout } from './device-layout.js';
import { shQuote } from './shell-quote.js';

export interface DaemonProcess {
  pid: number;
  /** Resolves once the process is gone, with e.g. `exited with code 1` / `killed by SIGTERM`. */
  exited: Promise<string>;
  /** Same text as `exited` resolves with, or undefined while the process runs. */
  exitStatus(): string | undefined;
  /** SIGTERM, SIGKILL after `graceMs`; then SIGKILL to what is left of its process group. */
  stop(graceMs: number): Promise<void>;
}

/**
 * The launcher script run inside the new mount namespace. `set -e` makes a failed mount fatal
 * (its message lands in the log) instead of letting a daemon run against the host's paths.
 * `exec` replaces sh by mender, so the PID we hold is the daemon's own.
 *
 * No `--log-file`: 3.4 opens that file with os.Create, i.e. truncates it on every start, which
 * loses the previous run after a restart and breaks byte offsets into the log. Without the flag
 * (and with --no-syslog) it logs to stderr, which we point at the log file opened for append:
 * one file across restarts, and launcher errors and Go panics land in it too.
 */
function launcherScript(layout: DeviceLayout): string {
  const mounts = [
    `mount --bind ${shQuote(layout.etcDir)} ${MENDER_ETC_DIR}`,
    `mount --bind ${shQuote(layout.shareDir)} ${MENDER_SHARE_DIR}`,
    ...(layout.hostsPath === undefined ? [] : [`mount --bind ${shQuote(layout.hostsPath)} /etc/hosts`]),
  ];
  const mender = [
    'exec mender',
    `--config ${shQuote(layout.configPath)}`,
    `--fallback-config ${shQuote(layout.fallbackConfigPath)}`,
    `--data ${shQuote(layout.dataDir)}`,
    '--log-level info --no-syslog daemon',
  ].join(' ');
  return ['set -e', ...mounts, mender].join('\n');
}

function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  return signal === null ? `exited with code ${String(code)}` : `killed by ${signal}`;
}

/** Signal a PID or process group we started; ESRCH just means it is already gone. */
export function signalIfAlive(target: number, signal: NodeJS.Signals): void {
  try {
    process.kill(target, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

/**
 * Starts `setpriv --pdeathsig KILL <command…>` with stdout and stderr appended to `logPath`.
 *
 * setpriv execs the command, so `child.pid` is the command's own PID and receives our signals
 * directly (as long as the command execs in turn, as `unshare` without --fork and `sh -c 'exec …'` do).
 * - `--pdeathsig KILL` (survives the execs) kills the process if the test worker dies without
 *   calling stop(), so no daemon outlives its test run.
 * - `detached` gives it its own process group; stop() finishes with SIGKILL to that group, so
 *   scripts or update modules still running die with it.
 */
export function launchProcess(
  command: string[],
  env: NodeJS.ProcessEnv,
  logPath: string,
): Promise<DaemonProcess> {
  const stdio = openSync(logPath, 'a');
  let child;
  try {
    child = spawn('setpriv', ['--pdeathsig', 'KILL', ...command], {
      detached: true,
      stdio: ['ignore', stdio, stdio],
      env,
    });
  } finally {
    closeSync(stdio);
  }
  // A daemon a test forgot to stop must not keep the worker alive; pdeathsig then cleans up.
  child.unref();
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('spawn', () => {
      const pid = child.pid!;
      let status: string | undefined;
      const exited = new Promise<string>((resolveExit) => {
        child.once('exit', (code, signal) => {
          status = describeExit(code, signal);
          resolveExit(status);
        });
      });
      resolve({
        pid,
        exited,
        exitStatus: () => status,
        async stop(graceMs) {
          if (status === undefined) {
            signalIfAlive(pid, 'SIGTERM');
            const timer = setTimeout(() => signalIfAlive(-pid, 'SIGKILL'), graceMs);
            await exited;
            clearTimeout(timer);
          }
          signalIfAlive(-pid, 'SIGKILL');
        },
      });
    });
  });
}

/**
 * Starts `mender daemon` in a private mount namespace:
 * `setpriv --pdeathsig KILL unshare --mount --propagation private sh -c '<mounts>; exec mender …'`.
 * All of setpriv → unshare → sh → mender is one process (see launchProcess).
 * `--propagation private` keeps the bind mounts from leaking back to the host; they vanish with
 * the namespace when the daemon exits, so nothing needs unmounting.
 */
export function launchDaemon(layout: DeviceLayout, env: NodeJS.ProcessEnv): Promise<DaemonProcess> {
  return launchProcess(
    ['unshare', '--mount', '--propagation', 'private', 'sh', '-c', launcherScript(layout)],
    env,
    layout.logPath,
  );
}
