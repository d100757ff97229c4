import { afterAll, beforeAll, expect, it } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFakeUpstream } from '../support/fake-upstream/index.js';
import type { FakeUpstream } from '../support/fake-upstream/index.js';
import { SECRET } from '../support/cache-scenario.js';
import { freePort } from '../support/free-port.js';
import type { LogLine } from '../support/log-capture.js';
import { startServeProcess } from '../support/serve-process.js';
import type { ServeProcess } from '../support/serve-process.js';
import { siteGatewayConf } from '../support/site-gateway-conf.js';
import {
  assertMender5Usable,
  describeWithMender5,
  MENDER5_LOG,
  printLogsOnFailure,
  startMender5Device,
} from '../support/mender5-device/index.js';
import type { Mender5Device } from '../support/mender5-device/index.js';

const AUTH = '/api/devices/v1/authentication/auth_requests';
const NEXT_V2 = '/api/devices/v2/deployments/device/deployments/next';
/** Seconds between deployments/next polls in the device's mender.conf. */
const POLL_SECONDS = 3;

interface Gateway {
  name: string;
  serve: ServeProcess;
  url: string;
}

/** An access line of `gw` for `path` with `status`, logged after `from` lines (already or still to come). */
function accessLine(
  gw: Gateway,
  path: string,
  status: number,
  from = 0,
  timeoutMs = 60_000,
): Promise<LogLine> {
  const match = (l: LogLine): boolean => l.msg === 'request' && l.path === path && l.status === status;
  const seen = gw.serve.logs.lines.slice(from).find(match);
  if (seen !== undefined) return Promise.resolve(seen);
  return gw.serve.logs.waitFor((l) => match(l) && gw.serve.logs.lines.indexOf(l) >= from, timeoutMs);
}

/**
 * A draining primary with the current client (5.1): it changes server only when it
 * authenticates, which it does after a 401 (docs/protocol.md §8.4). Two built `serve`s in front
 * of one fake upstream, the same SignatureSecret; the device lists both in `Servers` and works
 * through the primary. After SIGUSR2 on the primary, its next call gets 401, its auth request 503
 * there and 200 at the standby, and its polls go to the standby from then on.
 */
describeWithMender5('Mender 5.1 client and a draining primary gateway', () => {
  let upstream: FakeUpstream;
  let work: string;
  const gateways: Gateway[] = [];
  let device: Mender5Device | undefined;

  async function startGateway(name: string): Promise<Gateway> {
    const port = await freePort();
    const cert = await upstream.pki.issueServer(`${name}.fake.test`, {
      dns: [`${name}.fake.test`],
      ips: ['127.0.0.1'],
    });
    const conf = siteGatewayConf({
      upstream,
      port,
      cert,
      cacheDir: join(work, `cache-${name}`),
      signatureSecret: SECRET,
    });
    const path = join(work, `${name}.conf`);
    await writeFile(path, JSON.stringify(conf, null, 2));
    const serve = await startServeProcess(path);
    const gw = { name, serve, url: serve.urls.https! };
    gateways.push(gw);
    return gw;
  }

  beforeAll(async () => {
    assertMender5Usable();
    upstream = await startFakeUpstream({ autoAcceptDevices: true });
    work = await mkdtemp(join(tmpdir(), 'mgw-drain5-'));
  });

  afterAll(async () => {
    await device?.destroy();
    for (const gw of gateways) await gw.serve.stop();
    await (upstream as FakeUpstream | undefined)?.close();
    if ((work as string | undefined) !== undefined) await rm(work, { recursive: true, force: true });
  });

  it('re-authenticates through the standby after the primary starts draining, and polls there', async () => {
    printLogsOnFailure(() => [device]);
    const primary = await startGateway('primary');
    const standby = await startGateway('standby');
    device = await startMender5Device({
      name: 'drain5',
      servers: [primary.url, standby.url],
      serverCertificate: upstream.pki.ca.certPath,
      pollSeconds: { update: POLL_SECONDS, inventory: 300, retry: 1 },
    });

    // Working through the primary: authenticated there, polling there.
    await device.waitForLog('auth', MENDER5_LOG.authenticated, 60_000);
    await accessLine(primary, AUTH, 200);
    await accessLine(primary, NEXT_V2, 204);
    expect(standby.serve.logs.lines.filter((l) => l.msg === 'request')).toEqual([]);

    const authLog = await device.logSize('auth');
    primary.serve.child.kill('SIGUSR2');
    await primary.serve.logs.waitFor((l) => l.msg.startsWith('draining'));
    const primaryFrom = primary.serve.logs.lines.length;

    // The next call (a check now) gets 401; the new authentication skips the primary (503).
    device.checkUpdate();
    await accessLine(primary, NEXT_V2, 401, primaryFrom);
    await accessLine(primary, AUTH, 503, primaryFrom);
    const moved = await accessLine(standby, AUTH, 200);
    await device.waitForLog('auth', MENDER5_LOG.authenticated, 60_000, authLog);

    // From then on the device polls the standby: the next regular poll arrives there.
    const standbyFrom = standby.serve.logs.lines.indexOf(moved) + 1;
    await accessLine(standby, NEXT_V2, 204, standbyFrom, (POLL_SECONDS + 30) * 1000);
    const primaryAfter = primary.serve.logs.lines.length;
    await accessLine(standby, NEXT_V2, 204, standby.serve.logs.lines.length, (POLL_SECONDS + 30) * 1000);
    expect(
      primary.serve.logs.lines.slice(primaryAfter).filter((l) => l.msg === 'request'),
      'no device call returns to the draining primary',
    ).toEqual([]);

    // The 401 was handled as a re-authentication, not as a failed poll: with a body the client
    // did not read, mender-update fails the poll and then aborts on the retried one.
    const updateLog = await device.log('update');
    expect(updateLog).not.toMatch(/severity=(error|fatal)/);
    expect(device.updatePid()).toBeGreaterThan(0);

    // The refusals never counted as upstream trouble, on either gateway.
    for (const gw of gateways)
      expect(gw.serve.logs.lines.filter((l) => l.level === 'error' && l.msg !== 'request')).toEqual([]);
  }, 180_000);
});
