import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startFakeUpstream } from '../support/fake-upstream/index.js';
import type { FakeUpstream } from '../support/fake-upstream/index.js';
import { freePort } from '../support/free-port.js';
import { startTestGateway } from '../support/test-gateway.js';
import type { TestGateway } from '../support/test-gateway.js';
import {
  assertClientUsable,
  CLIENT_LOG,
  describeWithRealClient,
  expectGenuineAuth,
  startMenderDevice,
} from '../support/mender-device/index.js';
import type { MenderDevice } from '../support/mender-device/index.js';

/**
 * `device-hosts gen` output is all a real Mender 3.4 client needs: its name resolution comes
 * only from the generated hosts lines (bind-mounted as the device's /etc/hosts), its server
 * list and CA only from the generated mender.conf fragment. The gateway's certificate names
 * `gateway.site.test` and no IP address, so the TLS check passes only if the device connected
 * by that name. The built CLI is run (needs `npm run build`).
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(ROOT, 'bin/run.js');
const run = promisify(execFile);

interface Fragment {
  ServerURL?: string;
  Servers?: { ServerURL: string }[];
  ServerCertificate?: string;
}

/** `<ip> <name>…` lines → name → ip, as the harness bind-mounts them. */
function parseHosts(text: string): Record<string, string> {
  const hosts: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const [ip, ...names] = line.replace(/#.*/, '').trim().split(/\s+/);
    if (ip === undefined || ip === '') continue;
    for (const name of names) hosts[name] ??= ip;
  }
  return hosts;
}

describeWithRealClient('real Mender client provisioned by device-hosts gen', () => {
  let upstream: FakeUpstream;
  let work: string;
  const cleanups: (() => Promise<unknown>)[] = [];

  beforeAll(async () => {
    assertClientUsable();
    upstream = await startFakeUpstream({ autoAcceptDevices: true });
    work = await mkdtemp(join(tmpdir(), 'mgw-device-hosts-e2e-'));
  });
  afterAll(async () => {
    for (const fn of cleanups.reverse()) await fn().catch(() => undefined);
    await (upstream as FakeUpstream | undefined)?.close();
    await rm(work, { recursive: true, force: true });
  });

  /** The gateway configuration: HTTPS on `address:port` with a certificate for `name` only. */
  async function gatewayConf(name: string, address: string, port: number): Promise<Record<string, unknown>> {
    const cert = await upstream.pki.issueServer(name, { dns: [name] });
    return {
      HTTP: { Enabled: false },
      HTTPS: {
        Enabled: true,
        Listen: `${address}:${port}`,
        ServerCertificate: cert.certPath,
        ServerKey: cert.keyPath,
      },
      UpstreamServer: { URL: upstream.url, CACertificate: upstream.pki.ca.certPath },
      Features: {
        ArtifactsProxy: {
          Enabled: true,
          GatewayURL: `https://${name}:${port}`,
          DomainWhitelist: ['127.0.0.2'],
        },
      },
    };
  }

  async function started(conf: Record<string, unknown>): Promise<TestGateway> {
    const gw = await startTestGateway(conf);
    cleanups.push(() => gw.close());
    return gw;
  }

  /** Run the built CLI on the primary's configuration; return what it wrote. */
  async function generate(
    label: string,
    primaryConf: Record<string, unknown>,
    args: string[],
  ): Promise<{ hostsText: string; fragment: Fragment; stderr: string }> {
    const config = join(work, `${label}.conf`);
    await writeFile(config, JSON.stringify(primaryConf, null, 2));
    const hostsFile = join(work, `${label}.hosts`);
    const fragmentFile = join(work, `${label}.mender.json`);
    const { stderr } = await run(process.execPath, [
      BIN,
      'device-hosts',
      'gen',
      '--config',
      config,
      ...args,
      // The device runs in a mount namespace of this machine: the CA's path here is its path there.
      '--server-certificate-path',
      upstream.pki.ca.certPath,
      '--out',
      hostsFile,
      '--mender-conf',
      fragmentFile,
    ]);
    return {
      hostsText: await readFile(hostsFile, 'utf8'),
      fragment: JSON.parse(await readFile(fragmentFile, 'utf8')) as Fragment,
      stderr,
    };
  }

  async function provisionedDevice(
    name: string,
    generated: { hostsText: string; fragment: Fragment },
  ): Promise<MenderDevice> {
    const { fragment } = generated;
    const servers =
      fragment.Servers?.map((s) => s.ServerURL) ??
      (fragment.ServerURL === undefined ? [] : [fragment.ServerURL]);
    const device = await startMenderDevice({
      name,
      servers,
      hosts: parseHosts(generated.hostsText),
      ...(fragment.ServerCertificate === undefined ? {} : { serverCertificate: fragment.ServerCertificate }),
    });
    cleanups.push(() => device.destroy());
    return device;
  }

  const authRequestsOn = (gw: TestGateway): number =>
    gw.logs.lines.filter(
      (l) => l.msg === 'request' && l.path === '/api/devices/v1/authentication/auth_requests',
    ).length;

  it('one gateway: hosts + ServerURL + ServerCertificate are enough to authenticate by name', async () => {
    const port = await freePort();
    const conf = await gatewayConf('gateway.site.test', '127.0.0.1', port);
    const gw = await started(conf);
    const generated = await generate('single', conf, ['--ip', '127.0.0.1']);
    expect(generated.hostsText).toBe(
      '# Mender gateway names (mender-gw device-hosts gen)\n127.0.0.1 gateway.site.test\n',
    );
    expect(generated.stderr).not.toContain('warning');
    expect(generated.fragment).toEqual({
      ServerURL: `https://gateway.site.test:${port}`,
      ServerCertificate: upstream.pki.ca.certPath,
    });

    const device = await provisionedDevice('hosts-single', generated);
    await device.waitForLog(CLIENT_LOG.authenticated, 30_000);
    expectGenuineAuth(upstream, device);
    expect(authRequestsOn(gw)).toBeGreaterThan(0);
  }, 90_000);

  it('primary and standby: with the primary down, the client fails over to the standby by its own name', async () => {
    // Both gateways use the same port on different loopback addresses, as they would on two
    // machines; only the standby runs.
    const port = await freePort();
    const primaryConf = await gatewayConf('gateway.site.test', '127.0.0.1', port);
    const standby = await started(await gatewayConf('gw2.site.test', '127.0.0.3', port));
    const generated = await generate('standby', primaryConf, [
      '--ip',
      '127.0.0.1',
      '--ip',
      'gw2.site.test=127.0.0.3',
    ]);
    expect(generated.hostsText).toBe(
      '# Mender gateway names (mender-gw device-hosts gen)\n127.0.0.1 gateway.site.test\n127.0.0.3 gw2.site.test\n',
    );
    expect(generated.fragment.Servers).toEqual([
      { ServerURL: `https://gateway.site.test:${port}` },
      { ServerURL: `https://gw2.site.test:${port}` },
    ]);

    const device = await provisionedDevice('hosts-standby', generated);
    await device.waitForLog(CLIENT_LOG.authenticated, 60_000);
    expectGenuineAuth(upstream, device);
    expect(authRequestsOn(standby)).toBeGreaterThan(0);
  }, 120_000);
});
