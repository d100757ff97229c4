import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { startFakeUpstream } from '../support/fake-upstream/index.js';
import type { FakeUpstream } from '../support/fake-upstream/index.js';
import { freePort } from '../support/free-port.js';
import { startTestGateway } from '../support/test-gateway.js';
import type { TestGateway } from '../support/test-gateway.js';
import { SimulatedDevice, pollNext } from '../support/simulated-device.js';
import { waitUntil } from '../support/wait-until.js';
import {
  assertClientUsable,
  buildArtifact,
  CLIENT_LOG,
  DEFAULT_DEVICE_TYPE,
  describeWithRealClient,
  holdInstallPath,
  startMenderDevice,
} from '../support/mender-device/index.js';
import type { MenderDevice } from '../support/mender-device/index.js';

const SECRET = randomBytes(32).toString('base64');

/**
 * Failover and chaining: more than one gateway. Failover: a real client listing two gateways in
 * `Servers` keeps working when the primary stops and returns to it later; the shared
 * SignatureSecret makes cache links valid on either. Chaining: a client behind gateway B,
 * whose upstream is gateway A, updates with each cache filled once.
 */
describeWithRealClient('more than one gateway with real clients', () => {
  let upstream: FakeUpstream;
  let work: string;
  let agent: Agent;
  const cleanups: (() => Promise<unknown>)[] = [];

  beforeAll(async () => {
    assertClientUsable();
    upstream = await startFakeUpstream({ autoAcceptDevices: true });
    // Test clients trust the test CA explicitly, as the devices do.
    agent = new Agent({ connect: { ca: upstream.pki.ca.certPem } });
    work = await mkdtemp(join(tmpdir(), 'mgw-multi-'));
  });
  // Devices and gateways of one test must not linger into the next (they would poll its deployment).
  afterEach(async () => {
    for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => undefined);
    for (const dep of upstream.state.deployments) if (!dep.aborted) upstream.abortDeployment(dep.id);
  });
  afterAll(async () => {
    await (agent as Agent | undefined)?.close();
    await (upstream as FakeUpstream | undefined)?.close();
    await rm(work, { recursive: true, force: true });
  });

  /** A gateway config on a fixed port (so it can be restarted on the same URL). */
  async function gatewayConf(
    name: string,
    upstreamUrl: string,
    extra: Record<string, unknown> = {},
  ): Promise<{ conf: Record<string, unknown>; url: string; cacheDir: string }> {
    const port = await freePort();
    const cert = await upstream.pki.issueServer(`${name}.fake.test`, {
      dns: [`${name}.fake.test`],
      ips: ['127.0.0.1'],
    });
    const url = `https://127.0.0.1:${port}`;
    const cacheDir = join(work, `cache-${name}`);
    return {
      url,
      cacheDir,
      conf: {
        HTTP: { Enabled: false },
        HTTPS: {
          Enabled: true,
          Listen: `127.0.0.1:${port}`,
          ServerCertificate: cert.certPath,
          ServerKey: cert.keyPath,
        },
        UpstreamServer: { URL: upstreamUrl, CACertificate: upstream.pki.ca.certPath },
        Features: {
          ArtifactsProxy: {
            Enabled: true,
            GatewayURL: url,
            DomainWhitelist: ['127.0.0.2'],
            ArtifactsCache: {
              Enabled: true,
              Path: cacheDir,
              SignatureSecret: SECRET,
              LinkExpireDuration: '24h',
            },
          },
          ...extra,
        },
      },
    };
  }

  async function started(conf: Record<string, unknown>): Promise<TestGateway> {
    const gw = await startTestGateway(conf);
    cleanups.push(() => gw.close());
    return gw;
  }

  async function device(name: string, servers: string[]): Promise<MenderDevice> {
    const d = await startMenderDevice({ name, servers, serverCertificate: upstream.pki.ca.certPath });
    cleanups.push(() => d.destroy());
    return d;
  }

  async function deploy(
    name: string,
  ): Promise<{ payload: Buffer; payloadName: string; artifactId: string; deploymentId: string }> {
    for (const d of upstream.state.deployments) if (!d.aborted) upstream.abortDeployment(d.id);
    const payload = randomBytes(256 * 1024);
    const built = await buildArtifact({ name, deviceType: DEFAULT_DEVICE_TYPE, payload, outDir: work });
    const artifact = upstream.addArtifact({ name, deviceTypes: [DEFAULT_DEVICE_TYPE], data: built.data });
    const deployment = upstream.createDeployment({ artifactId: artifact.id });
    return { payload, payloadName: built.payloadName, artifactId: artifact.id, deploymentId: deployment.id };
  }

  const nextSeenBy = (gw: TestGateway): number =>
    gw.logs.lines.filter(
      (l) => l.msg === 'request' && typeof l.path === 'string' && l.path.endsWith('/deployments/next'),
    ).length;

  it('fails over to the standby when the primary stops mid-deployment, and returns to the primary later', async () => {
    // Mender 3.4 sends API calls through its local proxy, which turns a refused connection into
    // a 503, and it moves to the next `Servers` entry only when it authenticates again. It does
    // so in the middle of every deployment (the commit step clears its token), so that is where
    // a stopped primary is left behind: download through the primary, primary stops while the
    // install runs, re-authentication and success report through the standby.
    const a = await gatewayConf('primary', upstream.url);
    const b = await gatewayConf('standby', upstream.url);
    let primary = await started(a.conf);
    const standby = await started(b.conf);
    const d = await device('failover-dev', [a.url, b.url]);
    await d.waitForLog(CLIENT_LOG.authenticated, 30_000);
    expect(
      primary.logs.find(
        (l) => l.msg === 'request' && l.path === '/api/devices/v1/authentication/auth_requests',
      ),
    ).toBeDefined();

    const hold = holdInstallPath(d);
    await writeFile(hold, '');
    const offset = await d.logSize();
    const first = await deploy('failover-1');
    const deviceId = upstream.device(d.mac)!.id;
    await waitUntil(
      'the device installing',
      () =>
        upstream.state.statuses.some(
          (st) => st.deploymentId === first.deploymentId && st.status === 'installing',
        ),
      60_000,
    );
    expect(
      primary.logs.find(
        (l) =>
          l.msg === 'request' &&
          typeof l.path === 'string' &&
          l.path.startsWith('/api/devices/v1/gateway/artifacts/'),
      ),
    ).toBeDefined();
    await primary.close();
    await rm(hold);

    await d.waitForLog(CLIENT_LOG.deploymentReported, 90_000, offset);
    expect(upstream.state.deployments.find((x) => x.id === first.deploymentId)?.devices.get(deviceId)).toBe(
      'success',
    );
    expect((await readFile(join(d.installedDir, first.payloadName))).equals(first.payload)).toBe(true);
    const onStandby = (path: string): boolean =>
      standby.logs.lines.some((l) => l.msg === 'request' && l.path === path);
    expect(onStandby('/api/devices/v1/authentication/auth_requests')).toBe(true);
    expect(
      standby.logs.lines.some(
        (l) =>
          l.msg === 'request' &&
          typeof l.path === 'string' &&
          l.path.endsWith(`/deployments/${first.deploymentId}/status`),
      ),
    ).toBe(true);

    // The primary returns on the same URL; at its next authentication (the next deployment's
    // commit) the client prefers the first entry of `Servers` again.
    primary = await started(a.conf);
    const offset2 = await d.logSize();
    const second = await deploy('failover-2');
    await d.waitForLog(CLIENT_LOG.deploymentReported, 90_000, offset2);
    expect(upstream.state.deployments.find((x) => x.id === second.deploymentId)?.devices.get(deviceId)).toBe(
      'success',
    );
    await waitUntil('a poll on the restarted primary', () => nextSeenBy(primary) > 0, 30_000);

    // Same SignatureSecret: a cache link signed by the standby is served by the primary.
    const sim = new SimulatedDevice('02:00:00:00:fa:01');
    expect(await sim.authenticate(standby.url, agent)).toBe(200);
    const link = new URL(
      (
        await pollNext(
          standby.url,
          sim,
          { device_type: DEFAULT_DEVICE_TYPE, artifact_name: 'initial' },
          'v2-post',
          {},
          agent,
        )
      ).json!.artifact.source.uri,
    );
    expect(link.origin).toBe(b.url);
    const served = await request(new URL(link.pathname + link.search, a.url), { dispatcher: agent });
    expect(served.statusCode).toBe(200);
    expect(Buffer.from(await served.body.arrayBuffer()).length).toBeGreaterThan(second.payload.length);
  }, 240_000);

  it("chains gateways: a client behind B (upstream A) updates, each cache fills once, inventory carries B's system id", async () => {
    const outer = await gatewayConf('outer', upstream.url, {
      DeviceSystem: { Enabled: true, SystemID: 'outer-site' },
    });
    const outerGw = await started(outer.conf);
    const inner = await gatewayConf('inner', outer.url, {
      DeviceSystem: { Enabled: true, SystemID: 'inner-ward' },
    });
    // The inner gateway trusts the outer's certificate (issued by the same test CA) and needs
    // no storage whitelist: its upstream's artifact links are trusted.
    (inner.conf.Features as Record<string, Record<string, unknown>>).ArtifactsProxy!.DomainWhitelist = [];
    const innerGw = await started(inner.conf);

    const d = await device('chained-dev', [inner.url]);
    await d.waitForLog(CLIENT_LOG.authenticated, 30_000);
    const offset = await d.logSize();
    const release = await deploy('chain-1');
    await d.waitForLog(CLIENT_LOG.deploymentReported, 90_000, offset);
    const deviceId = upstream.device(d.mac)!.id;
    expect(upstream.state.deployments.find((x) => x.id === release.deploymentId)?.devices.get(deviceId)).toBe(
      'success',
    );
    expect((await readFile(join(d.installedDir, release.payloadName))).equals(release.payload)).toBe(true);

    expect(upstream.state.storage.perArtifact.get(release.artifactId)?.fullDownloadsStarted).toBe(1);
    expect((await readdir(outer.cacheDir)).filter((n) => n.endsWith('.mender')).length).toBe(1);
    expect((await readdir(inner.cacheDir)).filter((n) => n.endsWith('.mender')).length).toBe(1);
    expect(outerGw.logs.lines.filter((l) => l.msg === 'cache fill finished').length).toBe(1);
    expect(innerGw.logs.lines.filter((l) => l.msg === 'cache fill finished').length).toBe(1);

    await d.waitForLog(CLIENT_LOG.inventorySent, 30_000);
    const inventory = upstream.state.inventory.get(deviceId) ?? [];
    expect(inventory.find((a) => a.name === 'mender_gateway_system_id')?.value).toBe('inner-ward');
  }, 180_000);
});
