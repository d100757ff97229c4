/**
 * How close mender-gw is to the cheapest Node.js server that does the same work (docs/performance.md, "The
 * Node.js floor"). Measures, in one run, alternating:
 *
 *   - node-floor (bench/floor/floor-server.ts): HTTPS, one undici Agent relaying, the same
 *     per-request work as mender-gw done minimally (deployments/next parsed, link signed with
 *     HMAC, re-serialised; inventory parsed, one attribute added), and
 *     `createReadStream().pipe(res)` for a file; nothing else;
 *   - mender-gw serve, as the main suite runs it (cache, signed links, DeviceSystem, logging, metrics);
 *
 * on the M1 download case (20 TLS clients, a cached artifact) and the M3 API cases of the suite
 * (wrk, 50 connections; and 1 connection for the latency added over the origin). Pinned like the
 * suite: servers on CPU 0, origin and load on CPU 1.
 *
 *   npx tsx bench/floor.ts [--quick] [--reps N] [--no-m1] [--m3-cases next,next204,inventory,configuration]
 *
 * Prints a table: the floor is what the runtime costs on this machine; mender-gw ÷ floor is what
 * its own features cost. See docs/performance.md, "The Node.js floor".
 */
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { cpus as osCpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { runApiLoad, runDownloads } from './lib/clients.js';
import { startOrigin } from './lib/origin.js';
import { sumCpuSeconds } from '../test/support/proc.js';
import {
  freePort,
  makeCertificate,
  pinned,
  REPO_ROOT,
  SIGNATURE_SECRET,
  signBenchLink,
  startMenderGw,
} from './lib/servers.js';
import { M3_CASES } from './suite.js';
import { PACKAGED_NODE_ARGS } from '../test/support/packaged-node-args.js';
import { GiB, median, MiB } from '../test/support/stats.js';
import { writeRandomFile } from './lib/random-file.js';

interface Side {
  name: 'node-floor' | 'mender-gw';
  url: string;
  pid: number;
  fileUrl: string;
  stop(): Promise<void>;
}

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const repsIndex = args.indexOf('--reps');
const reps = repsIndex === -1 ? (quick ? 1 : 3) : Number(args[repsIndex + 1]);
const fileSize = (quick ? 8 : 64) * MiB;
const m3Seconds = quick ? 2 : 10;
const latencySeconds = quick ? 1 : 5;
const warmUpSeconds = quick ? 1 : 3;
const canPin = existsSync('/usr/bin/taskset') && osCpus().length >= 2;
const serverCpus = canPin ? '0' : undefined;
const loadCpus = canPin ? '1' : undefined;
const wrk = existsSync('/usr/bin/wrk') ? '/usr/bin/wrk' : undefined;
const withM1 = !args.includes('--no-m1');
const casesIndex = args.indexOf('--m3-cases');
const m3Cases = M3_CASES.filter(
  (c) => casesIndex === -1 || (args[casesIndex + 1] ?? '').split(',').includes(c.key),
);
const log = (line: string): void => console.error(`[floor] ${line}`);

if (canPin) spawnSync('taskset', ['-a', '-p', '-c', loadCpus!, String(process.pid)], { stdio: 'ignore' });

async function startFloor(
  work: string,
  originUrl: string,
  cert: { cert: string; key: string },
): Promise<Side> {
  const port = await freePort();
  const file = join(work, 'files', 'small.mender');
  const [command, argv] = pinned(serverCpus, process.execPath, [
    // The V8 settings serve runs with (docs/performance.md, "Runtime settings"): the ratio is then
    // the features' cost, not the semi-space trade-off's.
    ...PACKAGED_NODE_ARGS,
    '--import',
    'tsx',
    join(REPO_ROOT, 'bench', 'floor', 'floor-server.ts'),
    String(port),
    originUrl,
    cert.cert,
    cert.key,
    file,
    SIGNATURE_SECRET,
  ]);
  const child = spawn(command, argv, { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  await once(child.stdout, 'data');
  const url = `https://127.0.0.1:${port}`;
  return {
    name: 'node-floor',
    url,
    pid: child.pid!,
    fileUrl: `${url}/file`,
    async stop() {
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}

const work = await mkdtemp(join(tmpdir(), 'mgw-floor-'));
const rows: Record<string, Record<string, number[]>> = {};
const note = (side: string, metric: string, value: number): void => {
  ((rows[metric] ??= {})[side] ??= []).push(value);
};
try {
  await mkdir(join(work, 'files'));
  await writeRandomFile(join(work, 'files', 'small.mender'), fileSize);
  const origin = await startOrigin(join(work, 'files'), { slowBytesPerSecond: fileSize });
  const cert = makeCertificate(work);
  const gwDir = join(work, 'gw');
  await mkdir(gwDir);
  const gw = await startMenderGw({
    dir: gwDir,
    originUrl: origin.url,
    cert,
    cpus: serverCpus,
    sign: signBenchLink,
    deviceSystemId: 'bench-site-1',
  });
  const sides: Side[] = [
    await startFloor(work, origin.url, cert),
    {
      name: 'mender-gw',
      url: gw.url,
      pid: gw.pids()[0]!,
      fileUrl: gw.artifactUrl('/artifacts/warm/small.mender'),
      stop: () => gw.stop(),
    },
  ];
  // Warm the gateway's cache (and both page caches).
  for (const side of sides) await runDownloads([{ url: side.fileUrl }], loadCpus);
  for (let rep = 0; rep < reps; rep++) {
    const order = rep % 2 === 0 ? sides : [...sides].reverse();
    if (withM1) {
      for (const side of order) {
        const cpu = sumCpuSeconds([side.pid]);
        const downloads = await runDownloads(
          Array.from({ length: 20 }, () => ({ url: side.fileUrl })),
          loadCpus,
        );
        const bytes = downloads.results.reduce((sum, r) => sum + r.bytes, 0);
        const errors = downloads.results.filter((r) => r.status !== 200 || r.bytes !== fileSize).length;
        const start = Math.min(...downloads.results.map((r) => r.startMs));
        const end = Math.max(...downloads.results.map((r) => r.endMs));
        note(side.name, 'M1 CPU-s per GiB', (sumCpuSeconds([side.pid]) - cpu) / (bytes / GiB));
        note(side.name, 'M1 MiB/s', bytes / MiB / ((end - start) / 1000));
        note(side.name, 'M1 errors', errors);
      }
    }
    for (const c of m3Cases) {
      const direct = await runApiLoad(
        `${origin.url}${c.path}`,
        1,
        latencySeconds,
        loadCpus,
        wrk,
        false,
        c.request,
      );
      for (const side of order) {
        const url = `${side.url}${c.path}`;
        await runApiLoad(url, 50, warmUpSeconds, loadCpus, wrk, false, c.request);
        const cpu = sumCpuSeconds([side.pid]);
        const load = await runApiLoad(url, 50, m3Seconds, loadCpus, wrk, false, c.request);
        note(
          side.name,
          `M3 ${c.key} µs CPU per request`,
          ((sumCpuSeconds([side.pid]) - cpu) / load.requests) * 1e6,
        );
        note(side.name, `M3 ${c.key} requests/s`, load.requestsPerSecond);
        note(side.name, `M3 ${c.key} errors`, load.errors);
        const single = await runApiLoad(url, 1, latencySeconds, loadCpus, wrk, false, c.request);
        note(side.name, `M3 ${c.key} added latency p50 ms`, single.p50Ms - direct.p50Ms);
      }
    }
    log(`rep ${rep + 1} done`);
  }
  for (const side of sides) await side.stop();
  await origin.close();
} finally {
  await rm(work, { recursive: true, force: true });
}

const pad = (s: string, n: number): string => s.padEnd(n);
console.log(`${pad('metric', 26)}${pad('node-floor', 12)}${pad('mender-gw', 12)}gw÷floor`);
for (const [metric, bySide] of Object.entries(rows)) {
  const floor = median(bySide['node-floor'] ?? []);
  const gw = median(bySide['mender-gw'] ?? []);
  const fmt = (v: number): string => (Math.abs(v) >= 100 ? v.toFixed(0) : v.toPrecision(3));
  console.log(
    `${pad(metric, 26)}${pad(fmt(floor), 12)}${pad(fmt(gw), 12)}${floor === 0 ? '-' : (gw / floor).toFixed(2)}`,
  );
}
console.log(
  `reps ${reps}; ${fileSize / MiB} MiB file; ${canPin ? 'servers on CPU 0, load on CPU 1' : 'not pinned'}`,
);
