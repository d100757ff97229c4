import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { PACKAGED_NODE_ARGS } from './packaged-node-args.js';
import { LogCapture } from './log-capture.js';
import { looksLikeCrash, reportCrash } from './crash-guard.js';
import type { LogLine } from './log-capture.js';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const BIN = fileURLToPath(new URL('../../bin/run.js', import.meta.url));

export interface ServeProcess {
  child: ChildProcess;
  pid: number;
  logs: LogCapture;
  stderr: () => string;
  /** URLs from the `listening` log lines, keyed by listener kind. */
  urls: Partial<Record<'http' | 'https', string>>;
  /** Peak resident set size so far (VmHWM), in bytes. */
  peakRss(): Promise<number>;
  rss(): Promise<number>;
  /** Resolves with the exit code (or signal name). */
  exited: Promise<number | string>;
  stop(signal?: NodeJS.Signals): Promise<number | string>;
}

async function procStatus(pid: number, field: 'VmHWM' | 'VmRSS'): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
  if (match?.[1] === undefined) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(match[1]) * 1024;
}

/**
 * Run the built `mender-gw serve` (bin/run.js over dist/) as a child process, the way an
 * operator does (the packaged node flags included), and wait until every configured listener
 * logged `listening`.
 */
export async function startServeProcess(
  configPath: string,
  options: {
    env?: NodeJS.ProcessEnv;
    listeners?: number;
    args?: string[];
    /**
     * Run inside this network namespace (`ip netns exec`, root only). `ip` execs the command in
     * place, so the PID and signals are serve's own. `urls` then name the namespace's own
     * loopback, which the test process cannot reach.
     */
    netns?: string;
  } = {},
): Promise<ServeProcess> {
  // With the node flags of the packaged unit and image, so memory figures are an operator's.
  const command = [
    process.execPath,
    ...PACKAGED_NODE_ARGS,
    BIN,
    'serve',
    '--config',
    configPath,
    ...(options.args ?? []),
  ];
  if (options.netns !== undefined) command.unshift('ip', 'netns', 'exec', options.netns);
  const child = spawn(command[0]!, command.slice(1), {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs = new LogCapture();
  child.stdout.pipe(logs);
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  // Exits the test asked for (stop(), or a config that must be refused before listening) are
  // expected; any other exit of a listening serve is a crash (see crash-guard.ts).
  let listening = false;
  let stopping = false;
  const exited = new Promise<number | string>((resolve) =>
    child.on('exit', (code, signal) => resolve(code ?? signal ?? -1)),
  );
  // 'close' comes after the last stderr bytes, so the report holds Node's whole message.
  child.on('close', (code, signal) => {
    if (listening && !stopping)
      reportCrash(
        `serve (pid ${String(child.pid)}) exited by itself with ${String(code ?? signal)}:\n${stderr}`,
      );
    else if (looksLikeCrash(stderr)) reportCrash(`serve (pid ${String(child.pid)}) crashed:\n${stderr}`);
  });
  const urls: Partial<Record<'http' | 'https', string>> = {};
  const expected = options.listeners ?? 1;
  const ready = new Promise<void>((resolve, reject) => {
    const onLine = (line: LogLine): void => {
      if (line.msg !== 'listening') return;
      const kind = line.listener as 'http' | 'https';
      urls[kind] = `${kind}://127.0.0.1:${String(line.port)}`;
      if (Object.keys(urls).length >= expected) {
        logs.off('line', onLine);
        resolve();
      }
    };
    logs.on('line', onLine);
    void exited.then((code) => reject(new Error(`serve exited with ${code} before listening:\n${stderr}`)));
  });
  await ready;
  listening = true;
  const pid = child.pid!;
  return {
    child,
    pid,
    logs,
    stderr: () => stderr,
    urls,
    peakRss: () => procStatus(pid, 'VmHWM'),
    rss: () => procStatus(pid, 'VmRSS'),
    exited,
    /** Stop serve with `signal` (SIGKILL for a crash test): an exit the test asked for. */
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      stopping = true;
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}
