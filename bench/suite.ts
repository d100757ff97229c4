import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { cpus as osCpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DownloadResult, DownloadSpec } from './client/downloads.js';
import { runApiLoad, runDownloads } from './lib/clients.js';
import { runFleetScenario } from './lib/fleet-scenario.js';
import { INVENTORY_BODY, NEXT_REQUEST_BODY, startOrigin } from './lib/origin.js';
import type { ApiRequest } from './lib/clients.js';
import type { Origin } from './lib/origin.js';
import { peakRss, resetPeakRss, rss, sumCpuSeconds } from '../test/support/proc.js';
import {
  ensureNginx,
  makeCertificate,
  REPO_ROOT,
  signBenchLink,
  startMenderGw,
  startNginx,
} from './lib/servers.js';
import type { NginxAvailability, ServerUnderTest } from './lib/servers.js';
import { GiB, medianOf, MiB, ratios } from '../test/support/stats.js';
import { writeRandomFile } from './lib/random-file.js';

export const METRICS = ['M1', 'M2', 'M3', 'M4', 'M5', 'M6', 'Fleet'] as const;
export type MetricName = (typeof METRICS)[number];

export interface BenchOptions {
  quick: boolean;
  only: MetricName[];
  reps: number;
  outDir: string;
  /** Pin the servers to CPU 0 and the load side (clients, origin) to CPU 1 (taskset). */
  pin: boolean;
  /** Write V8 CPU profiles of mender-gw (`node --cpu-prof`) to this folder. */
  cpuProfDir?: string | undefined;
  /** M3: only these cases (keys of {@link M3_CASES}); default all. */
  m3Cases?: string[] | undefined;
  /** Fleet: simulated devices per run (default 2,000; quick 100). */
  fleetDevices?: number | undefined;
  log: (line: string) => void;
}

/**
 * M3's device calls. nginx relays each one as it is (it cannot rewrite or sign a link): its figure
 * is the transport ceiling, not the same work. mender-gw does what it does for devices.
 */
export const M3_CASES = [
  {
    key: 'next',
    name: 'deployments/next 200 (link rewritten and signed)',
    path: '/api/devices/v2/deployments/device/deployments/next',
    request: { method: 'POST', body: NEXT_REQUEST_BODY, contentType: 'application/json' },
    note: 'mender-gw parses the instructions, signs a cache link (HMAC-SHA256) and re-serialises; nginx relays them unchanged',
  },
  {
    key: 'next204',
    name: 'deployments/next 204 (no update)',
    path: '/api/devices/v1/deployments/device/deployments/next',
    request: { method: 'POST', body: NEXT_REQUEST_BODY, contentType: 'application/json' },
    note: 'the poll of a device with nothing to install',
  },
  {
    key: 'inventory',
    name: 'inventory PUT (DeviceSystem injection)',
    path: '/api/devices/v1/inventory/device/attributes',
    request: { method: 'PUT', body: INVENTORY_BODY, contentType: 'application/json' },
    note: 'mender-gw reads the body, adds mender_gateway_system_id and sends it on; nginx streams it',
  },
  {
    key: 'configuration',
    name: 'configuration GET',
    path: '/api/devices/v1/deviceconfig/configuration',
    request: undefined,
    note: 'a bare relay, for comparison',
  },
] as const satisfies readonly {
  key: string;
  name: string;
  path: string;
  request: ApiRequest | undefined;
  note: string;
}[];

/** `direct`: Fleet's baseline, the devices talking to the fake upstream with no gateway in between. */
type Side = 'nginx' | 'direct' | 'mender-gw';
type Numbers = Record<string, number>;

export interface SideResult {
  reps: Numbers[];
  median: Numbers;
  notes?: string[];
}

export interface MetricResult {
  status: 'measured' | 'skipped' | 'not-run';
  reason?: string;
  description: string;
  /** `ratio` is mender-gw ÷ the other side: nginx for M1–M6, `direct` for Fleet. */
  cases: Record<
    string,
    { nginx?: SideResult; direct?: SideResult; 'mender-gw'?: SideResult; ratio: Numbers }
  >;
}

export interface BenchResult {
  startedAt: string;
  finishedAt: string;
  command: string;
  mode: 'quick' | 'full';
  reps: number;
  machine: {
    cpus: number;
    cpuModel: string;
    memoryGiB: number;
    node: string;
    kernel: string;
    /** 1-minute load average at start and end: other work on the machine skews every figure. */
    loadAverage: { start: number; end: number };
  };
  build: { gitHead: string; gitDirty: boolean; distBuiltAt: string | undefined };
  nginx: NginxAvailability & { workers: number };
  load: { pinning: string; downloads: string; api: string };
  sizes: { smallMiB: number; bigMiB: number };
  metrics: Record<MetricName, MetricResult>;
  errors: string[];
}

function sh(command: string, args: string[]): string {
  const out = spawnSync(command, args, { cwd: REPO_ROOT, encoding: 'utf8' });
  return out.status === 0 ? out.stdout.trim() : '';
}

async function sha256Of(path: string, start: number, end: number): Promise<string> {
  const handle = await open(path, 'r');
  try {
    const hash = createHash('sha256');
    const buffer = Buffer.alloc(4 * MiB);
    for (let pos = start; pos <= end;) {
      const { bytesRead } = await handle.read(buffer, 0, Math.min(buffer.length, end - pos + 1), pos);
      if (bytesRead === 0) break;
      hash.update(buffer.subarray(0, bytesRead));
      pos += bytesRead;
    }
    return hash.digest('hex');
  } finally {
    await handle.close();
  }
}

function summariseDownloads(results: DownloadResult[], expectedBytes: number): Numbers {
  const start = Math.min(...results.map((r) => r.startMs));
  const end = Math.max(...results.map((r) => r.endMs));
  const bytes = results.reduce((sum, r) => sum + r.bytes, 0);
  const errors = results.filter(
    (r) => r.error !== undefined || r.status !== 200 || r.bytes !== expectedBytes,
  ).length;
  return {
    throughputMiBps: bytes / MiB / ((end - start) / 1000),
    slowestFirstByteMs: Math.max(...results.map((r) => r.firstByteMs - r.startMs)),
    allFinishedMs: end - start,
    bytesGiB: bytes / GiB,
    errors,
  };
}

/** Run `body` for each side, alternating which goes first per repetition. */
async function alternate(
  servers: ServerUnderTest[],
  rep: number,
  body: (server: ServerUnderTest) => Promise<void>,
): Promise<void> {
  const order = rep % 2 === 0 ? servers : [...servers].reverse();
  for (const server of order) await body(server);
}

export async function runBench(options: BenchOptions): Promise<{ result: BenchResult; path: string }> {
  const { quick, log } = options;
  const startedAt = new Date();
  const loadAtStart = loadavg()[0] ?? 0;
  const reps = options.reps;
  const smallSize = (quick ? 8 : 64) * MiB;
  const bigSize = (quick ? 32 : 512) * MiB;
  const m1Clients = 20;
  const m1BigClients = 4;
  const m2Clients = 50;
  const m3Seconds = quick ? 2 : 10;
  const latencySeconds = quick ? 1 : 5;
  const warmUpSeconds = quick ? 1 : 3;
  const slowSeconds = quick ? 2 : 5;
  const canPin = options.pin && existsSync('/usr/bin/taskset') && osCpus().length >= 2;
  const serverCpus = canPin ? '0' : undefined;
  const loadCpus = canPin ? '1' : undefined;
  const errors: string[] = [];
  const wants = (m: MetricName): boolean => options.only.includes(m);

  const metrics = Object.fromEntries(
    METRICS.map((m) => [m, { status: 'not-run', description: '', cases: {} } satisfies MetricResult]),
  ) as Record<MetricName, MetricResult>;
  metrics.M1.description = `${m1Clients} concurrent TLS downloads of a cached ${smallSize / MiB} MiB artifact${quick ? '' : `, and ${m1BigClients} of a ${bigSize / MiB} MiB one`}`;
  metrics.M2.description = `${m2Clients} clients at once for the same uncached ${smallSize / MiB} MiB artifact (fresh URL per repetition)`;
  metrics.M3.description = `device API calls (deployments/next with a rewritten, signed link; next 204; inventory PUT with DeviceSystem injection; configuration GET relayed), 50 connections for ${m3Seconds} s; 1 connection for ${latencySeconds} s vs the origin directly`;
  metrics.M4.description =
    'Range requests on uncached, cached and partially filled artifacts, bodies compared by SHA-256';
  metrics.M5.description = `peak RSS (VmHWM) of the server during M1 (${smallSize / MiB} MiB and ${bigSize / MiB} MiB) and with one slow client`;
  metrics.M6.description = `the same GET with a new TLS connection per request (Connection: close, full handshake, as Mender 5.x clients call), 50 connections for ${m3Seconds} s`;
  const fleetDevices = options.fleetDevices ?? (quick ? 100 : 2000);
  const fleetTunnels = quick ? 50 : 1000;
  const fleetConcurrency = 200;
  const fleetArtifactBytes = 1 * MiB;
  const fleetInterruptEvery = 20;
  metrics.Fleet.description = `${fleetDevices} simulated mender-client 3.x devices (${Math.min(fleetConcurrency, fleetDevices)} at a time): signed auth → inventory → next → download of a fresh ${fleetArtifactBytes / MiB} MiB artifact (every ${fleetInterruptEvery}th cut halfway, resumed with Range) → status → re-auth → success, through mender-gw vs directly against the fake upstream; and ${fleetTunnels} WebSocket tunnels held open through mender-gw`;
  // Fleet compares with the fake upstream directly, so with only Fleet there is nothing to set up for M1–M5.
  const wantsServers = METRICS.some((m) => m !== 'Fleet' && wants(m));

  if (canPin) {
    // The orchestrator hosts the origin: keep it (and the clients it spawns) off the servers' core.
    spawnSync('taskset', ['-a', '-p', '-c', loadCpus!, String(process.pid)], { stdio: 'ignore' });
  }

  const work = await mkdtemp(join(tmpdir(), 'mgw-bench-'));
  const servers: ServerUnderTest[] = [];
  let origin: Origin | undefined;
  const nginxInfo: NginxAvailability = wantsServers
    ? ensureNginx(log)
    : {
        available: false,
        reason: 'not needed: only Fleet was asked for (it compares with no gateway at all)',
      };
  if (!nginxInfo.available) log(`nginx side SKIPPED: ${nginxInfo.reason ?? 'unknown reason'}`);
  const wrk = existsSync('/usr/bin/wrk') ? '/usr/bin/wrk' : undefined;
  const files = join(work, 'files');
  try {
    const record = (
      metric: MetricName,
      caseName: string,
      side: Side,
      values: Numbers,
      note?: string,
    ): void => {
      const cases = metrics[metric].cases;
      cases[caseName] ??= { ratio: {} };
      const entry = cases[caseName];
      entry[side] ??= { reps: [], median: {} };
      const sideResult = entry[side];
      sideResult.reps.push(values);
      sideResult.median = medianOf(sideResult.reps);
      if (note !== undefined) (sideResult.notes ??= []).push(note);
      entry.ratio = ratios(entry['mender-gw']?.median, (entry.nginx ?? entry.direct)?.median);
    };

    // ------------------------------------------------------------------ Fleet
    // First, while nothing else runs: it starts its own gateway and fake upstream.
    if (wants('Fleet')) {
      try {
        const dir = join(work, 'fleet');
        await mkdir(dir);
        const outcome = await runFleetScenario({
          devices: fleetDevices,
          tunnels: fleetTunnels,
          reps,
          artifactBytes: fleetArtifactBytes,
          concurrency: fleetConcurrency,
          interruptEvery: fleetInterruptEvery,
          dir,
          serverCpus,
          log,
          record: (caseName, side, values, note) => record('Fleet', caseName, side, values, note),
        });
        metrics.Fleet.status = 'measured';
        if (outcome.warnings.length > 0) metrics.Fleet.reason = outcome.warnings.join('; ');
      } catch (error) {
        // A failed Fleet must not cost M1–M5 their run; the error still fails the bench.
        errors.push(error instanceof Error ? (error.stack ?? error.message) : String(error));
        metrics.Fleet.reason = `failed: ${error instanceof Error ? error.message : String(error)}`;
        log(`Fleet failed: ${String(error)}`);
      }
    }

    if (wantsServers) {
      log(`work dir ${work}; writing ${smallSize / MiB} MiB and ${bigSize / MiB} MiB artifacts…`);
      await mkdir(files);
      await writeRandomFile(join(files, 'small.mender'), smallSize);
      if (wants('M1') || wants('M5')) await writeRandomFile(join(files, 'big.mender'), bigSize);
      origin = await startOrigin(files, { slowBytesPerSecond: smallSize / 2 });
      const cert = makeCertificate(work);

      if (nginxInfo.available) {
        const nginxDir = join(work, 'nginx');
        await mkdir(nginxDir);
        servers.push(
          await startNginx({
            binary: nginxInfo.binary!,
            dir: nginxDir,
            originPort: origin.port,
            cert,
            cpus: serverCpus,
          }),
        );
      }
      const gwDir = join(work, 'mender-gw');
      await mkdir(gwDir);
      servers.push(
        await startMenderGw({
          dir: gwDir,
          originUrl: origin.url,
          cert,
          cpus: serverCpus,
          sign: signBenchLink,
          deviceSystemId: 'bench-site-1',
          ...(options.cpuProfDir === undefined
            ? {}
            : { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${options.cpuProfDir}`] }),
        }),
      );
      log(`servers: ${servers.map((s) => `${s.name} ${s.url}`).join(', ')}; origin ${origin.url}`);
    }

    const measure = async (
      server: ServerUnderTest,
      fn: () => Promise<void>,
    ): Promise<{ cpuSeconds: number; peakRssMiB: number; rssReset: boolean }> => {
      const rssReset = server.memoryPids().every((pid) => resetPeakRss(pid));
      const cpu0 = sumCpuSeconds(server.pids());
      await fn();
      const cpuSeconds = sumCpuSeconds(server.pids()) - cpu0;
      const peakRssMiB = server.memoryPids().reduce((sum, pid) => sum + peakRss(pid), 0) / MiB;
      return { cpuSeconds, peakRssMiB, rssReset };
    };

    // ------------------------------------------------------------------ M1 (+ M5 peaks)
    if (wants('M1') || wants('M5')) {
      const cases: { name: string; file: string; size: number; clients: number }[] = [
        { name: `20x${smallSize / MiB}MiB`, file: 'small.mender', size: smallSize, clients: m1Clients },
        { name: `4x${bigSize / MiB}MiB`, file: 'big.mender', size: bigSize, clients: m1BigClients },
      ];
      log('M1: warming both caches…');
      for (const server of servers) {
        for (const c of cases) {
          const warm = await runDownloads(
            [{ url: server.artifactUrl(`/artifacts/warm/${c.file}`) }],
            loadCpus,
          );
          if (warm.results[0]?.bytes !== c.size)
            errors.push(`M1 warm-up on ${server.name} got ${warm.results[0]?.bytes} bytes`);
        }
      }
      await sleep(1000);
      for (let rep = 0; rep < reps; rep++) {
        for (const c of cases) {
          await alternate(servers, rep, async (server) => {
            const url = server.artifactUrl(`/artifacts/warm/${c.file}`);
            let out: { results: DownloadResult[]; clientCpuSeconds: number } | undefined;
            const m = await measure(server, async () => {
              out = await runDownloads(
                Array.from({ length: c.clients }, () => ({ url })),
                loadCpus,
              );
            });
            const summary = summariseDownloads(out!.results, c.size);
            const values = {
              ...summary,
              cpuSecondsPerGiB: m.cpuSeconds / summary.bytesGiB!,
              clientCpuSecondsPerGiB: out!.clientCpuSeconds / summary.bytesGiB!,
              peakRssMiB: m.peakRssMiB,
            };
            record('M1', c.name, server.name, values);
            if (wants('M5')) {
              record(
                'M5',
                `during M1 ${c.name}`,
                server.name,
                { peakRssMiB: m.peakRssMiB },
                m.rssReset ? undefined : 'VmHWM could not be reset: peak since start',
              );
            }
            log(
              `M1 ${c.name} rep ${rep + 1} ${server.name}: ${summary.throughputMiBps!.toFixed(0)} MiB/s, ${values.cpuSecondsPerGiB.toFixed(2)} CPU-s/GiB, slowest first byte ${summary.slowestFirstByteMs!.toFixed(1)} ms, peak RSS ${m.peakRssMiB.toFixed(1)} MiB, errors ${summary.errors}`,
            );
          });
        }
      }
      metrics.M1.status = wants('M1') ? 'measured' : 'not-run';
    }

    // ------------------------------------------------------------------ M5 slow client
    if (wants('M5')) {
      for (let rep = 0; rep < reps; rep++) {
        await alternate(servers, rep, async (server) => {
          const rate = 1 * MiB;
          const url = server.artifactUrl('/artifacts/warm/big.mender');
          const idle = server.memoryPids().reduce((sum, pid) => sum + rss(pid), 0) / MiB;
          const m = await measure(server, async () => {
            await runDownloads([{ url, rateBytesPerSec: rate, maxBytes: rate * slowSeconds }], loadCpus);
          });
          record('M5', `one slow client (1 MiB/s, ${slowSeconds} s) on ${bigSize / MiB} MiB`, server.name, {
            peakRssMiB: m.peakRssMiB,
            idleRssMiB: idle,
          });
          log(
            `M5 slow client rep ${rep + 1} ${server.name}: peak RSS ${m.peakRssMiB.toFixed(1)} MiB (idle ${idle.toFixed(1)} MiB)`,
          );
        });
      }
      metrics.M5.status = 'measured';
    }

    // ------------------------------------------------------------------ M2
    if (wants('M2')) {
      for (let rep = 0; rep < reps; rep++) {
        await alternate(servers, rep, async (server) => {
          const tag = `m2-r${rep}-${server.name}`;
          const url = server.artifactUrl(`/artifacts/${tag}/small.mender`);
          let out: { results: DownloadResult[]; clientCpuSeconds: number } | undefined;
          const m = await measure(server, async () => {
            out = await runDownloads(
              Array.from({ length: m2Clients }, () => ({ url })),
              loadCpus,
            );
          });
          const summary = summariseDownloads(out!.results, smallSize);
          const values = {
            originBytesOverFile: origin!.bytesSent(tag) / smallSize,
            originRequests: origin!.requests(tag),
            slowestFirstByteMs: summary.slowestFirstByteMs!,
            allFinishedMs: summary.allFinishedMs!,
            cpuSeconds: m.cpuSeconds,
            errors: summary.errors!,
          };
          record('M2', `${m2Clients}x${smallSize / MiB}MiB uncached`, server.name, values);
          log(
            `M2 rep ${rep + 1} ${server.name}: origin ${values.originBytesOverFile.toFixed(2)}× file in ${values.originRequests} requests, slowest first byte ${values.slowestFirstByteMs.toFixed(0)} ms, all done ${values.allFinishedMs.toFixed(0)} ms, errors ${values.errors}`,
          );
        });
      }
      metrics.M2.status = 'measured';
    }

    // ------------------------------------------------------------------ M3
    if (wants('M3')) {
      const cases = M3_CASES.filter((c) => options.m3Cases === undefined || options.m3Cases.includes(c.key));
      for (let rep = 0; rep < reps; rep++) {
        for (const c of cases) {
          const direct = await runApiLoad(
            `${origin!.url}${c.path}`,
            1,
            latencySeconds,
            loadCpus,
            wrk,
            false,
            c.request,
          );
          const directLoad = await runApiLoad(
            `${origin!.url}${c.path}`,
            50,
            m3Seconds,
            loadCpus,
            wrk,
            false,
            c.request,
          );
          await alternate(servers, rep, async (server) => {
            // Warm up first: V8 compiles mender-gw's request path lazily, and a cold 2 s quick run
            // charged that to the per-request CPU (nginx has nothing to compile). Both sides get it.
            await runApiLoad(`${server.url}${c.path}`, 50, warmUpSeconds, loadCpus, wrk, false, c.request);
            let load: Awaited<ReturnType<typeof runApiLoad>> | undefined;
            const m = await measure(server, async () => {
              load = await runApiLoad(
                `${server.url}${c.path}`,
                50,
                m3Seconds,
                loadCpus,
                wrk,
                false,
                c.request,
              );
            });
            const single = await runApiLoad(
              `${server.url}${c.path}`,
              1,
              latencySeconds,
              loadCpus,
              wrk,
              false,
              c.request,
            );
            const values = {
              requestsPerSecond: load!.requestsPerSecond,
              p50Ms: load!.p50Ms,
              p99Ms: load!.p99Ms,
              cpuMicrosecondsPerRequest: (m.cpuSeconds / load!.requests) * 1e6,
              errors: load!.errors + single.errors,
              oneConnectionP50Ms: single.p50Ms,
              addedLatencyP50Ms: single.p50Ms - direct.p50Ms,
              originDirectP50Ms: direct.p50Ms,
              originDirect50ConnRps: directLoad.requestsPerSecond,
              peakRssMiB: m.peakRssMiB,
            };
            record('M3', c.name, server.name, values, `load generator: ${load!.tool}; ${c.note}`);
            log(
              `M3 ${c.key} rep ${rep + 1} ${server.name}: ${values.requestsPerSecond.toFixed(0)} req/s, p50 ${values.p50Ms.toFixed(2)} ms, p99 ${values.p99Ms.toFixed(2)} ms, ${values.cpuMicrosecondsPerRequest.toFixed(0)} µs CPU/req, +${(values.addedLatencyP50Ms * 1000).toFixed(0)} µs over origin (1 conn), errors ${values.errors}`,
            );
          });
        }
      }
      metrics.M3.status = 'measured';
    }

    // ------------------------------------------------------------------ M6
    if (wants('M6')) {
      const path = '/api/devices/v1/deviceconfig/configuration';
      if (wrk === undefined) {
        metrics.M6.status = 'skipped';
        metrics.M6.reason = 'needs wrk (apt-get install wrk): the Node load client keeps connections alive';
      } else {
        for (let rep = 0; rep < reps; rep++) {
          await alternate(servers, rep, async (server) => {
            await runApiLoad(`${server.url}${path}`, 50, warmUpSeconds, loadCpus, wrk, true);
            let load: Awaited<ReturnType<typeof runApiLoad>> | undefined;
            const m = await measure(server, async () => {
              load = await runApiLoad(`${server.url}${path}`, 50, m3Seconds, loadCpus, wrk, true);
            });
            const values = {
              handshakesPerSecond: load!.requestsPerSecond,
              p50Ms: load!.p50Ms,
              p99Ms: load!.p99Ms,
              cpuMicrosecondsPerHandshake: (m.cpuSeconds / load!.requests) * 1e6,
              errors: load!.errors,
            };
            record('M6', 'connection per call', server.name, values, `load generator: ${load!.tool}`);
            log(
              `M6 rep ${rep + 1} ${server.name}: ${values.handshakesPerSecond.toFixed(0)} handshakes/s, p50 ${values.p50Ms.toFixed(2)} ms, ${values.cpuMicrosecondsPerHandshake.toFixed(0)} µs CPU each`,
            );
          });
        }
        metrics.M6.status = 'measured';
      }
    }

    // ------------------------------------------------------------------ M4
    if (wants('M4')) {
      const size = smallSize;
      const file = join(files, 'small.mender');
      const ranges: { header: string | undefined; start: number; end: number; status: number }[] = [
        { header: undefined, start: 0, end: size - 1, status: 200 },
        { header: 'bytes=0-0', start: 0, end: 0, status: 206 },
        { header: 'bytes=100-1048675', start: 100, end: 1_048_675, status: 206 },
        { header: 'bytes=1048570-1048585', start: 1_048_570, end: 1_048_585, status: 206 },
        { header: `bytes=${size / 2}-`, start: size / 2, end: size - 1, status: 206 },
        { header: 'bytes=-1000', start: size - 1000, end: size - 1, status: 206 },
        { header: `bytes=${size - 1}-${size + 5000}`, start: size - 1, end: size - 1, status: 206 },
        {
          header: `bytes=${size - 3 * MiB - 7}-${size - MiB + 3}`,
          start: size - 3 * MiB - 7,
          end: size - MiB + 3,
          status: 206,
        },
        { header: `bytes=${size}-`, start: 0, end: -1, status: 416 },
      ];
      const expected = await Promise.all(
        ranges.map((r) => (r.end >= r.start ? sha256Of(file, r.start, r.end) : Promise.resolve(''))),
      );
      const specsFor = (url: string, delayMs: number): DownloadSpec[] =>
        ranges.map((r, i) => ({
          url,
          hash: true,
          delayMs,
          label: String(i),
          ...(r.header === undefined ? {} : { headers: { range: r.header } }),
        }));
      const check = (results: DownloadResult[]): string[] => {
        const failures: string[] = [];
        for (const res of results) {
          if (res.label === 'filler' || res.label === undefined) continue;
          const r = ranges[Number(res.label)]!;
          const what = r.header ?? 'no Range';
          if (res.status !== r.status) failures.push(`${what}: status ${res.status}, expected ${r.status}`);
          else if (r.status === 206 && res.contentRange !== `bytes ${r.start}-${r.end}/${size}`)
            failures.push(`${what}: Content-Range ${res.contentRange ?? 'missing'}`);
          else if (r.status !== 416 && res.sha256 !== expected[Number(res.label)])
            failures.push(`${what}: body differs (${res.bytes} bytes, expected ${r.end - r.start + 1})`);
          else if (res.error !== undefined && r.status !== 416) failures.push(`${what}: ${res.error}`);
        }
        return failures;
      };
      for (let rep = 0; rep < reps; rep++) {
        await alternate(servers, rep, async (server) => {
          const runCase = async (caseName: string, specs: DownloadSpec[]): Promise<void> => {
            const out = await runDownloads(specs, loadCpus);
            const failures = check(out.results);
            record(
              'M4',
              caseName,
              server.name,
              { checks: ranges.length, failures: failures.length },
              failures.length > 0 ? failures.join('; ') : undefined,
            );
            log(
              `M4 ${caseName} rep ${rep + 1} ${server.name}: ${ranges.length - failures.length}/${ranges.length} correct${failures.length > 0 ? ` — ${failures.join('; ')}` : ''}`,
            );
          };
          const uncached = server.artifactUrl(`/artifacts/m4u-r${rep}-${server.name}/small.mender`);
          await runCase('uncached', specsFor(uncached, 0));
          const cachedUrl = server.artifactUrl(`/artifacts/m4c-r${rep}-${server.name}/small.mender`);
          await runDownloads([{ url: cachedUrl }], loadCpus);
          await sleep(500);
          await runCase('cached', specsFor(cachedUrl, 0));
          // Origin sends `slow*` tags at size/2 per second: ranges arrive while the fill is ~1/4 done.
          const partial = server.artifactUrl(`/artifacts/slow-m4p-r${rep}-${server.name}/small.mender`);
          await runCase('partially filled', [{ url: partial, label: 'filler' }, ...specsFor(partial, 500)]);
        });
      }
      metrics.M4.status = 'measured';
    }
  } catch (error) {
    errors.push(error instanceof Error ? (error.stack ?? error.message) : String(error));
    log(`bench failed: ${String(error)}`);
  } finally {
    for (const server of servers) await server.stop().catch(() => undefined);
    await origin?.close();
    await rm(work, { recursive: true, force: true });
  }

  if (!nginxInfo.available) {
    for (const m of METRICS) {
      // Fleet has no nginx side: its comparison is the fake upstream directly.
      if (m !== 'Fleet' && metrics[m].status === 'measured')
        metrics[m].reason = `mender-gw side only: ${nginxInfo.reason ?? ''}`;
    }
  }
  const distIndex = join(REPO_ROOT, 'dist', 'core', 'index.js');
  const result: BenchResult = {
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    command: `npx tsx bench/run.ts ${process.argv.slice(2).join(' ')}`.trim(),
    mode: quick ? 'quick' : 'full',
    reps,
    machine: {
      cpus: osCpus().length,
      cpuModel: osCpus()[0]?.model ?? 'unknown',
      memoryGiB: Math.round(totalmem() / GiB),
      node: process.version,
      kernel: release(),
      loadAverage: { start: loadAtStart, end: loadavg()[0] ?? 0 },
    },
    build: {
      gitHead: sh('git', ['rev-parse', 'HEAD']),
      gitDirty: sh('git', ['status', '--porcelain']) !== '',
      distBuiltAt: existsSync(distIndex) ? statSync(distIndex).mtime.toISOString() : undefined,
    },
    nginx: { ...nginxInfo, workers: 1 },
    load: {
      pinning: canPin
        ? 'servers on CPU 0 (nginx: 1 worker; mender-gw: 1 process), origin and load generators on CPU 1 (taskset)'
        : 'not pinned',
      downloads: 'bench/client/downloads.ts (Node, one process, one TLS connection per download)',
      api:
        wrk !== undefined
          ? 'wrk -t1 (one thread)'
          : 'bench/client/api-load.ts (Node undici Pool, own process)',
    },
    sizes: { smallMiB: smallSize / MiB, bigMiB: bigSize / MiB },
    metrics,
    errors,
  };
  await mkdir(options.outDir, { recursive: true });
  const path = join(options.outDir, `${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
  await writeFile(path, `${JSON.stringify(result, null, 2)}\n`);
  return { result, path };
}

/** The targets in docs/performance.md, as checks on the medians (for the table only; the smoke test has none). */
const TARGETS: Record<string, string> = {
  'M1.throughputMiBps': 'ratio ≥ 1.0',
  'M1.cpuSecondsPerGiB': 'ratio ≤ 1.15',
  'M2.originBytesOverFile': 'gw = 1.00',
  'M2.slowestFirstByteMs': 'gw ≤ 250 ms and ratio ≤ 0.2',
  'M2.allFinishedMs': 'ratio ≤ 1.0',
  'M3.requestsPerSecond': 'ratio ≥ 0.5',
  'M3.addedLatencyP50Ms': 'gw ≤ 0.15 ms',
  'M4.failures': '0',
  'M5.peakRssMiB': 'gw ≤ 100 MiB, same ±10 % for both sizes',
  'M6.handshakesPerSecond': 'ratio ≥ 0.5',
  'Fleet.wallMs': 'ratio ≤ 1.2',
  'Fleet.errors': '0',
  'Fleet.storageBytesOverArtifact': 'gw = 1.00',
};

function fmt(n: number | undefined): string {
  if (n === undefined || !Number.isFinite(n)) return '-';
  const abs = Math.abs(n);
  return abs >= 100 ? n.toFixed(0) : abs >= 10 ? n.toFixed(1) : abs >= 1 ? n.toFixed(2) : n.toFixed(3);
}

export function formatTable(result: BenchResult): string {
  const rows: string[][] = [['metric', 'case', 'value', 'nginx', 'mender-gw', 'gw÷nginx', 'target']];
  for (const name of METRICS) {
    const metric = result.metrics[name];
    if (metric.status !== 'measured') {
      const reason = metric.reason ?? '';
      rows.push([
        name,
        metric.status,
        reason.length > 60 ? `${reason.slice(0, 57)}…` : reason,
        '',
        '',
        '',
        '',
      ]);
      continue;
    }
    // Fleet's comparison is the devices talking to the fake upstream directly, not nginx: say so.
    if (name === 'Fleet') rows.push(['', '', '', 'direct', 'mender-gw', 'gw÷direct', '']);
    for (const [caseName, entry] of Object.entries(metric.cases)) {
      const other = entry.nginx ?? entry.direct;
      const keys = Object.keys(entry['mender-gw']?.median ?? other?.median ?? {});
      for (const key of keys) {
        rows.push([
          name,
          caseName,
          key,
          fmt(other?.median[key]),
          fmt(entry['mender-gw']?.median[key]),
          fmt(entry.ratio[key]),
          TARGETS[`${name}.${key}`] ?? '',
        ]);
      }
    }
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows
    .map((r) =>
      r
        .map((cell, i) => cell.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

export function checkMetricKeys(result: BenchResult): MetricName[] {
  return METRICS.filter((m) => !(m in result.metrics));
}
