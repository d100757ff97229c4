/**
 * The functions with the most self time in a V8 CPU profile (`node --cpu-prof`, as
 * `bench/run.ts --cpu-prof DIR` writes them): a table for docs/performance.md without a browser.
 *
 *   npx tsx bench/profile-top.ts <file.cpuprofile | DIR> [--top N] [--skip-ms MS]
 *
 * Given a folder, it reads its largest profile: the serving process's, when a folder also holds
 * small ones of short-lived helper processes.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const args = process.argv.slice(2);
const target = args[0];
if (target === undefined) throw new Error('usage: profile-top <file.cpuprofile | DIR> [--top N]');
const topIndex = args.indexOf('--top');
const top = topIndex === -1 ? 20 : Number(args[topIndex + 1]);
// Leave out the start (module loading, TLS set-up): samples before this many ms.
const skipIndex = args.indexOf('--skip-ms');
const skipUs = skipIndex === -1 ? 0 : Number(args[skipIndex + 1]) * 1000;
const file = statSync(target).isDirectory()
  ? readdirSync(target)
      .filter((name) => name.endsWith('.cpuprofile'))
      .map((name) => join(target, name))
      .sort((a, b) => statSync(b).size - statSync(a).size)[0]
  : target;
if (file === undefined) throw new Error(`no .cpuprofile in ${target}`);
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;

const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const self = new Map<string, number>();
let total = 0;
let elapsed = 0;
for (let i = 0; i < profile.samples.length; i++) {
  const node = byId.get(profile.samples[i]!);
  const dt = profile.timeDeltas[i] ?? 0;
  elapsed += dt;
  if (node === undefined || elapsed < skipUs) continue;
  const { functionName, url, lineNumber } = node.callFrame;
  const where =
    url === ''
      ? ''
      : `${url.replace(/^.*\/(node_modules|dist)\//, '$1/').replace(/^node:/, 'node:')}:${lineNumber + 1}`;
  const name = `${functionName === '' ? '(anonymous)' : functionName} ${where}`.trim();
  self.set(name, (self.get(name) ?? 0) + dt);
  total += dt;
}
const idle = self.get('(idle)') ?? 0;
const busy = total - idle;
const rows = [...self.entries()].filter(([name]) => name !== '(idle)').sort((a, b) => b[1] - a[1]);
console.log(`${basename(file)}: ${(total / 1e6).toFixed(1)} s sampled, ${(busy / 1e6).toFixed(1)} s busy`);
console.log('| # | Function (file:line) | Self ms | % of busy |');
console.log('|---:|---|---:|---:|');
rows.slice(0, top).forEach(([name, us], i) => {
  console.log(`| ${i + 1} | \`${name}\` | ${(us / 1000).toFixed(0)} | ${((us / busy) * 100).toFixed(1)} |`);
});
