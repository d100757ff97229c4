/**
 * The benchmark suite (docs/performance.md): nginx (TLS caching reverse proxy) vs `mender-gw serve`
 * in front of the same loopback origin, measured in the same run, alternating.
 *
 *   npx tsx bench/run.ts [--quick] [--only M1,M2,...] [--reps N] [--out DIR] [--no-pin] [--cpu-prof DIR]
 *                        [--fleet-devices N] [--m3-cases next,next204,inventory,configuration]
 *
 * Writes bench/results/<timestamp>.json (or DIR) and prints a table. See docs/performance.md.
 */
import { join, resolve } from 'node:path';
import { formatTable, M3_CASES, METRICS, runBench } from './suite.js';
import type { MetricName } from './suite.js';
import { REPO_ROOT } from './lib/servers.js';

interface Args {
  quick: boolean;
  only: MetricName[];
  reps: number | undefined;
  outDir: string;
  pin: boolean;
  cpuProfDir: string | undefined;
  fleetDevices: number | undefined;
  m3Cases: string[] | undefined;
}

function parseArgs(argv: string[]): Args {
  let quick = false;
  let only: MetricName[] = [...METRICS];
  let reps: number | undefined;
  let outDir = join(REPO_ROOT, 'bench', 'results');
  let pin = true;
  let cpuProfDir: string | undefined;
  let fleetDevices: number | undefined;
  let m3Cases: string[] | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = (): string => {
      const next = argv[++i];
      if (next === undefined) throw new Error(`${arg} needs a value`);
      return next;
    };
    if (arg === '--quick') quick = true;
    else if (arg === '--no-pin') pin = false;
    else if (arg === '--only') {
      const names = value()
        .split(',')
        .map((s) => s.trim());
      const unknown = names.filter((n) => !(METRICS as readonly string[]).includes(n));
      if (unknown.length > 0)
        throw new Error(`--only: unknown metric ${unknown.join(', ')} (known: ${METRICS.join(', ')})`);
      only = names as MetricName[];
    } else if (arg === '--reps') {
      reps = Number(value());
      if (!Number.isInteger(reps) || reps < 1) throw new Error('--reps needs a positive integer');
    } else if (arg === '--out') outDir = value();
    else if (arg === '--cpu-prof') cpuProfDir = resolve(value());
    else if (arg === '--m3-cases') {
      m3Cases = value()
        .split(',')
        .map((s) => s.trim());
      const known: readonly string[] = M3_CASES.map((c) => c.key);
      const unknown = m3Cases.filter((c) => !known.includes(c));
      if (unknown.length > 0)
        throw new Error(`--m3-cases: unknown case ${unknown.join(', ')} (known: ${known.join(', ')})`);
    } else if (arg === '--fleet-devices') {
      fleetDevices = Number(value());
      if (!Number.isInteger(fleetDevices) || fleetDevices < 1)
        throw new Error('--fleet-devices needs a positive integer');
    } else throw new Error(`unknown argument ${arg}`);
  }
  return { quick, only, reps, outDir, pin, cpuProfDir, fleetDevices, m3Cases };
}

const args = parseArgs(process.argv.slice(2));
const { result, path } = await runBench({
  quick: args.quick,
  only: args.only,
  reps: args.reps ?? (args.quick ? 1 : 3),
  outDir: args.outDir,
  pin: args.pin,
  cpuProfDir: args.cpuProfDir,
  fleetDevices: args.fleetDevices,
  m3Cases: args.m3Cases,
  log: (line) => console.error(`[bench] ${line}`),
});
console.log(formatTable(result));
console.log(
  `\nnginx: ${result.nginx.available ? (result.nginx.version ?? '') : `SKIPPED — ${result.nginx.reason ?? ''}`}`,
);
console.log(`load: ${result.load.pinning}; API load: ${result.load.api}`);
const fleet = result.metrics.Fleet;
if (fleet.status === 'measured' && fleet.reason !== undefined) console.log(`Fleet: ${fleet.reason}`);
console.log(
  `machine load average (1 min): ${result.machine.loadAverage.start.toFixed(2)} at start, ${result.machine.loadAverage.end.toFixed(2)} at end — anything else running skews the figures`,
);
console.log(`results: ${path}`);
if (result.errors.length > 0) {
  console.error(`errors:\n${result.errors.join('\n')}`);
  process.exitCode = 1;
}
