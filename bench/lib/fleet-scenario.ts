import { randomBytes } from 'node:crypto';
import { mkdir, open, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { startFakeUpstream } from '../../test/support/fake-upstream/index.js';
import type { FakeState, FakeUpstream } from '../../test/support/fake-upstream/index.js';
import type { FleetRunResult, FleetRunSpec } from '../client/fleet-devices.js';
import { startFleetProcess } from './fleet-process.js';
import type { FleetProcess } from './fleet-process.js';
import { peakRss, resetPeakRss, sumCpuSeconds } from '../../test/support/proc.js';
import { freePort, startMenderGw } from './servers.js';
import type { ServerUnderTest } from './servers.js';
import { MiB } from '../../test/support/stats.js';
import { measureTunnelMemory, openFileLimit } from './tunnel-memory.js';

const DEVICE_TYPE = 'mgw-bench-fleet';
/** Open files besides the tunnels (listeners, logs, cache, pooled upstream connections, tsx). */
const FD_MARGIN = 256;
/** Calls that are not fleet runs (key generation, JWT list) get this long. */
const SHORT_CALL_MS = 60_000;

export type FleetSide = 'direct' | 'mender-gw';

export interface FleetScenarioOptions {
  devices: number;
  /** WebSocket tunnels held open at once for the memory measurement. */
  tunnels: number;
  reps: number;
  artifactBytes: number;
  /** Devices cycling at the same time. */
  concurrency: number;
  /** Every n-th device drops its download halfway once and resumes with Range. */
  interruptEvery: number;
  /** Scratch folder (gateway config, cache, log). */
  dir: string;
  /** CPU(s) for the gateway (taskset), as for the servers of M1–M5. */
  serverCpus: string | undefined;
  log: (line: string) => void;
  record: (caseName: string, side: FleetSide, values: Record<string, number>, note?: string) => void;
}

/** What the scenario could not do as asked (e.g. tunnels skipped for lack of file descriptors). */
export interface FleetScenarioOutcome {
  warnings: string[];
}

/** What one run of the scenario shares between its steps. */
interface FleetContext {
  options: FleetScenarioOptions;
  upstream: FakeUpstream;
  /** The simulated devices, in their own process. */
  fleet: FleetProcess;
  /** The fake upstream's CA: it signed the upstream's, the storage host's and the gateway's certificates. */
  ca: string;
  /** Devices cycling at once. */
  concurrency: number;
  /** Longest a fleet run may take before the bench gives up on it. */
  deadlineMs: number;
  warnings: string[];
}

/**
 * The fake upstream keeps a record of every request; clear the records (never the devices,
 * deployments or counters) between runs so its heap is the same size for every run instead of
 * growing with each one.
 */
function clearRecords(state: FakeState): void {
  state.requests.length = 0;
  state.authRequests.length = 0;
  state.inventoryRequests.length = 0;
  state.nextRequests.length = 0;
  state.statuses.length = 0;
  state.logs.length = 0;
}

function describeErrors(result: FleetRunResult): string {
  return `${result.errors.total} device errors (${JSON.stringify(result.errors.byPhase)}): ${result.errors.first.join('; ')}`;
}

/** Error and fatal lines the gateway logged from byte `from` of its log on. */
async function errorLines(logPath: string, from: number): Promise<{ count: number; first?: string }> {
  const handle = await open(logPath, 'r');
  try {
    const { size } = await handle.stat();
    const buffer = Buffer.alloc(Math.max(0, size - from));
    await handle.read(buffer, 0, buffer.length, from);
    const lines = buffer
      .toString('utf8')
      .split('\n')
      .filter((l) => /"level":"(error|fatal)"/.test(l));
    return { count: lines.length, ...(lines[0] === undefined ? {} : { first: lines[0] }) };
  } finally {
    await handle.close();
  }
}

function runSpec(ctx: FleetContext, baseUrl: string, extra: Partial<FleetRunSpec> = {}): FleetRunSpec {
  return { baseUrl, ca: ctx.ca, concurrency: ctx.concurrency, deviceType: DEVICE_TYPE, ...extra };
}

/**
 * No deployment yet: devices authenticate (auto-accepted the first time), send their inventory
 * and poll (204). Directly, with every device, so that every timed run meets known devices with
 * JWTs; through each fresh gateway with `devices` of them, enough to warm its code paths.
 */
async function warmUp(ctx: FleetContext, baseUrl: string, what: string, devices?: number): Promise<void> {
  const result = await ctx.fleet.run(
    runSpec(ctx, baseUrl, devices === undefined ? {} : { devices }),
    ctx.deadlineMs,
  );
  if (result.errors.total > 0 || result.counts.noUpdate !== result.devices)
    throw new Error(`Fleet warm-up ${what} failed: ${describeErrors(result)}`);
  ctx.options.log(`Fleet warm-up ${what}: ${result.devices} devices polled in ${result.wallMs} ms`);
}

async function tunnelCase(ctx: FleetContext, gw: ServerUnderTest, metricsUrl: string): Promise<void> {
  const { options } = ctx;
  const count = options.tunnels;
  const pid = gw.pids()[0]!;
  // Each tunnel holds two sockets in the gateway (device and upstream) and two in this process.
  const needed = 2 * count + FD_MARGIN;
  const limit = Math.min(openFileLimit(pid), openFileLimit('self'));
  if (limit < needed) {
    const warning = `tunnels not measured: open-file limit ${limit} < ${needed} needed for ${count} tunnels (raise \`ulimit -n\`)`;
    ctx.warnings.push(warning);
    options.log(`Fleet ${warning}`);
    return;
  }
  const jwts = (await ctx.fleet.jwts(SHORT_CALL_MS)).filter((jwt) => jwt !== '');
  if (jwts.length === 0) throw new Error('Fleet tunnels: no device has a JWT after the warm-up');
  const t = await measureTunnelMemory({ gatewayUrl: gw.url, ca: ctx.ca, pid, metricsUrl, jwts, count });
  const notes: string[] = [];
  if (t.errors > 0) notes.push(`tunnel errors: ${t.firstErrors.join('; ')}`);
  if (jwts.length < count)
    notes.push(`${jwts.length} device JWTs for ${count} tunnels: some devices hold several`);
  options.record(
    `${count} WebSocket tunnels open`,
    'mender-gw',
    {
      tunnelsOpen: t.opened,
      // The gateway's own count with them all open: should equal tunnelsOpen.
      tunnelsGaugeOpen: t.gaugeOpen,
      tunnelErrors: t.errors,
      rssPerTunnelKiB: t.rssPerTunnelKiB,
      rssBeforeMiB: t.rssBeforeMiB,
      rssOpenMiB: t.rssOpenMiB,
      fdsPerTunnel: t.fdsPerTunnel,
      tunnelsOpenAfterClose: t.gaugeAfterClose,
      fdsLeftAfterClose: t.fdsLeftAfterClose,
    },
    notes.length > 0 ? notes.join('; ') : undefined,
  );
  options.log(
    `Fleet tunnels: ${t.opened}/${count} open (gauge ${t.gaugeOpen}), RSS ${t.rssBeforeMiB.toFixed(1)} → ${t.rssOpenMiB.toFixed(1)} MiB = ${t.rssPerTunnelKiB.toFixed(1)} KiB per tunnel, ${t.fdsPerTunnel.toFixed(2)} fds per tunnel; after close: gauge ${t.gaugeAfterClose}, fds ${t.fdsLeftAfterClose >= 0 ? '+' : ''}${t.fdsLeftAfterClose}; errors ${t.errors}`,
  );
}

/** One timed fleet run, through the gateway or directly, with its own artifact and deployment. */
async function fleetRun(
  ctx: FleetContext,
  gw: ServerUnderTest,
  side: FleetSide,
  rep: number,
  logPath: string,
): Promise<void> {
  const { options, upstream: up } = ctx;
  const artifact = up.addArtifact({
    name: `fleet-r${rep}-${side}`,
    deviceTypes: [DEVICE_TYPE],
    data: randomBytes(options.artifactBytes),
  });
  const deployment = up.createDeployment({ artifactId: artifact.id });
  clearRecords(up.state);
  const viaGateway = side === 'mender-gw';
  const gwPid = gw.pids()[0]!;
  const rssReset = viaGateway && resetPeakRss(gwPid);
  const gwCpu0 = viaGateway ? sumCpuSeconds(gw.pids()) : 0;
  const logFrom = viaGateway ? (await stat(logPath)).size : 0;
  // This process is the fake upstream during the run (the tunnels are measured before it).
  const upstreamCpu0 = process.cpuUsage();
  const result = await ctx.fleet.run(
    runSpec(ctx, viaGateway ? gw.url : up.url, {
      artifact: { name: artifact.name, sha256: artifact.sha256 },
      interruptEvery: options.interruptEvery,
    }),
    ctx.deadlineMs,
  );
  const upstreamCpu = process.cpuUsage(upstreamCpu0);
  // What the fake upstream itself refused (e.g. 400 for a request body that stalled 3 s, which is
  // what a starved event loop on either side looks like), to tell its refusals from the gateway's.
  const upstreamRefusals = up.state.requests.filter((r) => r.host === 'api' && r.status >= 400).length;
  // Failed devices reported `failure` (best effort); abort so that none can take this deployment
  // up again in a later run.
  up.abortDeployment(deployment.id);
  const storage = up.state.storage.perArtifact.get(artifact.id);
  const values: Record<string, number> = {
    wallMs: result.wallMs,
    errors: result.errors.total,
    devicesSucceeded: result.counts.succeeded,
    upstreamSuccess: [...deployment.devices.values()].filter((s) => s === 'success').length,
    storageBytesOverArtifact: (storage?.bytesSent ?? 0) / artifact.size,
    storageRequests: storage?.requests ?? 0,
    upstreamRefusals,
    resumes: result.counts.resumes,
    cycleP50Ms: result.latencyMs.cycle.p50,
    cycleP99Ms: result.latencyMs.cycle.p99,
    devicesCpuSeconds: result.cpuSeconds,
    upstreamCpuSeconds: (upstreamCpu.user + upstreamCpu.system) / 1e6,
  };
  // CPU-seconds of devices + fake upstream per wall second. Pinned, they share one core: near 1.0
  // the load side, not the server, sets the wall time (docs/performance.md, "Fleet").
  values.loadCoresBusy = (values.devicesCpuSeconds! + values.upstreamCpuSeconds!) / (result.wallMs / 1000);
  const notes: string[] = [];
  if (result.errors.total > 0) notes.push(describeErrors(result));
  if (viaGateway) {
    values.cpuSeconds = sumCpuSeconds(gw.pids()) - gwCpu0;
    values.peakRssMiB = peakRss(gwPid) / MiB;
    const logged = await errorLines(logPath, logFrom);
    values.gatewayErrorLogs = logged.count;
    if (logged.first !== undefined)
      notes.push(`gateway logged ${logged.count} errors, first: ${logged.first}`);
    if (!rssReset) notes.push('VmHWM could not be reset: peak since start');
  }
  options.record(
    `${options.devices} devices, ${options.artifactBytes / MiB} MiB artifact`,
    side,
    values,
    notes.length > 0 ? notes.join('; ') : undefined,
  );
  options.log(
    `Fleet rep ${rep + 1} ${side}: ${result.wallMs} ms wall, ${values.devicesSucceeded}/${options.devices} succeeded, errors ${values.errors}, storage ${values.storageBytesOverArtifact!.toFixed(2)}× artifact in ${values.storageRequests} requests, cycle p50 ${values.cycleP50Ms} ms p99 ${values.cycleP99Ms} ms, ${values.resumes} resumes; CPU-s devices ${values.devicesCpuSeconds!.toFixed(1)}, upstream ${values.upstreamCpuSeconds!.toFixed(1)}${viaGateway ? `, gateway ${values.cpuSeconds!.toFixed(1)}; gateway peak RSS ${values.peakRssMiB!.toFixed(0)} MiB, ${values.gatewayErrorLogs} error lines` : ''}`,
  );
}

/**
 * The Fleet benchmark (docs/performance.md): N simulated mender-client 3.x devices (test/support/fleet.ts:
 * real signed auth
 * requests, inventory, v2 deployments/next, download with some Range resumes checked by SHA-256,
 * status reports, re-auth, success) once through `mender-gw serve` (artifact cache on, HTTPS to
 * devices) and once directly against the fake upstream (test/support/fake-upstream), alternating which
 * goes first, with a fresh artifact and deployment for every run. Then the gateway's memory per
 * open WebSocket tunnel (bench/lib/tunnel-memory.ts).
 *
 * Three processes: the fake upstream in this one, the devices in their own
 * (bench/client/fleet-devices.ts), both on the load core; the gateway on the servers' core. Each
 * repetition starts a fresh gateway, so its tunnel and memory figures start from the same state.
 */
export async function runFleetScenario(options: FleetScenarioOptions): Promise<FleetScenarioOutcome> {
  const { devices, log } = options;
  const fleet = startFleetProcess();
  let upstream: FakeUpstream | undefined;
  try {
    upstream = await startFakeUpstream({ autoAcceptDevices: true });
    const cert = await upstream.pki.issueServer('gateway.fake.test', {
      dns: ['gateway.fake.test'],
      ips: ['127.0.0.1'],
    });
    const { keyMs } = await fleet.create(devices, '02:00:6b', SHORT_CALL_MS);
    const ctx: FleetContext = {
      options,
      upstream,
      fleet,
      ca: upstream.pki.ca.certPem,
      concurrency: Math.min(options.concurrency, devices),
      // Generous (2,000 devices take well under a minute here); it only stops a stuck run.
      deadlineMs: 60_000 + devices * 200,
      warnings: [],
    };
    log(
      `Fleet: ${devices} device keys in ${Math.round(keyMs)} ms (devices pid ${fleet.pid}); fake upstream ${upstream.url}, storage ${upstream.storageUrl}`,
    );
    await warmUp(ctx, upstream.url, 'direct');

    for (let rep = 0; rep < options.reps; rep++) {
      const dir = join(options.dir, `gateway-r${rep}`);
      await mkdir(dir, { recursive: true });
      const metricsPort = await freePort();
      const gw = await startMenderGw({
        dir,
        originUrl: upstream.url,
        originCaPath: upstream.pki.ca.certPath,
        domainWhitelist: [new URL(upstream.storageUrl).hostname],
        cert: { cert: cert.certPath, key: cert.keyPath },
        cpus: options.serverCpus,
        // The tunnel gauge tells when the gateway has really closed every tunnel.
        extraConfig: { Metrics: { Enabled: true, Listen: `127.0.0.1:${metricsPort}` } },
      });
      try {
        await warmUp(ctx, gw.url, `rep ${rep + 1} through a fresh gateway`, 2 * ctx.concurrency);
        await tunnelCase(ctx, gw, `http://127.0.0.1:${metricsPort}/metrics`);
        const order: FleetSide[] = rep % 2 === 0 ? ['direct', 'mender-gw'] : ['mender-gw', 'direct'];
        for (const side of order) await fleetRun(ctx, gw, side, rep, join(dir, 'serve.log'));
      } finally {
        await gw.stop();
      }
    }
    return { warnings: ctx.warnings };
  } finally {
    await fleet.close();
    await upstream?.close();
  }
}
