/**
 * Bounded soak of `mender-gw serve`, outside the default test run:
 *
 *   npm run soak -- [--minutes 10] [--devices 300] [--concurrency 100] [--artifact-kib 1024] [--out FILE]
 *
 * Runs the built gateway (bin/run.js over dist/: `npm run build` first) in front of the fake
 * upstream Mender server, with HTTPS and the artifact cache on, and sends the same simulated
 * fleet through round after round of whole update cycles (signed auth → inventory → next →
 * download, every 10th one cut and resumed with Range → status → success), each round a new
 * artifact and deployment, until the time is up. After every round it records the gateway's
 * resident memory and open file descriptors. It fails (exit 1) when any device cycle failed, a
 * round fetched its artifact from storage more than once, the gateway logged an error, or memory
 * or descriptors did not stay flat (see soak-verdict.ts). Everything runs on loopback.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { startFakeUpstream } from '../support/fake-upstream/index.js';
import { createFleet, runFleet } from '../support/fleet.js';
import { startFleetGateway } from '../support/fleet-gateway.js';
import { REPO_ROOT } from '../support/serve-process.js';
import { openFiles } from '../support/proc.js';
import { judgeSoak } from './soak-verdict.js';
import type { SoakSample, SoakVerdict } from './soak-verdict.js';

interface SoakArgs {
  seconds: number;
  devices: number;
  concurrency: number;
  artifactBytes: number;
  out: string | undefined;
}

interface SoakRound extends SoakSample {
  wallMs: number;
  errors: number;
  succeeded: number;
  storageRequests: number;
  cycleP99Ms: number;
}

interface SoakResult {
  startedAt: string;
  args: SoakArgs;
  rounds: SoakRound[];
  verdict: SoakVerdict;
  failures: string[];
  ok: boolean;
}

const DEVICE_TYPE = 'mgw-soak';
/** A run never goes past this many rounds, whatever the time budget (bounded load, env doc). */
const MAX_ROUNDS = 10_000;

function parseArgs(argv: string[]): SoakArgs {
  const args: SoakArgs = {
    seconds: 600,
    devices: 300,
    concurrency: 100,
    artifactBytes: 1024 * 1024,
    out: undefined,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = (): number => {
      const n = Number(argv[++i]);
      if (!Number.isFinite(n) || n <= 0) throw new Error(`${arg} needs a positive number`);
      return n;
    };
    if (arg === '--minutes') args.seconds = value() * 60;
    else if (arg === '--seconds') args.seconds = value();
    else if (arg === '--devices') args.devices = Math.round(value());
    else if (arg === '--concurrency') args.concurrency = Math.round(value());
    else if (arg === '--artifact-kib') args.artifactBytes = Math.round(value() * 1024);
    else if (arg === '--out') args.out = argv[++i];
    else throw new Error(`unknown argument ${arg} (see the comment at the top of test/soak/run-soak.ts)`);
  }
  return args;
}

/**
 * Descriptors once the round's device connections have closed on the gateway's side too: they
 * close a moment after the devices' own ends, and /proc has no event for it, so read until two
 * reads 100 ms apart agree (at most 5 s).
 */
async function settledFds(pid: number): Promise<number> {
  let last = openFiles(pid);
  for (let i = 0; i < 50; i++) {
    await delay(100);
    const now = openFiles(pid);
    if (now === last) return now;
    last = now;
  }
  return last;
}

async function runSoak(
  args: SoakArgs,
  log: (line: string) => void = (line) => console.error(`[soak] ${line}`),
): Promise<SoakResult> {
  if (!existsSync(join(REPO_ROOT, 'dist', 'commands', 'serve.js')))
    throw new Error('dist/ is missing: run `npm run build` first (the soak runs the built gateway)');
  const startedAt = new Date().toISOString();
  const upstream = await startFakeUpstream({ autoAcceptDevices: true });
  const dir = await mkdtemp(join(tmpdir(), 'mgw-soak-'));
  const failures: string[] = [];
  const rounds: SoakRound[] = [];
  try {
    const [serve, created] = await Promise.all([
      startFleetGateway(upstream, dir, Buffer.alloc(32, 9).toString('base64')),
      createFleet(args.devices),
    ]);
    let fleet = created.fleet;
    log(`gateway pid ${serve.pid}; ${args.devices} devices, ${args.concurrency} at once, ${args.seconds} s`);
    try {
      const deadline = performance.now() + args.seconds * 1000;
      for (let round = 1; round <= MAX_ROUNDS && performance.now() < deadline; round++) {
        const artifact = upstream.addArtifact({
          name: `soak-${round}`,
          deviceTypes: [DEVICE_TYPE],
          data: randomBytes(args.artifactBytes),
        });
        upstream.createDeployment({ artifactId: artifact.id });
        const result = await runFleet({
          baseUrl: serve.urls.https!,
          ca: upstream.pki.ca.certPem,
          devices: fleet,
          concurrency: args.concurrency,
          deviceType: DEVICE_TYPE,
          expectedSha256: (name) => (name === artifact.name ? artifact.sha256 : undefined),
          interruptEvery: 10,
        });
        fleet = result.fleet;
        const storageRequests = upstream.state.storage.perArtifact.get(artifact.id)?.requests ?? 0;
        const sample: SoakRound = {
          round,
          wallMs: result.wallMs,
          errors: result.errors.total,
          succeeded: result.counts.succeeded,
          storageRequests,
          cycleP99Ms: result.latencyMs.cycle.p99,
          fds: await settledFds(serve.pid),
          rssBytes: await serve.rss(),
        };
        rounds.push(sample);
        log(
          `round ${round}: ${sample.succeeded}/${args.devices} ok, ${sample.errors} errors, ` +
            `${storageRequests} storage request(s), ${sample.wallMs} ms (cycle p99 ${sample.cycleP99Ms} ms); ` +
            `RSS ${(sample.rssBytes / 2 ** 20).toFixed(1)} MiB, ${sample.fds} fds`,
        );
        if (sample.errors > 0)
          failures.push(`round ${round}: ${sample.errors} device errors: ${result.errors.first.join(' | ')}`);
        if (sample.succeeded !== args.devices)
          failures.push(`round ${round}: ${sample.succeeded} of ${args.devices} devices reported success`);
        if (storageRequests !== 1)
          failures.push(
            `round ${round}: the artifact was fetched from storage ${storageRequests} times, not once`,
          );
      }
    } finally {
      const errorLines = serve.logs.lines.filter((l) => l.level === 'error' || l.level === 'fatal');
      if (errorLines.length > 0)
        failures.push(
          `the gateway logged ${errorLines.length} error line(s), first: ${JSON.stringify(errorLines[0])}`,
        );
      const code = await serve.stop();
      if (code !== 0) failures.push(`serve exited with ${code} on SIGTERM`);
    }
  } finally {
    await upstream.close();
    await rm(dir, { recursive: true, force: true });
  }
  const verdict = judgeSoak(rounds);
  if (!verdict.flat) failures.push(...verdict.reasons.map((r) => `not flat: ${r}`));
  return { startedAt, args, rounds, verdict, failures, ok: failures.length === 0 };
}

const args = parseArgs(process.argv.slice(2));
const result = await runSoak(args);
const v = result.verdict;
console.log(
  `soak: ${result.rounds.length} rounds of ${args.devices} devices; RSS ${v.rssFirstMiB} → ${v.rssLastMiB} MiB ` +
    `(median, first vs last third); fds ${v.fdsFirstMax} → ${v.fdsLastMax} (max)`,
);
if (args.out !== undefined) await writeFile(args.out, JSON.stringify(result, null, 2));
if (result.ok) console.log('soak: PASSED (no errors; memory and descriptors flat)');
else {
  console.log(`soak: FAILED\n  ${result.failures.join('\n  ')}`);
  process.exitCode = 1;
}
