import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFakeUpstream } from './fake-upstream/index.js';
import type { FakeArtifact, FakeUpstream, FakeUpstreamOptions } from './fake-upstream/index.js';
import { freePort } from './free-port.js';
import { siteGatewayConf } from './site-gateway-conf.js';
import { SimulatedDevice } from './simulated-device.js';
import { startTestGateway } from './test-gateway.js';
import type { TestGateway } from './test-gateway.js';

export const DEVICE_TYPE = 'mgw-sim';
export const SECRET = Buffer.from('0123456789abcdef0123456789abcdef').toString('base64');

export interface CacheScenario {
  upstream: FakeUpstream;
  gw: TestGateway;
  gatewayUrl: string;
  /** `http://127.0.0.1:<port>/metrics` when started with `metrics: true`. */
  metricsUrl: string | undefined;
  cacheDir: string;
  /** Gateway config as written, to start another gateway on the same cache/secret. */
  conf: Record<string, unknown>;
  newDevice(mac?: string): Promise<SimulatedDevice>;
  addArtifact(name: string, size: number): { artifact: FakeArtifact; sha256: string };
  restartGateway(): Promise<TestGateway>;
  close(): Promise<void>;
}

/**
 * Fake upstream (TLS, auto-accepting devices) + a gateway with Features.ArtifactsProxy on a
 * known port, the cache in a temp folder, and simulated devices authenticated through it.
 */
export async function startCacheScenario(
  options: {
    cache?: boolean;
    whitelist?: string[];
    upstream?: FakeUpstreamOptions;
    cacheDir?: string;
    linkExpire?: string;
    /** Serve devices over HTTPS with a certificate from the fake upstream's CA (real clients). */
    tls?: boolean;
    /** Enable Metrics on a free loopback port (see `metricsUrl`). */
    metrics?: boolean;
  } = {},
): Promise<CacheScenario> {
  const upstream = await startFakeUpstream({ autoAcceptDevices: true, ...options.upstream });
  const port = await freePort();
  const gatewayUrl = `${options.tls === true ? 'https' : 'http'}://127.0.0.1:${port}`;
  const cert =
    options.tls === true
      ? await upstream.pki.issueServer('gateway.fake.test', {
          dns: ['gateway.fake.test'],
          ips: ['127.0.0.1'],
        })
      : undefined;
  const ownDir = options.cacheDir === undefined;
  const cacheDir = options.cacheDir ?? (await mkdtemp(join(tmpdir(), 'mgw-cache-')));
  const metricsPort = options.metrics === true ? await freePort() : undefined;
  const conf = siteGatewayConf({
    upstream,
    port,
    cert,
    cacheDir,
    signatureSecret: SECRET,
    cache: options.cache,
    whitelist: options.whitelist,
    linkExpire: options.linkExpire,
    metricsPort,
  });
  let gw = await startTestGateway(conf);
  let count = 0;
  return {
    upstream,
    get gw() {
      return gw;
    },
    gatewayUrl,
    metricsUrl: metricsPort === undefined ? undefined : `http://127.0.0.1:${metricsPort}/metrics`,
    cacheDir,
    conf,
    async newDevice(mac?: string) {
      const device = new SimulatedDevice(
        mac ??
          `02:00:00:00:${(count >> 8).toString(16).padStart(2, '0')}:${(count++ & 0xff).toString(16).padStart(2, '0')}`,
      );
      const status = await device.authenticate(gw.url);
      if (status !== 200) throw new Error(`device auth through the gateway answered ${status}`);
      return device;
    },
    addArtifact(name: string, size: number) {
      const data = randomBytes(size);
      // One active deployment at a time: the next poll hands out this artifact.
      for (const d of upstream.state.deployments) if (!d.aborted) upstream.abortDeployment(d.id);
      const artifact = upstream.addArtifact({ name, deviceTypes: [DEVICE_TYPE], data });
      upstream.createDeployment({ artifactId: artifact.id });
      return { artifact, sha256: createHash('sha256').update(data).digest('hex') };
    },
    async restartGateway() {
      await gw.close();
      gw = await startTestGateway(conf);
      return gw;
    },
    async close() {
      await gw.close();
      await upstream.close();
      if (ownDir) await rm(cacheDir, { recursive: true, force: true });
    },
  };
}
