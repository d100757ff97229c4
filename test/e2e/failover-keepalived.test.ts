import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createBridgeLab } from '../support/bridge-lab.js';
import type { BridgeLab, LabNode } from '../support/bridge-lab.js';
import { SECRET } from '../support/cache-scenario.js';
import { startFakeUpstream } from '../support/fake-upstream/index.js';
import type { FakeUpstream } from '../support/fake-upstream/index.js';
import { startKeepalived, VRRP_STATE } from '../support/keepalived.js';
import type { Keepalived } from '../support/keepalived.js';
import type { LogLine } from '../support/log-capture.js';
import {
  buildArtifact,
  DEFAULT_DEVICE_TYPE,
  installedPayloadMatches,
  waitForDeploymentResult,
} from '../support/mender-device/index.js';
import {
  assertMender5Usable,
  describeWithMender5,
  MENDER5_LOG,
  printLogsOnFailure,
  startMender5Device,
} from '../support/mender5-device/index.js';
import type { Mender5Device } from '../support/mender5-device/index.js';
import { networkNamespaceSupport, privilegedRequired } from '../support/privileged.js';
import { startServeProcess } from '../support/serve-process.js';
import type { ServeProcess } from '../support/serve-process.js';
import { siteGatewayConf } from '../support/site-gateway-conf.js';
import { skipBecause } from '../support/skip-reason.js';
import { waitUntil } from '../support/wait-until.js';

const MiB = 1024 * 1024;
/** Storage is throttled so the first download takes about 8 s; the gateway dies after CUT_AT bytes. */
const PAYLOAD_BYTES = 2 * MiB;
const STORAGE_BYTES_PER_SECOND = 256 * 1024;
const CUT_AT = 512 * 1024;
const ARTIFACT_PATH = '/api/devices/v1/gateway/artifacts/';

const lab = networkNamespaceSupport(['keepalived', 'curl']);

interface Gateway {
  node: LabNode;
  serve: ServeProcess;
  keepalived: Keepalived;
}

function garpFor(address: string): RegExp {
  return new RegExp(`Sending gratuitous ARP on \\S+ for ${address.replaceAll('.', '\\.')}`);
}

function isArtifactRequest(l: LogLine): boolean {
  return l.msg === 'request' && String(l.path).startsWith(ARTIFACT_PATH);
}

/**
 * The floating address of docs/operator-guide.md §7, for real: two built `serve`s, each in its own
 * network namespace with keepalived running the SHIPPED docs/examples/keepalived files, one
 * Mender 5.1 device in a third namespace whose only ServerURL is the virtual IP, and the fake
 * upstream on the bridge in the root namespace. The active gateway is killed (SIGKILL) in the
 * middle of a throttled download: its check fails, keepalived moves the address, and the device
 * resumes (closed Range, after the client's fixed 60 s) and finishes through the other gateway,
 * which accepts the link signed by the first one (same SignatureSecret). 5.1 never switches
 * server by itself here: it has only one.
 */
describeWithMender5('floating address with keepalived: the active gateway dies mid-download', () => {
  describe.skipIf(
    skipBecause(!lab.ok && !privilegedRequired, 'keepalived failover', lab.ok ? '' : lab.reason),
  )('two gateways, one virtual IP', () => {
    let network: BridgeLab | undefined;
    let upstream: FakeUpstream | undefined;
    let work: string | undefined;
    let device: Mender5Device | undefined;
    const gateways: Gateway[] = [];

    beforeAll(async () => {
      assertMender5Usable();
      if (!lab.ok) throw new Error(`MGW_REQUIRE_PRIVILEGED=1 but: ${lab.reason}`);
      work = await mkdtemp(join(tmpdir(), 'mgw-failover-'));
      network = await createBridgeLab();
      upstream = await startFakeUpstream({
        autoAcceptDevices: true,
        hosts: { api: await network.addBridgeAddress(1), storage: await network.addBridgeAddress(2) },
      });
    }, 60_000);

    afterAll(async () => {
      await device?.destroy();
      for (const gw of gateways) {
        await gw.keepalived.stop();
        await gw.serve.stop();
      }
      await upstream?.close();
      await network?.destroy();
      if (work !== undefined) await rm(work, { recursive: true, force: true });
    }, 60_000);

    it('moves the address to the standby and the device finishes its update there', async () => {
      const net = network!;
      const up = upstream!;
      printLogsOnFailure(() => [device]);
      onTestFailed(async () => {
        for (const gw of gateways) {
          console.warn(`--- ${gw.node.name} keepalived (end) ---\n${await gw.keepalived.tail()}`);
          console.warn(`--- ${gw.node.name} serve stderr ---\n${gw.serve.stderr()}`);
        }
      });
      const vip = net.address(10);
      // One certificate for the shared address, on both gateways.
      const cert = await up.pki.issueServer('gw.failover.test', { dns: ['gw.failover.test'], ips: [vip] });

      for (const [index, name] of ['gw1', 'gw2'].entries()) {
        const node = await net.addNode(name, 11 + index);
        const conf = siteGatewayConf({
          upstream: up,
          port: 443,
          listen: ':443',
          gatewayUrl: `https://${vip}`,
          cert,
          cacheDir: join(work!, `cache-${name}`),
          signatureSecret: SECRET,
          whitelist: [new URL(up.storageUrl).hostname],
        });
        const confPath = join(work!, `${name}.conf`);
        await writeFile(confPath, JSON.stringify(conf, null, 2));
        const serve = await startServeProcess(confPath, { netns: node.netns });
        const dir = join(work!, `keepalived-${name}`);
        await mkdir(dir, { mode: 0o700 });
        const keepalived = await startKeepalived({
          netns: node.netns,
          iface: node.iface,
          virtualAddress: vip,
          prefixLength: net.prefixLength,
          dir,
        });
        gateways.push({ node, serve, keepalived });
      }

      // One of them takes the address once its check passes; the other stays backup.
      const holdsVip = async (gw: Gateway): Promise<boolean> =>
        (await net.ip(gw.node, ['-4', '-o', 'addr', 'show', 'dev', gw.node.iface])).includes(` ${vip}/`);
      await Promise.any(gateways.map((gw) => gw.keepalived.waitForLog(VRRP_STATE.master, 60_000)));

      const deviceNode = await net.addNode('device', 30);
      device = await startMender5Device({
        name: 'failover5',
        servers: [`https://${vip}`],
        serverCertificate: up.pki.ca.certPath,
        pollSeconds: { update: 300, inventory: 300, retry: 1 },
        netns: deviceNode.netns,
      });
      await device.waitForLog('auth', MENDER5_LOG.authenticated, 60_000);

      const payload = randomBytes(PAYLOAD_BYTES);
      const built = await buildArtifact({
        name: 'release-failover',
        deviceType: DEFAULT_DEVICE_TYPE,
        payload,
        outDir: work!,
      });
      const artifact = up.addArtifact({
        name: 'release-failover',
        deviceTypes: [DEFAULT_DEVICE_TYPE],
        data: built.data,
      });
      up.storageFaults.bytesPerSecond = STORAGE_BYTES_PER_SECOND;
      const deployment = up.createDeployment({ artifactId: artifact.id });
      const updateLog = await device.logSize('update');
      device.checkUpdate();

      // The download runs through whichever gateway holds the address; kill that one once storage
      // has sent CUT_AT bytes of the artifact, i.e. in the middle of the device's download.
      const counters = (): { bytesSent: number } | undefined => up.state.storage.perArtifact.get(artifact.id);
      await waitUntil(
        'storage to send the first bytes',
        () => (counters()?.bytesSent ?? 0) >= CUT_AT,
        60_000,
      );
      // Access lines come at the end of a response: the storage request says who is downloading.
      const storageGets = (): typeof up.state.requests =>
        up.state.requests.filter(
          (r) => r.host === 'storage' && r.method === 'GET' && r.path.endsWith(`/${artifact.id}`),
        );
      const fromGateway = (gw: Gateway) => (r: { remoteAddress?: string | undefined }) =>
        r.remoteAddress?.replace(/^::ffff:/, '') === gw.node.address;
      const active = gateways.find((gw) => storageGets().some(fromGateway(gw)));
      expect(active, 'one gateway fills its cache from storage').toBeDefined();
      const standby = gateways.find((gw) => gw !== active)!;
      expect(await holdsVip(active!)).toBe(true);
      expect(await holdsVip(standby)).toBe(false);
      const [activeLog, standbyLog] = [
        await active!.keepalived.logSize(),
        await standby.keepalived.logSize(),
      ];
      await active!.serve.stop('SIGKILL');

      // The check fails, the active one gives the address up, the standby takes it.
      await active!.keepalived.waitForLog(VRRP_STATE.fault, 60_000, activeLog);
      await standby.keepalived.waitForLog(VRRP_STATE.master, 60_000, standbyLog);
      // Logged once the address is on the interface.
      await standby.keepalived.waitForLog(garpFor(vip), 30_000, standbyLog);
      expect(await holdsVip(standby)).toBe(true);
      expect(await holdsVip(active!)).toBe(false);

      // The device resumes after its fixed 60 s wait, now through the standby, and installs.
      await device.waitForLog('update', /msg="Resuming download after \d+ seconds/, 90_000, updateLog);
      expect(await waitForDeploymentResult(up, device.mac, deployment.id, 180_000)).toBe('success');
      expect(await installedPayloadMatches(device.installedDir, built.payloadName, payload)).toBe(true);

      // The standby answered the resume with 206 for the rest, from the link the active one signed.
      const resumed = standby.serve.logs.lines.filter(isArtifactRequest);
      expect(resumed.map((l) => l.status)).toContain(206);
      expect(resumed.every((l) => l.status === 200 || l.status === 206)).toBe(true);

      // Storage sent the artifact at most once to each gateway.
      for (const gw of gateways)
        expect(
          storageGets().filter(fromGateway(gw)).length,
          `storage GETs from ${gw.node.name}`,
        ).toBeLessThanOrEqual(1);
      expect(storageGets().length).toBe(2);
    }, 420_000);
  });
});
