/**
 * Packaging: the Dockerfile, the systemd unit, the compose example and the npm tarball.
 *
 * Runs on a plain Debian CI machine: no Docker engine (the Dockerfile is parsed, not built),
 * systemd-analyze when it is installed (hadolint is not packaged for Debian 12), and the npm
 * registry for installing the packed tarball into a throw-away prefix.
 *
 * Never modifies the working tree: other test files run bin/run.js over dist/ in parallel, so
 * the tarball is packed with --ignore-scripts (no prepack rebuild) from the tree as built by
 * `npm test`, and the oclif manifest, when missing or stale, is generated in a temporary copy.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { skipBecause } from '../support/skip-reason.js';
import { execFile, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import { CONFIG_DEFAULTS, ENV_OVERRIDES, loadConfig, parseGoDuration } from '../../src/core/config/index.js';
import { REPO_ROOT, startServeProcess } from '../support/serve-process.js';
import type { ServeProcess } from '../support/serve-process.js';
import { createTestPki } from '../support/test-pki.js';
import type { TestPki } from '../support/test-pki.js';

const execFileAsync = promisify(execFile);

const DOCKERFILE = join(REPO_ROOT, 'Dockerfile');
const DOCKERIGNORE = join(REPO_ROOT, '.dockerignore');
const UNIT = join(REPO_ROOT, 'packaging', 'mender-gw.service');
const ENV_FILE = join(REPO_ROOT, 'packaging', 'mender-gw.default');
const COMPOSE = join(REPO_ROOT, 'packaging', 'docker-compose.yml');
const QUICKSTART = join(REPO_ROOT, 'docs', 'examples', 'quickstart.conf');

/** Where both the image and the systemd unit install the package. */
const INSTALL_DIR = '/opt/mender-gw';
const ALIVE_PATH = '/api/internal/v1/gateway/alive';

/** Every configuration variable name the gateway reads (Mender Gateway's names and our extensions). */
const CONFIG_ENV_NAMES = new Set(
  ENV_OVERRIDES.flatMap((o) => [o.env, ...(o.aliases ?? []).map((a) => a.env)]),
);
/** Environment-only names that are not configuration keys. */
const OTHER_ENV_NAMES = new Set([
  'HTTP_PROXY',
  'HTTPS_PROXY',
  'NO_PROXY',
  'NODE_OPTIONS',
  'NODE_ENV',
  'MGW_HEALTHCHECK_URL',
]);

/** An environment with no configuration variable of the calling shell, as an operator's clean shell. */
function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: process.env.HOME, LANG: 'C.UTF-8', ...extra };
}

// ---------------------------------------------------------------------------------------------
// Dockerfile
// ---------------------------------------------------------------------------------------------

interface Instruction {
  line: number;
  keyword: string;
  args: string;
}

interface Stage {
  from: string;
  name: string | undefined;
  instructions: Instruction[];
}

/** Dockerfile → instructions (continuations joined, comments and parser directives dropped). */
function parseDockerfile(text: string): { preamble: Instruction[]; stages: Stage[] } {
  const instructions: Instruction[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const first = lines[i]!;
    if (/^\s*(#.*)?$/.test(first)) continue;
    const start = i + 1;
    let joined = first;
    while (joined.endsWith('\\') && i + 1 < lines.length) {
      i++;
      const next = lines[i]!;
      if (/^\s*#/.test(next)) continue; // comment lines inside a continuation are dropped
      joined = `${joined.slice(0, -1)} ${next.trim()}`;
    }
    const match = /^\s*([A-Za-z]+)\s+(.*)$/.exec(joined.trim());
    if (match === null) throw new Error(`Dockerfile line ${start}: cannot parse ${JSON.stringify(joined)}`);
    instructions.push({ line: start, keyword: match[1]!.toUpperCase(), args: match[2]!.trim() });
  }
  const preamble: Instruction[] = [];
  const stages: Stage[] = [];
  for (const ins of instructions) {
    if (ins.keyword === 'FROM') {
      const m = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args);
      if (m === null) throw new Error(`Dockerfile line ${ins.line}: cannot parse FROM ${ins.args}`);
      stages.push({ from: m[1]!, name: m[2], instructions: [] });
    } else if (stages.length === 0) {
      preamble.push(ins);
    } else {
      stages[stages.length - 1]!.instructions.push(ins);
    }
  }
  return { preamble, stages };
}

function argDefaults(preamble: Instruction[]): Map<string, string> {
  const args = new Map<string, string>();
  for (const ins of preamble.filter((i) => i.keyword === 'ARG')) {
    const [name, value] = ins.args.split('=', 2);
    if (name !== undefined && value !== undefined) args.set(name.trim(), value.trim());
  }
  return args;
}

function expand(image: string, args: Map<string, string>): string {
  return image.replace(
    /\$\{(\w+)\}|\$(\w+)/g,
    (_, a: string | undefined, b: string | undefined) => args.get((a ?? b)!) ?? '',
  );
}

/** ENV instructions of a stage → name/value pairs (`ENV A=1 B=2` and legacy `ENV A 1`). */
function envOf(stage: Stage): Map<string, string> {
  const env = new Map<string, string>();
  for (const ins of stage.instructions.filter((i) => i.keyword === 'ENV')) {
    if (!ins.args.includes('=')) {
      const [name, ...rest] = ins.args.split(/\s+/);
      env.set(name!, rest.join(' '));
      continue;
    }
    for (const m of ins.args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("(?:[^"\\]|\\.)*"|\S*)/g)) {
      env.set(m[1]!, m[2]!.replace(/^"(.*)"$/, '$1'));
    }
  }
  return env;
}

function execForm(args: string): string[] {
  const parsed: unknown = JSON.parse(args);
  if (!Array.isArray(parsed) || !parsed.every((a) => typeof a === 'string'))
    throw new Error(`not an exec-form array: ${args}`);
  return parsed;
}

/** The node one-liner of the image's HEALTHCHECK. */
function healthcheckScript(runtime: Stage): string {
  const hc = runtime.instructions.find((i) => i.keyword === 'HEALTHCHECK');
  if (hc === undefined) throw new Error('no HEALTHCHECK');
  const cmd = /\bCMD\s+(\[.*\])\s*$/.exec(hc.args);
  if (cmd === null) throw new Error(`HEALTHCHECK is not in exec form: ${hc.args}`);
  const argv = execForm(cmd[1]!);
  expect(argv.slice(0, 2)).toEqual(['node', '-e']);
  return argv[2]!;
}

function runHealthcheck(script: string, url: string | undefined): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', script], {
      env: cleanEnv(url === undefined ? {} : { MGW_HEALTHCHECK_URL: url }),
      stdio: 'ignore',
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code ?? -1);
    });
  });
}

describe('Dockerfile', () => {
  let dockerfile: { preamble: Instruction[]; stages: Stage[] };
  let runtime: Stage;
  let args: Map<string, string>;

  beforeAll(async () => {
    dockerfile = parseDockerfile(await readFile(DOCKERFILE, 'utf8'));
    runtime = dockerfile.stages[dockerfile.stages.length - 1]!;
    args = argDefaults(dockerfile.preamble);
  });

  it('is multi-stage: npm ci and build with the oclif manifest, then a runtime with production dependencies only', () => {
    expect(dockerfile.stages.length).toBeGreaterThanOrEqual(2);
    const build = dockerfile.stages.find((s) => s.name === 'build');
    expect(build, 'a stage named "build"').toBeDefined();
    const buildRuns = build!.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args);
    expect(buildRuns.some((r) => /\bnpm ci\b/.test(r) && !r.includes('--omit=dev'))).toBe(true);
    expect(buildRuns.some((r) => r.includes('npm run build'))).toBe(true);
    expect(buildRuns.some((r) => /\boclif manifest\b/.test(r))).toBe(true);

    expect(runtime.name).not.toBe('build');
    const runtimeRuns = runtime.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args);
    expect(runtimeRuns.some((r) => /\bnpm ci\b.*--omit=dev/.test(r))).toBe(true);
    const copies = runtime.instructions.filter((i) => i.keyword === 'COPY').map((i) => i.args);
    expect(copies.some((c) => c.startsWith('--from=build') && /\/dist\s/.test(c))).toBe(true);
    expect(copies.some((c) => c.startsWith('--from=build') && c.includes('oclif.manifest.json'))).toBe(true);
    expect(copies.some((c) => /^bin\/run\.js\s/.test(c))).toBe(true);
    expect(runtime.instructions.find((i) => i.keyword === 'WORKDIR')?.args).toBe(INSTALL_DIR);
  });

  it('pins every base image by digest, never by "latest", on Node 20 (the engines floor)', () => {
    for (const stage of dockerfile.stages) {
      if (dockerfile.stages.some((s) => s.name === stage.from)) continue; // FROM <earlier stage>
      const image = expand(stage.from, args);
      expect(image, `FROM ${stage.from}`).toMatch(/^[\w./-]+:[\w.-]+@sha256:[0-9a-f]{64}$/);
      expect(image).toMatch(/^node:20[.\w-]*@/);
      expect(image).not.toMatch(/:latest\b/);
    }
    expect(
      dockerfile.preamble
        .concat(...dockerfile.stages.map((s) => s.instructions))
        .some((i) => /:latest\b/.test(i.args)),
    ).toBe(false);
  });

  it('runs as a non-root user, set before ENTRYPOINT', () => {
    const users = runtime.instructions.filter((i) => i.keyword === 'USER');
    expect(users.length).toBeGreaterThan(0);
    const user = users[users.length - 1]!;
    expect(user.args.split(':')[0]).not.toMatch(/^(root|0)$/);
    const entrypoint = runtime.instructions.find((i) => i.keyword === 'ENTRYPOINT');
    expect(entrypoint).toBeDefined();
    expect(user.line).toBeLessThan(entrypoint!.line);
  });

  it('runs `serve` from the install path, exposes 8443 and 9102, and keeps config and cache on volumes', async () => {
    const entrypoint = runtime.instructions.find((i) => i.keyword === 'ENTRYPOINT')!;
    expect(execForm(entrypoint.args)).toEqual([
      'node',
      '--max-semi-space-size=2',
      `${INSTALL_DIR}/bin/run.js`,
      'serve',
    ]);
    const pkg = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as {
      bin: Record<string, string>;
    };
    expect(pkg.bin['mender-gw']).toBe('./bin/run.js');

    const exposed = runtime.instructions
      .filter((i) => i.keyword === 'EXPOSE')
      .flatMap((i) => i.args.split(/\s+/));
    expect(exposed).toEqual(expect.arrayContaining(['8443', '9102']));

    const volumes = runtime.instructions
      .filter((i) => i.keyword === 'VOLUME')
      .flatMap((i) => (i.args.startsWith('[') ? execForm(i.args) : i.args.split(/\s+/)));
    expect(volumes).toContain(CONFIG_DEFAULTS.cachePath);
    expect(volumes).toContain('/etc/mender');
    expect(
      runtime.instructions.some(
        (i) => i.keyword === 'RUN' && i.args.includes(`chown node:node ${CONFIG_DEFAULTS.cachePath}`),
      ),
    ).toBe(true);
  });

  it('sets no configuration variable: the mounted file must stay authoritative', () => {
    // An image-level HTTPS_LISTEN would override the file and turn HTTPS on for HTTP-only configs.
    const env = envOf(runtime);
    for (const name of env.keys()) expect(CONFIG_ENV_NAMES.has(name), `ENV ${name}`).toBe(false);
    expect(env.get('NODE_ENV')).toBe('production');
  });

  it('has a HEALTHCHECK on the alive endpoint with a node one-liner (no curl in slim images)', () => {
    const hc = runtime.instructions.find((i) => i.keyword === 'HEALTHCHECK');
    expect(hc).toBeDefined();
    expect(hc!.args).not.toMatch(/\b(curl|wget)\b/);
    expect(envOf(runtime).get('MGW_HEALTHCHECK_URL')).toBe(`https://127.0.0.1:8443${ALIVE_PATH}`);
    expect(healthcheckScript(runtime)).toContain(ALIVE_PATH);
  });

  it('.dockerignore is an allow-list that admits every file the Dockerfile copies from the context', async () => {
    const patterns = (await readFile(DOCKERIGNORE, 'utf8'))
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('#'));
    expect(patterns[0]).toBe('*');
    const allowed = patterns.filter((p) => p.startsWith('!')).map((p) => p.slice(1).replace(/\/$/, ''));
    const sources = dockerfile.stages
      .flatMap((s) => s.instructions)
      .filter((i) => i.keyword === 'COPY' && !i.args.startsWith('--from='))
      .flatMap((i) => i.args.split(/\s+/).slice(0, -1));
    expect(sources.length).toBeGreaterThan(0);
    for (const source of sources) {
      const path = source.replace(/\/$/, '');
      expect(existsSync(join(REPO_ROOT, path)), `COPY source ${path} exists`).toBe(true);
      expect(
        allowed.some((a) => path === a || path.startsWith(`${a}/`)),
        `COPY source ${path} is admitted by .dockerignore`,
      ).toBe(true);
    }
  });

  describe('HEALTHCHECK one-liner against a running gateway', () => {
    let pki: TestPki;
    let dir: string;
    let gateway: ServeProcess | undefined;

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'mender-gw-packaging-hc-'));
      pki = await createTestPki();
      const server = await pki.issueServer('gateway', { ips: ['127.0.0.1'] });
      const config = join(dir, 'mender-gateway.conf');
      await writeFile(
        config,
        JSON.stringify({
          UpstreamServer: { URL: 'https://127.0.0.1:9' },
          HTTP: { Enabled: true, Listen: '127.0.0.1:0' },
          HTTPS: {
            Enabled: true,
            Listen: '127.0.0.1:0',
            ServerCertificate: server.certPath,
            ServerKey: server.keyPath,
          },
        }),
      );
      gateway = await startServeProcess(config, { listeners: 2 });
    });

    afterAll(async () => {
      await gateway?.stop();
      await pki.cleanup();
      await rm(dir, { recursive: true, force: true });
    });

    it('reports healthy over HTTPS (certificate not checked) and HTTP, unhealthy when nothing listens', async () => {
      const script = healthcheckScript(runtime);
      expect(await runHealthcheck(script, `${gateway!.urls.https!}${ALIVE_PATH}`)).toBe(0);
      expect(await runHealthcheck(script, `${gateway!.urls.http!}${ALIVE_PATH}`)).toBe(0);
      // A path that is not the alive endpoint answers 404: unhealthy.
      expect(await runHealthcheck(script, `${gateway!.urls.http!}/api/internal/v1/gateway/nope`)).toBe(1);
      const port = new URL(gateway!.urls.http!).port;
      await gateway!.stop();
      expect(await runHealthcheck(script, `http://127.0.0.1:${port}${ALIVE_PATH}`)).toBe(1);
    });
  });
});

// ---------------------------------------------------------------------------------------------
// systemd unit and its environment file
// ---------------------------------------------------------------------------------------------

/** A unit file → section → key → values (keys may repeat). */
function parseUnit(text: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const section = /^\[(.+)\]$/.exec(line);
    if (section !== null) {
      current = new Map();
      sections.set(section[1]!, current);
      continue;
    }
    const eq = line.indexOf('=');
    if (current === undefined || eq < 0) throw new Error(`unit: unexpected line ${JSON.stringify(line)}`);
    const key = line.slice(0, eq).trim();
    current.set(key, [...(current.get(key) ?? []), line.slice(eq + 1).trim()]);
  }
  return sections;
}

function systemdAnalyzeAvailable(): boolean {
  return spawnSync('systemd-analyze', ['--version'], { stdio: 'ignore' }).status === 0;
}

describe('systemd unit packaging/mender-gw.service', () => {
  let unit: Map<string, Map<string, string[]>>;
  const service = (key: string): string | undefined => unit.get('Service')?.get(key)?.at(-1);

  beforeAll(async () => {
    unit = parseUnit(await readFile(UNIT, 'utf8'));
  });

  it('starts serve from the install path with the Mender config path, as a dedicated user', () => {
    expect(service('Type')).toBe('exec');
    expect(service('User')).toBe('mender-gw');
    expect(service('ExecStart')).toBe(
      `/usr/bin/node --max-semi-space-size=2 ${INSTALL_DIR}/bin/run.js serve --config /etc/mender/mender-gateway.conf`,
    );
    expect(service('EnvironmentFile')).toBe('-/etc/default/mender-gw');
    expect(unit.get('Install')?.get('WantedBy')).toEqual(['multi-user.target']);
    expect(unit.get('Unit')?.get('After')?.join(' ')).toContain('network-online.target');
  });

  it('owns the default cache directory and keeps it writable under ProtectSystem=strict', () => {
    expect(service('CacheDirectory')).toBe(basename(CONFIG_DEFAULTS.cachePath));
    expect(`/var/cache/${service('CacheDirectory')!}`).toBe(CONFIG_DEFAULTS.cachePath);
    expect(service('ReadWritePaths')?.replace(/^-/, '')).toBe(CONFIG_DEFAULTS.cachePath);
  });

  it('is hardened', () => {
    const expected: Record<string, string> = {
      AmbientCapabilities: 'CAP_NET_BIND_SERVICE',
      CapabilityBoundingSet: 'CAP_NET_BIND_SERVICE',
      NoNewPrivileges: 'yes',
      ProtectSystem: 'strict',
      ProtectHome: 'yes',
      PrivateTmp: 'yes',
      PrivateDevices: 'yes',
      ProtectKernelTunables: 'yes',
      ProtectKernelModules: 'yes',
      ProtectKernelLogs: 'yes',
      ProtectControlGroups: 'yes',
      RestrictAddressFamilies: 'AF_INET AF_INET6 AF_UNIX',
      LimitNOFILE: '65536',
      Restart: 'on-failure',
    };
    for (const [key, value] of Object.entries(expected)) expect(service(key), key).toBe(value);
    // V8's JIT needs writable+executable pages: this option would crash node.
    expect(service('MemoryDenyWriteExecute')).not.toBe('yes');
  });

  it('waits longer than ShutdownGracePeriod before SIGKILL', () => {
    const stopSeconds = Number(service('TimeoutStopSec'));
    expect(stopSeconds).toBeGreaterThan(parseGoDuration(CONFIG_DEFAULTS.shutdownGracePeriod) / 1000);
    expect(service('KillSignal') ?? 'SIGTERM').toBe('SIGTERM');
  });

  it('the environment file example names only variables the gateway (or node) reads', async () => {
    const text = await readFile(ENV_FILE, 'utf8');
    const names: string[] = [];
    for (const raw of text.split('\n')) {
      const line = raw.trim();
      if (line === '') continue;
      const assignment = /^#?([A-Z][A-Z0-9_]*)=/.exec(line);
      if (assignment !== null) names.push(assignment[1]!);
      else expect(line.startsWith('#'), `not a comment or KEY=value: ${line}`).toBe(true);
    }
    expect(names).toContain('ARTIFACTS_PROXY_CACHE_SECRET');
    for (const name of names)
      expect(CONFIG_ENV_NAMES.has(name) || OTHER_ENV_NAMES.has(name), name).toBe(true);
  });

  it.skipIf(
    skipBecause(
      !systemdAnalyzeAvailable(),
      'systemd-analyze verify',
      'systemd-analyze is not installed; the unit is still checked by parsing',
    ),
  )('passes `systemd-analyze verify`', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mender-gw-unit-'));
    try {
      let text = await readFile(UNIT, 'utf8');
      // verify checks that ExecStart's binary exists; CI's node may live elsewhere than /usr/bin.
      if (!existsSync('/usr/bin/node'))
        text = text.replace('ExecStart=/usr/bin/node ', `ExecStart=${process.execPath} `);
      const copy = join(dir, 'mender-gw.service');
      await writeFile(copy, text);
      const result = spawnSync('systemd-analyze', ['verify', '--man=no', copy], { encoding: 'utf8' });
      const output = `${result.stdout}${result.stderr}`;
      // Lines about our file are findings (unknown keys and bad values only warn, exit 0).
      const findings = output.split('\n').filter((l) => l.includes('mender-gw.service'));
      expect(findings).toEqual([]);
      if (result.status !== 0) {
        console.warn(
          `systemd-analyze verify exited ${String(result.status)} for reasons outside the unit:\n${output}`,
        );
      }

      // Exposure score (systemd ≥ 250 can rate a unit file offline); lower is better, 10 is none.
      const security = spawnSync('systemd-analyze', ['security', '--offline=yes', '--no-pager', copy], {
        encoding: 'utf8',
      });
      const score = /Overall exposure level for mender-gw\.service: ([\d.]+)/.exec(
        `${security.stdout}${security.stderr}`,
      );
      if (score === null)
        console.warn('systemd-analyze security --offline is not supported here; exposure not rated');
      else expect(Number(score[1])).toBeLessThanOrEqual(3);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

// ---------------------------------------------------------------------------------------------
// docker-compose example
// ---------------------------------------------------------------------------------------------

/** The `environment:` mapping of the compose file's only service (flat `KEY: value` lines). */
function composeEnvironment(text: string): Record<string, string> {
  const lines = text.split('\n');
  const start = lines.findIndex((l) => /^\s+environment:\s*$/.test(l));
  if (start < 0) throw new Error('no environment: block');
  const indent = /^(\s*)/.exec(lines[start]!)![1]!.length;
  const env: Record<string, string> = {};
  for (const line of lines.slice(start + 1)) {
    if (/^\s*(#.*)?$/.test(line)) continue;
    if (/^(\s*)/.exec(line)![1]!.length <= indent) break;
    const m = /^\s+([A-Z][A-Z0-9_]*):\s*(.*?)\s*$/.exec(line);
    if (m === null) throw new Error(`compose environment: cannot parse ${JSON.stringify(line)}`);
    env[m[1]!] = m[2]!.replace(/^'(.*)'$/, '$1').replace(/^"(.*)"$/, '$1');
  }
  return env;
}

describe('packaging/docker-compose.yml', () => {
  it('configures the gateway from the environment alone, with a configuration the gateway accepts', async () => {
    const text = await readFile(COMPOSE, 'utf8');
    const env = composeEnvironment(text);
    for (const key of [
      'UPSTREAM_SERVER_URL',
      'HTTPS_ENABLED',
      'HTTPS_LISTEN',
      'HTTPS_SERVER_CERTIFICATE',
      'HTTPS_SERVER_KEY',
    ]) {
      expect(env, key).toHaveProperty(key);
    }
    expect(Object.keys(env).filter((k) => k.startsWith('ARTIFACTS_PROXY_')).length).toBeGreaterThanOrEqual(3);
    for (const name of Object.keys(env))
      expect(CONFIG_ENV_NAMES.has(name) || OTHER_ENV_NAMES.has(name), name).toBe(true);

    // Compose interpolates ${VAR:?message} from .env; give it the value an operator would.
    const secret = randomBytes(32).toString('base64');
    const resolved = Object.fromEntries(
      Object.entries(env).map(([k, v]) => [k, v.replace(/\$\{[A-Z_]+:\?[^}]*\}/, secret)]),
    );
    const dir = await mkdtemp(join(tmpdir(), 'mender-gw-compose-'));
    try {
      const empty = join(dir, 'empty.conf');
      await writeFile(empty, '{}\n');
      const { config, warnings } = await loadConfig({
        path: empty,
        env: resolved,
        checkFiles: false,
        cwd: dir,
      });
      // Valid (loadConfig throws otherwise) and without a single warning.
      expect(warnings.map((w) => `${w.path}: ${w.message}`)).toEqual([]);
      expect(config.https.enabled).toBe(true);
      expect(config.https.listen.port).toBe(8443);
      expect(config.artifactsProxy.cache.enabled).toBe(true);
      expect(config.artifactsProxy.cache.path).toBe(CONFIG_DEFAULTS.cachePath);
      expect(config.artifactsProxy.cache.signatureSecret?.length).toBe(32);
      expect(config.metrics.listen.port).toBe(9102);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }

    // Ports, volumes and a stop grace period longer than ShutdownGracePeriod.
    expect(text).toMatch(/^\s+- '(?:[\d.]+:)?443:8443'$/m);
    expect(text).toMatch(/^\s+- '127\.0\.0\.1:9102:9102'$/m);
    expect(text).toMatch(new RegExp(`^\\s+- \\S+:${CONFIG_DEFAULTS.cachePath}$`, 'm'));
    expect(text).toMatch(/^\s+- \S+:\/etc\/mender:ro$/m);
    const grace = /^\s+stop_grace_period:\s*(\S+)$/m.exec(text);
    expect(grace).not.toBeNull();
    expect(parseGoDuration(grace![1]!)).toBeGreaterThan(parseGoDuration(CONFIG_DEFAULTS.shutdownGracePeriod));
  });
});

// ---------------------------------------------------------------------------------------------
// npm tarball
// ---------------------------------------------------------------------------------------------

interface PackageJson {
  version: string;
  files: string[];
}

/** Command ids oclif derives from dist/commands (`cert/issue/ca.js` → `cert:issue:ca`). */
async function distCommandIds(): Promise<string[]> {
  const root = join(REPO_ROOT, 'dist', 'commands');
  const entries = await readdir(root, { recursive: true });
  return entries
    .filter((e) => e.endsWith('.js'))
    .map((e) =>
      e
        .slice(0, -3)
        .split(/[\\/]/)
        .filter((part, i, all) => !(part === 'index' && i === all.length - 1))
        .join(':'),
    )
    .sort();
}

/** True when oclif.manifest.json exists and lists exactly the built commands of this version. */
async function manifestIsCurrent(pkg: PackageJson): Promise<boolean> {
  try {
    const manifest = JSON.parse(await readFile(join(REPO_ROOT, 'oclif.manifest.json'), 'utf8')) as {
      version: string;
      commands: Record<string, unknown>;
    };
    const listed = Object.keys(manifest.commands).sort();
    return (
      manifest.version === pkg.version && JSON.stringify(listed) === JSON.stringify(await distCommandIds())
    );
  } catch {
    return false;
  }
}

describe('npm tarball', () => {
  let work: string;
  let pkg: PackageJson;
  let tarball: string;
  let packedFiles: string[];
  let packedFrom: 'working tree' | 'temporary copy';

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'mender-gw-pack-'));
    pkg = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as PackageJson;
    expect(
      existsSync(join(REPO_ROOT, 'dist', 'commands', 'serve.js')),
      'dist/ is built (npm test builds first)',
    ).toBe(true);

    let packDir = REPO_ROOT;
    packedFrom = 'working tree';
    if (!(await manifestIsCurrent(pkg))) {
      // What prepack would do, in a copy: never write oclif.manifest.json into the working tree.
      packedFrom = 'temporary copy';
      packDir = join(work, 'stage');
      await mkdir(packDir);
      for (const entry of ['package.json', 'README.md', 'LICENSE', ...pkg.files]) {
        if (entry === 'oclif.manifest.json' || !existsSync(join(REPO_ROOT, entry))) continue;
        await cp(join(REPO_ROOT, entry), join(packDir, entry), { recursive: true });
      }
      await symlink(join(REPO_ROOT, 'node_modules'), join(packDir, 'node_modules'), 'dir');
      await execFileAsync(
        process.execPath,
        [join(REPO_ROOT, 'node_modules', 'oclif', 'bin', 'run.js'), 'manifest'],
        {
          cwd: packDir,
          env: { ...process.env, OCLIF_DISABLE_UPDATE_NOTIFIER: '1' },
        },
      );
    }
    const started = Date.now();
    const { stdout } = await execFileAsync(
      'npm',
      ['pack', '--ignore-scripts', '--json', '--pack-destination', work],
      {
        cwd: packDir,
        maxBuffer: 64 * 1024 * 1024,
      },
    );
    const [result] = JSON.parse(stdout) as [{ filename: string; files: { path: string }[] }];
    tarball = join(work, result.filename);
    packedFiles = result.files.map((f) => f.path);
    console.log(`npm pack (${packedFrom}): ${packedFiles.length} files in ${Date.now() - started} ms`);
  }, 120_000);

  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });

  it('contains the CLI, the compiled code, the oclif manifest and the examples, and nothing private', async () => {
    expect(existsSync(tarball)).toBe(true);
    expect(packedFiles).toEqual(
      expect.arrayContaining([
        'package.json',
        'bin/run.js',
        'oclif.manifest.json',
        'dist/core/index.js',
        'dist/commands/serve.js',
        'dist/commands/config/validate.js',
        'docs/examples/quickstart.conf',
        'docs/config.schema.json',
        'docs/examples/keepalived/keepalived.conf',
        'docs/examples/keepalived/mender-gw-check',
      ]),
    );
    for (const id of await distCommandIds())
      expect(packedFiles, id).toContain(`dist/commands/${id.split(':').join('/')}.js`);
    const unwanted = packedFiles.filter(
      (f) =>
        /^(src|test|node_modules|scripts|bench|\.cache)\//.test(f) ||
        /\.(key|pem|tgz)$/.test(f) ||
        (f.endsWith('.ts') && !f.endsWith('.d.ts')),
    );
    expect(unwanted).toEqual([]);
  });

  it('installs with `npm install -g` into a clean prefix and runs `mender-gw`', async () => {
    const prefix = join(work, 'prefix');
    const started = Date.now();
    try {
      await execFileAsync(
        'npm',
        ['install', '--global', '--prefix', prefix, '--no-audit', '--no-fund', tarball],
        {
          cwd: work,
          maxBuffer: 64 * 1024 * 1024,
          timeout: 240_000,
        },
      );
    } catch (error) {
      const e = error as { stdout?: string; stderr?: string };
      throw new Error(
        `npm install -g of the tarball failed (is the npm registry reachable?):\n${e.stderr ?? ''}${e.stdout ?? ''}`,
        {
          cause: error,
        },
      );
    }
    console.log(`npm install -g of the tarball: ${Date.now() - started} ms`);

    const bin = join(prefix, 'bin', 'mender-gw');
    expect(existsSync(bin)).toBe(true);
    const installed = join(prefix, 'lib', 'node_modules', 'mender-gw');
    expect(existsSync(join(installed, 'oclif.manifest.json'))).toBe(true);

    const version = await execFileAsync(bin, ['--version'], { env: cleanEnv() });
    expect(version.stdout).toMatch(new RegExp(`^mender-gw/${pkg.version.replace(/\./g, '\\.')} `));

    const validate = await execFileAsync(bin, ['config', 'validate', '--config', QUICKSTART], {
      env: cleanEnv(),
    });
    expect(validate.stdout).toContain('configuration is valid');

    const help = await execFileAsync(bin, ['--help'], { env: cleanEnv() });
    expect(help.stdout).toMatch(/\bserve\b/);
    expect(help.stdout).toMatch(/\bconfig\b/);
  }, 300_000);
});
