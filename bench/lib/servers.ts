import { execFileSync, spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, openSync, closeSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { get } from 'node:https';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { childPids } from '../../test/support/proc.js';
import { PACKAGED_NODE_ARGS } from '../../test/support/packaged-node-args.js';
import { ArtifactLinkSigner } from '../../src/core/artifacts/artifact-link.js';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** A server under test: its process ids (for CPU and memory) and base URL. */
export interface ServerUnderTest {
  name: 'nginx' | 'mender-gw';
  url: string;
  /** Every process whose CPU counts (nginx: master and workers; mender-gw: the one process). */
  pids(): number[];
  /** The process(es) whose memory is reported (nginx: the workers; mender-gw: the process). */
  memoryPids(): number[];
  /** URL of an origin artifact path (`/artifacts/<tag>/<file>`) as a device fetches it here. */
  artifactUrl(originPath: string): string;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A self-signed P-256 certificate for 127.0.0.1, made with openssl; both servers use it. */
export function makeCertificate(dir: string): { cert: string; key: string } {
  const cert = join(dir, 'server.crt');
  const key = join(dir, 'server.key');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-days',
      '2',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-keyout',
      key,
      '-out',
      cert,
    ],
    { stdio: 'ignore' },
  );
  return { cert, key };
}

/** Wait until `url` answers (any status) over TLS. */
async function waitForHttps(url: string, child: ChildProcess, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${what} exited with ${child.exitCode} before answering`);
    const ok = await new Promise<boolean>((resolve) => {
      const req = get(url, { rejectUnauthorized: false }, (res) => {
        res.resume();
        resolve(true);
      });
      req.on('error', () => resolve(false));
      req.setTimeout(1000, () => req.destroy());
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${what} did not answer ${url} within 20 s`);
    await sleep(100);
  }
}

async function stopChild(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/** Command prefix pinning a process to `cpus` (e.g. "0"), when taskset is available. */
export function pinned(cpus: string | undefined, command: string, args: string[]): [string, string[]] {
  return cpus === undefined ? [command, args] : ['taskset', ['-c', cpus, command, ...args]];
}

// ---------------------------------------------------------------------------------- nginx

export interface NginxAvailability {
  available: boolean;
  binary?: string;
  version?: string;
  installed?: boolean;
  reason?: string;
}

function findNginx(): string | undefined {
  for (const candidate of ['/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/local/nginx/sbin/nginx']) {
    if (existsSync(candidate)) return candidate;
  }
  const which = spawnSync('sh', ['-c', 'command -v nginx'], { encoding: 'utf8' });
  const found = which.stdout.trim();
  return found === '' ? undefined : found;
}

function nginxVersion(binary: string): string {
  const out = spawnSync(binary, ['-v'], { encoding: 'utf8' });
  return `${out.stderr}${out.stdout}`.trim();
}

/**
 * Find nginx, installing the Debian package when it is missing and we are root. Never throws:
 * a missing nginx is reported with the reason, and the suite runs the mender-gw side only.
 */
export function ensureNginx(log: (line: string) => void): NginxAvailability {
  const existing = findNginx();
  if (existing !== undefined) return { available: true, binary: existing, version: nginxVersion(existing) };
  if (process.getuid?.() !== 0) {
    return {
      available: false,
      reason:
        'nginx is not installed and installing it needs root (run `apt-get install -y nginx`, then re-run)',
    };
  }
  if (!existsSync('/usr/bin/apt-get')) {
    return { available: false, reason: 'nginx is not installed and there is no apt-get to install it' };
  }
  log('nginx missing: installing the Debian package (apt-get install -y nginx)…');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  let result = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'nginx'], {
    env,
    encoding: 'utf8',
  });
  if (result.status !== 0) {
    spawnSync('apt-get', ['update'], { env, encoding: 'utf8' });
    result = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'nginx'], {
      env,
      encoding: 'utf8',
    });
  }
  const binary = findNginx();
  if (result.status !== 0 || binary === undefined) {
    return {
      available: false,
      reason: `apt-get install nginx failed (exit ${result.status}): ${result.stderr.trim().split('\n').slice(-2).join(' ')}`,
    };
  }
  // The package starts a default site on :80 under systemd; we run our own instance only.
  return { available: true, binary, version: nginxVersion(binary), installed: true };
}

export async function startNginx(options: {
  binary: string;
  dir: string;
  originPort: number;
  cert: { cert: string; key: string };
  cpus: string | undefined;
}): Promise<ServerUnderTest> {
  const { dir } = options;
  const port = await freePort();
  await mkdir(join(dir, 'cache'), { recursive: true });
  await mkdir(join(dir, 'temp'), { recursive: true });
  const root = process.getuid?.() === 0;
  const conf = `# Generated by bench/lib/servers.ts: nginx as a TLS caching reverse proxy.
${root ? 'user root;' : ''}
worker_processes 1;
daemon off;
master_process on;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 8192; }
http {
  access_log ${dir}/access.log combined buffer=64k flush=1s;
  client_body_temp_path ${dir}/temp/body;
  proxy_temp_path ${dir}/temp/proxy;
  fastcgi_temp_path ${dir}/temp/fastcgi;
  uwsgi_temp_path ${dir}/temp/uwsgi;
  scgi_temp_path ${dir}/temp/scgi;
  sendfile on;
  tcp_nopush on;
  keepalive_timeout 120s;
  keepalive_requests 1000000;
  proxy_cache_path ${dir}/cache levels=1:2 keys_zone=artifacts:16m max_size=16g inactive=1d use_temp_path=off;
  upstream origin {
    server 127.0.0.1:${options.originPort};
    keepalive 64;
  }
  server {
    listen 127.0.0.1:${port} ssl;
    ssl_certificate ${options.cert.cert};
    ssl_certificate_key ${options.cert.key};
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_cache shared:SSL:10m;
    location /artifacts/ {
      slice 1m;
      proxy_cache artifacts;
      proxy_cache_key $uri$slice_range;
      proxy_set_header Range $slice_range;
      proxy_cache_valid 200 206 1d;
      proxy_cache_lock on;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_pass http://origin;
    }
    location /api/ {
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_pass http://origin;
    }
  }
}
`;
  const confPath = join(dir, 'nginx.conf');
  await writeFile(confPath, conf);
  const [command, args] = pinned(options.cpus, options.binary, ['-p', dir, '-c', confPath]);
  const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'inherit'] });
  const url = `https://127.0.0.1:${port}`;
  await waitForHttps(`${url}/api/none`, child, 'nginx');
  const master = child.pid!;
  return {
    name: 'nginx',
    url,
    pids: () => [master, ...childPids(master)],
    memoryPids: () => childPids(master),
    artifactUrl: (originPath) => `${url}${originPath}`,
    stop: () => stopChild(child, 'SIGQUIT'),
  };
}

// ------------------------------------------------------------------------------ mender-gw

/**
 * Extra environment for the gateway under test, for experiments (`MGW_BENCH_PACKAGED_ENV` as JSON,
 * e.g. `{"MALLOC_MMAP_THRESHOLD_":"32768"}`; docs/performance.md, M5). Empty by default: the
 * packaged unit and image set nothing else.
 */
export const PACKAGED_ENV: NodeJS.ProcessEnv = JSON.parse(
  process.env.MGW_BENCH_PACKAGED_ENV ?? '{}',
) as NodeJS.ProcessEnv;

export const SIGNATURE_SECRET = Buffer.from('bench-secret-0123456789abcdef012').toString('base64');

/** The signed gateway link for an origin artifact URL, as deployments/next would hand it out. */
export function signBenchLink(gatewayUrl: string, originUrl: string): string {
  return new ArtifactLinkSigner(Buffer.from(SIGNATURE_SECRET, 'base64'), new URL(gatewayUrl), 86_400_000)
    .sign(new URL(originUrl), { id: 'bench', name: 'bench' })
    .url.toString();
}

export async function startMenderGw(options: {
  dir: string;
  originUrl: string;
  cert: { cert: string; key: string };
  cpus: string | undefined;
  /** Extra node flags, e.g. `--cpu-prof`. */
  nodeArgs?: string[];
  /** Signs a gateway link for an origin URL (M1–M5); Fleet gets its links from deployments/next. */
  sign?: (gatewayUrl: string, originUrl: string) => string;
  /** CA (file) that signed the origin's certificate, for an `https://` origin (Fleet's fake upstream). */
  originCaPath?: string;
  /** Hosts whose artifact links are proxied; default the origin's `127.0.0.1`. */
  domainWhitelist?: string[];
  /** Another build's `bin/run.js` (bench/ab.ts compares two builds); default this checkout's. */
  bin?: string;
  /** `Features.DeviceSystem.SystemID`: inventory updates get it injected (M3's inventory case). */
  deviceSystemId?: string;
  /** More top-level config sections (Fleet: `Metrics`), added to the ones above. */
  extraConfig?: Record<string, unknown>;
}): Promise<ServerUnderTest> {
  const { dir } = options;
  const port = await freePort();
  const url = `https://127.0.0.1:${port}`;
  await mkdir(join(dir, 'cache'), { recursive: true });
  const conf = {
    HTTP: { Enabled: false },
    HTTPS: {
      Enabled: true,
      Listen: `127.0.0.1:${port}`,
      ServerCertificate: options.cert.cert,
      ServerKey: options.cert.key,
    },
    UpstreamServer: {
      URL: options.originUrl,
      ...(options.originCaPath === undefined ? {} : { CACertificate: options.originCaPath }),
    },
    Features: {
      ArtifactsProxy: {
        Enabled: true,
        GatewayURL: url,
        DomainWhitelist: options.domainWhitelist ?? ['127.0.0.1'],
        ArtifactsCache: {
          Enabled: true,
          Path: join(dir, 'cache'),
          SignatureSecret: SIGNATURE_SECRET,
          LinkExpireDuration: '24h',
        },
      },
      ...(options.deviceSystemId === undefined
        ? {}
        : { DeviceSystem: { Enabled: true, SystemID: options.deviceSystemId } }),
    },
    ShutdownGracePeriod: '1s',
    ...options.extraConfig,
  };
  const confPath = join(dir, 'mender-gateway.conf');
  await writeFile(confPath, JSON.stringify(conf, null, 2));
  const logFd = openSync(join(dir, 'serve.log'), 'a');
  const bin = options.bin ?? join(REPO_ROOT, 'bin', 'run.js');
  const [command, args] = pinned(options.cpus, process.execPath, [
    // As packaged (packaging/mender-gw.service, Dockerfile): a 2 MiB V8 semi-space (docs/performance.md, M5).
    ...PACKAGED_NODE_ARGS,
    ...(options.nodeArgs ?? []),
    bin,
    'serve',
    '--config',
    confPath,
  ]);
  const child = spawn(command, args, {
    cwd: dir,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...PACKAGED_ENV },
    stdio: ['ignore', logFd, logFd],
  });
  closeSync(logFd);
  await waitForHttps(`${url}/api/internal/v1/gateway/alive`, child, 'mender-gw serve');
  const pid = child.pid!;
  return {
    name: 'mender-gw',
    url,
    pids: () => [pid],
    memoryPids: () => [pid],
    artifactUrl: (originPath) => {
      if (options.sign === undefined) throw new Error('startMenderGw: no `sign` given, cannot make links');
      return options.sign(url, `${options.originUrl}${originPath}`);
    },
    stop: () => stopChild(child, 'SIGTERM'),
  };
}
