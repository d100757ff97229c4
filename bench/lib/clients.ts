import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { DownloadResult, DownloadSpec } from '../client/downloads.js';
import { percentile } from '../../test/support/stats.js';
import { pinned, REPO_ROOT } from './servers.js';

const run = promisify(execFile);

/** Run the download client in its own process (pinned to `cpus`). */
export async function runDownloads(
  specs: DownloadSpec[],
  cpus: string | undefined,
): Promise<{ results: DownloadResult[]; clientCpuSeconds: number }> {
  const [command, args] = pinned(cpus, process.execPath, [
    '--import',
    'tsx',
    join(REPO_ROOT, 'bench', 'client', 'downloads.ts'),
    JSON.stringify(specs),
  ]);
  const { stdout } = await run(command, args, { cwd: REPO_ROOT, maxBuffer: 64 * 1024 * 1024 });
  return JSON.parse(stdout) as { results: DownloadResult[]; clientCpuSeconds: number };
}

/** A request other than a bodiless GET, e.g. deployments/next (POST) or an inventory PUT. */
export interface ApiRequest {
  method: 'GET' | 'POST' | 'PUT';
  body?: string;
  contentType?: string;
}

let scriptDir: string | undefined;

/** A wrk Lua script that sends `request` (wrk's `-s`; https://github.com/wg/wrk/blob/master/SCRIPTING). */
function wrkScript(request: ApiRequest): string {
  scriptDir ??= mkdtempSync(join(tmpdir(), 'mgw-wrk-'));
  const lines = [`wrk.method = "${request.method}"`];
  if (request.body !== undefined) lines.push(`wrk.body = [==[${request.body}]==]`);
  if (request.contentType !== undefined) lines.push(`wrk.headers["Content-Type"] = "${request.contentType}"`);
  const path = join(
    scriptDir,
    `${request.method}-${lines.join('').length}-${Math.random().toString(36).slice(2)}.lua`,
  );
  writeFileSync(path, `${lines.join('\n')}\n`);
  return path;
}

export interface ApiLoadResult {
  tool: 'wrk' | 'node-undici';
  requests: number;
  errors: number;
  seconds: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
}

function wrkDuration(text: string): number {
  const match = /^([\d.]+)(us|ms|s|m)$/.exec(text);
  if (match === null) return Number.NaN;
  const value = Number(match[1]);
  const unit = match[2];
  return unit === 'us' ? value / 1000 : unit === 'ms' ? value : unit === 's' ? value * 1000 : value * 60_000;
}

/** Parse `wrk --latency` output. */
export function parseWrk(out: string): Omit<ApiLoadResult, 'tool'> {
  const requestsMatch = /(\d+) requests in ([\d.]+)(ms|s|m)/.exec(out);
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
  const p50 = /^\s+50%\s+(\S+)/m.exec(out);
  const p99 = /^\s+99%\s+(\S+)/m.exec(out);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out);
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const secondsUnit = requestsMatch?.[3];
  const secondsValue = Number(requestsMatch?.[2]);
  const seconds =
    secondsUnit === 'ms' ? secondsValue / 1000 : secondsUnit === 'm' ? secondsValue * 60 : secondsValue;
  const errors =
    Number(non2xx?.[1] ?? 0) +
    (socketErrors === null ? 0 : socketErrors.slice(1).reduce((sum, v) => sum + Number(v), 0));
  return {
    requests: Number(requestsMatch?.[1] ?? Number.NaN),
    errors,
    seconds,
    requestsPerSecond: Number(rps?.[1] ?? Number.NaN),
    p50Ms: wrkDuration(p50?.[1] ?? ''),
    p99Ms: wrkDuration(p99?.[1] ?? ''),
  };
}

/**
 * Closed-loop load on one URL with `connections` keep-alive connections for `seconds`. With
 * `newConnectionPerRequest`, every request says `Connection: close` and wrk opens a new TCP and
 * TLS connection for the next one, with a full handshake (wrk does not resume TLS sessions): the
 * pattern of the current Mender client, which opens a connection per API call
 * (docs/protocol.md §8.4). Only wrk does this; the Node fallback keeps connections alive.
 */
export async function runApiLoad(
  url: string,
  connections: number,
  seconds: number,
  cpus: string | undefined,
  wrk: string | undefined,
  newConnectionPerRequest = false,
  request?: ApiRequest,
): Promise<ApiLoadResult> {
  if (wrk !== undefined) {
    const [command, args] = pinned(cpus, wrk, [
      '-t1',
      `-c${connections}`,
      `-d${seconds}s`,
      '--latency',
      '--timeout',
      '10s',
      ...(newConnectionPerRequest ? ['-H', 'Connection: close'] : []),
      ...(request === undefined ? [] : ['-s', wrkScript(request)]),
      url,
    ]);
    const { stdout } = await run(command, args, { maxBuffer: 4 * 1024 * 1024 });
    return { tool: 'wrk', ...parseWrk(stdout) };
  }
  const [command, args] = pinned(cpus, process.execPath, [
    '--import',
    'tsx',
    join(REPO_ROOT, 'bench', 'client', 'api-load.ts'),
    JSON.stringify({ url, connections, durationMs: seconds * 1000, request }),
  ]);
  const { stdout } = await run(command, args, { cwd: REPO_ROOT, maxBuffer: 64 * 1024 * 1024 });
  const raw = JSON.parse(stdout) as {
    requests: number;
    errors: number;
    seconds: number;
    latenciesMs: number[];
  };
  return {
    tool: 'node-undici',
    requests: raw.requests,
    errors: raw.errors,
    seconds: raw.seconds,
    requestsPerSecond: raw.requests / raw.seconds,
    p50Ms: percentile(raw.latenciesMs, 50),
    p99Ms: percentile(raw.latenciesMs, 99),
  };
}
