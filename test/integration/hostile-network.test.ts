import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as netConnect } from 'node:net';
import type { Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { ConnectionOptions } from 'node:tls';
import { Agent, request } from 'undici';
import { startFakeUpstream } from '../support/fake-upstream/index.js';
import type { FakeUpstream } from '../support/fake-upstream/index.js';
import { startServeProcess } from '../support/serve-process.js';
import type { ServeProcess } from '../support/serve-process.js';
import { freePort } from '../support/free-port.js';
import type { CertPair } from '../support/test-pki.js';
import { seededRandom } from '../support/seeded-random.js';

/**
 * The hostile-network suite: for a bounded time, many peers on the device network send what an
 * attacker would (malformed and truncated requests, resets before, during and after headers and
 * bodies, after upgrades and refusals, pipelined requests, random methods and targets, broken
 * TLS), against both listeners, with mTLS off and on. Pass condition: the built `serve` never
 * exits, `/alive` answers throughout, no upstream error is recorded, and open descriptors return
 * to their baseline. The seed is printed; `MGW_HOSTILE_SEED=<seed>` replays a run, and
 * `MGW_HOSTILE_SECONDS` changes its length (default 20 s per configuration).
 */

const SECONDS = Number(process.env.MGW_HOSTILE_SECONDS ?? 20);
const SEED = Number(process.env.MGW_HOSTILE_SEED ?? Math.floor(Math.random() * 2 ** 31));
const PEERS = 16;
const ALIVE = '/api/internal/v1/gateway/alive';

type Random = () => number;
const pick = <T>(random: Random, items: readonly T[]): T => items[Math.floor(random() * items.length)]!;

const METHODS = [
  'GET',
  'POST',
  'PUT',
  'PATCH',
  'DELETE',
  'HEAD',
  'OPTIONS',
  'TRACE',
  'CONNECT',
  'PRI',
  'G\x00T',
  'M-SEARCH',
  'X'.repeat(300),
];
const TARGETS = [
  ALIVE,
  '/api/internal/v1/gateway/ready',
  '/api/devices/v1/authentication/auth_requests',
  '/api/devices/v2/deployments/device/deployments/next',
  '/api/devices/v1/deployments/device/deployments/next?artifact_name=a&device_type=b',
  '/api/devices/v1/inventory/device/attributes',
  '/api/devices/v1/deviceconnect/connect',
  '/api/devices/v1/gateway/artifacts/proxy/aHR0cDovLzEyNy4wLjAuMTo5L3g',
  '/api/devices/v1/gateway/artifacts/0123456789abcdef?expires=1&signature=x',
  '/api/devices/v1/../management/v1/useradm/users',
  '/api/devices/v1/%2e%2e/%2e%2e/management',
  '/api/management/v1/useradm/auth/login',
  'http://127.0.0.1:9/api/devices/v1/x',
  '*',
  '/' + 'a'.repeat(20_000),
  '/api/devices/v1/\\..\\management',
];

function header(random: Random): string {
  return pick(random, [
    'Content-Length: 5\r\n',
    'Content-Length: -1\r\n',
    'Content-Length: 5\r\nContent-Length: 6\r\n',
    'Transfer-Encoding: chunked\r\n',
    'Transfer-Encoding: chunked\r\nContent-Length: 3\r\n',
    'Connection: Upgrade\r\nUpgrade: websocket\r\n',
    'Upgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\n',
    'Expect: 100-continue\r\n',
    'Expect: bogus\r\n',
    'Authorization: Bearer x.y.z\r\n',
    'X-Forwarded-For: 10.0.0.1\r\n',
    'Host: \r\n',
    `X-Big: ${'b'.repeat(Math.floor(random() * 20_000))}\r\n`,
    'Bad Header\r\n',
    'X-Nul: a\x00b\r\n',
  ]);
}

function requestBytes(random: Random): string {
  let head = `${pick(random, METHODS)} ${pick(random, TARGETS)} HTTP/1.${random() < 0.9 ? '1' : '0'}\r\nHost: gw\r\n`;
  const count = Math.floor(random() * 4);
  for (let i = 0; i < count; i++) head += header(random);
  head += '\r\n';
  const body = pick(random, [
    '',
    'hello',
    '5\r\nhello\r\n0\r\n\r\n',
    'zz\r\nbad\r\n',
    '{"id_data":"{\\"a\\":1}"}',
    '['.repeat(5000),
  ]);
  return head + body;
}

/** One hostile connection: what it sends, and when it resets. */
async function hostileConnection(
  url: string,
  random: Random,
  tls: ConnectionOptions | undefined,
): Promise<void> {
  const { hostname, port } = new URL(url);
  const raw = netConnect(Number(port), hostname);
  const closed = new Promise<void>((resolve) => raw.once('close', () => resolve()));
  raw.on('error', () => undefined);
  const action = Math.floor(random() * 8);
  const stop = (): void => {
    if (random() < 0.7) raw.resetAndDestroy();
    else raw.destroy();
  };
  const timer = setTimeout(stop, 200 + Math.floor(random() * 800));
  try {
    await new Promise<void>((resolve) => {
      raw.once('connect', resolve);
      raw.once('close', resolve);
    });
    if (raw.destroyed) return;
    let stream: Socket = raw;
    if (tls !== undefined) {
      if (action === 0) {
        // A broken TLS handshake: a truncated ClientHello, then a reset.
        raw.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc]));
        setImmediate(stop);
        return;
      }
      const secure = tlsConnect({ ...tls, socket: raw, servername: 'gateway.test' });
      secure.on('error', () => undefined);
      const ok = await new Promise<boolean>((resolve) => {
        secure.once('secureConnect', () => resolve(true));
        secure.once('close', () => resolve(false));
      });
      if (!ok) return;
      stream = secure;
    }
    switch (action) {
      case 1: // garbage
        stream.write(Buffer.from(Array.from({ length: 64 }, () => Math.floor(random() * 256))));
        break;
      case 2: {
        // a request cut inside its headers
        const bytes = requestBytes(random);
        stream.write(bytes.slice(0, Math.floor(random() * bytes.length)));
        setImmediate(stop);
        break;
      }
      case 3: // pipelined requests
        for (let i = 0; i < 2 + Math.floor(random() * 4); i++) stream.write(requestBytes(random));
        break;
      case 4: // reset right after a whole request (refusals, upgrades, CONNECT)
        stream.write(requestBytes(random));
        if (random() < 0.5) setImmediate(stop);
        else stream.once('data', stop);
        break;
      case 5: // a body announced but cut
        stream.write(
          `PUT /api/devices/v1/inventory/device/attributes HTTP/1.1\r\nHost: gw\r\nContent-Length: 100000\r\n\r\n${'['.repeat(500)}`,
        );
        setImmediate(stop);
        break;
      default:
        stream.write(requestBytes(random));
    }
  } finally {
    await closed;
    clearTimeout(timer);
  }
}

async function openFds(pid: number): Promise<number> {
  return (await readdir(`/proc/${pid}/fd`)).length;
}

describe(`hostile network (seed ${String(SEED)}, ${String(SECONDS)} s per configuration)`, () => {
  let upstream: FakeUpstream;
  let dir: string;
  let server: CertPair;
  let device: CertPair;

  beforeAll(async () => {
    console.log(`hostile-network: seed ${String(SEED)} (replay with MGW_HOSTILE_SEED=${String(SEED)})`);
    upstream = await startFakeUpstream();
    dir = await mkdtemp(join(tmpdir(), 'mgw-hostile-'));
    server = await upstream.pki.issueServer('gateway.test', { dns: ['gateway.test'], ips: ['127.0.0.1'] });
    device = await upstream.pki.issueClient('hostile-device');
  });
  afterAll(async () => {
    await upstream.close();
    await rm(dir, { recursive: true, force: true });
  });

  for (const mtls of [false, true]) {
    it(
      `mTLS ${mtls ? 'on' : 'off'}: serve survives, stays alive, blames nothing on upstream, and returns to its descriptor baseline`,
      async () => {
        const metricsPort = await freePort();
        const file = join(dir, `mtls-${String(mtls)}.conf`);
        await writeFile(
          file,
          JSON.stringify({
            HTTP: { Enabled: true, Listen: '127.0.0.1:0' },
            HTTPS: {
              Enabled: true,
              Listen: '127.0.0.1:0',
              ServerCertificate: server.certPath,
              ServerKey: server.keyPath,
            },
            UpstreamServer: { URL: upstream.url, CACertificate: upstream.pki.ca.certPath },
            DeviceConnections: { MaxPerIP: 0, HeadersTimeout: '2s' },
            Metrics: { Enabled: true, Listen: `127.0.0.1:${String(metricsPort)}` },
            Features: {
              ArtifactsProxy: {
                Enabled: true,
                GatewayURL: 'https://gateway.test',
                DomainWhitelist: ['127.0.0.1'],
                ArtifactsCache: { Enabled: true, Path: join(dir, `cache-${String(mtls)}`) },
              },
              DeviceSystem: { Enabled: true, SystemID: 'hostile-site' },
              ...(mtls
                ? {
                    mTLS: {
                      Enabled: true,
                      CACertificate: upstream.pki.ca.certPath,
                      MenderUsername: 'admin@example.com',
                      MenderPassword: 'not-used',
                    },
                  }
                : {}),
            },
          }),
        );
        const serve: ServeProcess = await startServeProcess(file, { listeners: 2 });
        const tlsPlain: ConnectionOptions = { ca: upstream.pki.ca.certPem };
        const tlsDevice: ConnectionOptions = {
          ca: upstream.pki.ca.certPem,
          cert: device.certPem,
          key: device.keyPem,
        };
        const aliveAgent = new Agent({
          connect: {
            ca: upstream.pki.ca.certPem,
            cert: device.certPem,
            key: device.keyPem,
            servername: 'gateway.test',
          },
        });
        try {
          const alive = async (url: string): Promise<number> => {
            const res = await request(`${url}${ALIVE}`, {
              dispatcher: aliveAgent,
              reset: true,
              signal: AbortSignal.timeout(10_000),
            });
            await res.body.dump();
            return res.statusCode;
          };
          expect(await alive(serve.urls.http!)).toBe(204);
          const baselineFds = await openFds(serve.pid);

          const random = seededRandom(SEED + (mtls ? 1 : 0));
          const deadline = Date.now() + SECONDS * 1000;
          let connections = 0;
          let aliveChecks = 0;
          const peer = async (): Promise<void> => {
            while (Date.now() < deadline) {
              const https = random() < 0.5;
              await hostileConnection(
                https ? serve.urls.https! : serve.urls.http!,
                random,
                https ? (random() < 0.5 ? tlsDevice : tlsPlain) : undefined,
              );
              connections++;
            }
          };
          const watcher = async (): Promise<void> => {
            while (Date.now() < deadline) {
              expect(serve.child.exitCode, serve.stderr()).toBeNull();
              expect(await alive(serve.urls.http!)).toBe(204);
              expect(await alive(serve.urls.https!)).toBe(204);
              aliveChecks++;
              await new Promise((resolve) => setTimeout(resolve, 250));
            }
          };
          await Promise.all([watcher(), ...Array.from({ length: PEERS }, peer)]);
          console.log(
            `hostile-network: mTLS ${mtls ? 'on' : 'off'}, ${String(connections)} hostile connections, ${String(aliveChecks)} alive checks`,
          );

          expect(serve.child.exitCode, serve.stderr()).toBeNull();
          expect(connections).toBeGreaterThan(PEERS);
          const metrics = await (
            await request(`http://127.0.0.1:${String(metricsPort)}/metrics`)
          ).body.text();
          const ready = await request(`${serve.urls.http!}/api/internal/v1/gateway/ready`);
          const report = (await ready.body.json()) as { upstream: { lastError?: string } };
          const upstreamErrors = metrics
            .split('\n')
            .filter((l) => l.startsWith('mender_gw_upstream_errors_total{'));
          expect(
            upstreamErrors,
            `no device input may count as an upstream failure (${report.upstream.lastError ?? ''}): ${JSON.stringify(
              serve.logs.lines
                .filter((l) => typeof l.error === 'string' && /upstream/.test(l.error))
                .slice(0, 5),
            )}`,
          ).toEqual([]);
          expect(report.upstream.lastError).toBeUndefined();
          // Every hostile connection is closed on our side: the gateway's descriptors come back.
          await expect
            .poll(() => openFds(serve.pid), { timeout: 15_000, interval: 250 })
            .toBeLessThanOrEqual(baselineFds + 4);
        } finally {
          await aliveAgent.close();
          await serve.stop();
        }
      },
      SECONDS * 1000 + 90_000,
    );
  }
});
