/**
 * Two builds of mender-gw on one M3 case, alternating A/B and B/A, for a change's before/after on
 * a machine whose load moves (docs/performance.md, "What was tried"). Each build is a folder
 * holding `bin/run.js`, `dist/`, `package.json` and `oclif.manifest.json` (make one with
 * `npm run build && bench/ab-snapshot.sh DIR`, or by hand with `cp -r`).
 *
 *   npx tsx bench/ab.ts <dirA> <dirB> [--case next] [--reps 3] [--seconds 5] [--connections 1]
 *
 * Prints per run requests/s and µs of CPU per request (both of the gateway's processes), then the
 * medians and B ÷ A.
 */
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { runApiLoad } from './lib/clients.js';
import { startOrigin } from './lib/origin.js';
import { makeCertificate, signBenchLink, startMenderGw } from './lib/servers.js';
import { M3_CASES } from './suite.js';
import { sumCpuSeconds } from '../test/support/proc.js';
import { median } from '../test/support/stats.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: string): string => {
  const i = args.indexOf(name);
  return i === -1 ? fallback : (args[i + 1] ?? fallback);
};
const [dirA, dirB] = args;
if (dirA === undefined || dirB === undefined)
  throw new Error('usage: ab <dirA> <dirB> [--case next] [--reps 3]');
const c = M3_CASES.find((m) => m.key === option('--case', 'next'));
if (c === undefined) throw new Error('--case: unknown');
const reps = Number(option('--reps', '3'));
const seconds = Number(option('--seconds', '5'));
// 1 connection: each request is handled alone, so CPU per request does not depend on how many
// requests one event-loop turn batches (which moves with the load core's speed on a busy machine).
const connections = Number(option('--connections', '1'));
const wrk = existsSync('/usr/bin/wrk') ? '/usr/bin/wrk' : undefined;
const pin = existsSync('/usr/bin/taskset');
if (pin) spawnSync('taskset', ['-a', '-p', '-c', '1', String(process.pid)], { stdio: 'ignore' });

const work = await mkdtemp(join(tmpdir(), 'mgw-ab-'));
const results: Record<'A' | 'B', { rps: number[]; us: number[]; syscalls: number[] }> = {
  A: { rps: [], us: [], syscalls: [] },
  B: { rps: [], us: [], syscalls: [] },
};

/** read(2)/write(2)-family calls so far (`/proc/<pid>/io`): a count the machine's load does not move. */
function syscalls(pid: number): number {
  const io = readFileSync(`/proc/${pid}/io`, 'utf8');
  return Number(/^syscr: (\d+)/m.exec(io)?.[1] ?? 0) + Number(/^syscw: (\d+)/m.exec(io)?.[1] ?? 0);
}
const load0 = loadavg()[0] ?? 0;
try {
  await mkdir(join(work, 'files'));
  const origin = await startOrigin(join(work, 'files'), { slowBytesPerSecond: 1 });
  const cert = makeCertificate(work);
  const run = async (label: 'A' | 'B', rep: number): Promise<void> => {
    const dir = join(work, `${label}${rep}`);
    await mkdir(dir);
    const gw = await startMenderGw({
      dir,
      originUrl: origin.url,
      cert,
      cpus: pin ? '0' : undefined,
      sign: signBenchLink,
      deviceSystemId: 'bench-site-1',
      bin: join(resolve(label === 'A' ? dirA : dirB), 'bin', 'run.js'),
    });
    try {
      const url = `${gw.url}${c.path}`;
      await runApiLoad(url, connections, 2, pin ? '1' : undefined, wrk, false, c.request);
      const pid = gw.memoryPids()[0]!;
      const sys0 = syscalls(pid);
      const cpu0 = sumCpuSeconds(gw.pids());
      const r = await runApiLoad(url, connections, seconds, pin ? '1' : undefined, wrk, false, c.request);
      const us = ((sumCpuSeconds(gw.pids()) - cpu0) / r.requests) * 1e6;
      const perRequest = (syscalls(pid) - sys0) / r.requests;
      results[label].syscalls.push(perRequest);
      results[label].rps.push(r.requestsPerSecond);
      results[label].us.push(us);
      console.log(
        `rep ${rep + 1} ${label}: ${r.requestsPerSecond.toFixed(0)} req/s, ${us.toFixed(0)} µs CPU/req, ${perRequest.toFixed(2)} read/write calls/req, errors ${r.errors}`,
      );
    } finally {
      await gw.stop();
    }
  };
  for (let rep = 0; rep < reps; rep++) {
    const order: ('A' | 'B')[] = rep % 2 === 0 ? ['A', 'B'] : ['B', 'A'];
    for (const label of order) await run(label, rep);
  }
  await origin.close();
} finally {
  await rm(work, { recursive: true, force: true });
}
const a = { rps: median(results.A.rps), us: median(results.A.us), sys: median(results.A.syscalls) };
const b = { rps: median(results.B.rps), us: median(results.B.us), sys: median(results.B.syscalls) };
console.log(
  `${c.key}: A ${a.rps.toFixed(0)} req/s ${a.us.toFixed(0)} µs/req; B ${b.rps.toFixed(0)} req/s ${b.us.toFixed(0)} µs/req; B÷A req/s ${(b.rps / a.rps).toFixed(3)}, µs ${(b.us / a.us).toFixed(3)}; read/write calls per request A ${a.sys.toFixed(2)}, B ${b.sys.toFixed(2)}; load average ${load0.toFixed(1)} → ${(loadavg()[0] ?? 0).toFixed(1)}`,
);
