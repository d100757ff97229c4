/**
 * How close mender-gw is to the cheapest Node.js server that does the same work (docs/performance.md, "The
 * Node.js floor"). Measures, in one run, alternating:
 *
 *   - node-floor (bench/floor/floor-server.ts): HTTPS, one undici Agent relaying GETs, and
 *     `createReadStream().pipe(res)` for a file; nothing else;
 *   - mender-gw serve, as the main suite runs it (cache, signed links, logging, metrics);
 *
 * on the M1 download case (20 TLS clients, a cached artifact) and the M3 API case (wrk, 50
 * connections; and 1 connection for the latency added over the origin). Pinned like the
 * suite: servers on CPU 0, origin and load on CPU 1.
 *
 *   npx tsx bench/floor.ts [--quick] [--reps N]
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
import { freePort, makeCertificate, pinned, REPO_ROOT, signBenchLink, startMenderGw } from './lib/servers.js';
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
const canPin = existsSync('/usr/bin/taskset') && osCpus().length >= 2;
const serverCpus = canPin ? '0' : undefined;
const loadCpus = canPin ? '1' : undefined;
const wrk = existsSync('/usr/bin/wrk') ? '/usr/bin/wrk' : undefined;
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
    '--import',
    'tsx',
    join(REPO_ROOT, 'bench', 'floor', 'floor-server.ts'),
    String(port),
    originUrl,
    cert.cert,
    cert.key,
    file,
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
  const path = '/api/devices/v1/deviceconfig/configuration';
  for (let rep = 0; rep < reps; rep++) {
    const direct = await runApiLoad(`${origin.url}${path}`, 1, latencySeconds, loadCpus, wrk);
    const order = rep % 2 === 0 ? sides : [...sides].reverse();
    for (const side of order) {
      let cpu = sumCpuSeconds([side.pid]);
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
      cpu = sumCpuSeconds([side.pid]);
      const load = await runApiLoad(`${side.url}${path}`, 50, m3Seconds, loadCpus, wrk);
      note(side.name, 'M3 µs CPU per request', ((sumCpuSeconds([side.pid]) - cpu) / load.requests) * 1e6);
      note(side.name, 'M3 requests/s', load.requestsPerSecond);
      note(side.name, 'M3 errors', load.errors);
      const single = await runApiLoad(`${side.url}${path}`, 1, latencySeconds, loadCpus, wrk);
      note(side.name, 'M3 added latency p50 ms', single.p50Ms - direct.p50Ms);
      log(`rep ${rep + 1} ${side.name} done`);
    }
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
