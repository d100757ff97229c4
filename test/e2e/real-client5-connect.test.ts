import { afterAll, beforeAll, expect, it } from 'vitest';
import type { WebSocket } from 'ws';
import { CONNECT_PATH } from '../support/fake-upstream/index.js';
import { RemoteTerminal } from '../support/remote-terminal.js';
import { startServeSite } from '../support/serve-site.js';
import type { ServeSite } from '../support/serve-site.js';
import { findBinary } from '../support/mender-device/find-binary.js';
import { skipBecause } from '../support/skip-reason.js';
import { waitUntil } from '../support/wait-until.js';
import {
  assertMender5Usable,
  describeWithMender5,
  MENDER5_LOG,
  printLogsOnFailure,
  mender5Required,
  startMender5Device,
} from '../support/mender5-device/index.js';
import type { Mender5Device } from '../support/mender5-device/index.js';

const connectMissing = findBinary('mender-connect') === undefined;

/**
 * A remote terminal to a Mender 5.1 device through `serve`. Debian's mender-connect 2.1 asks
 * 5.1's mender-auth over the device's D-Bus for the JWT and the URL of mender-auth's local
 * forwarder, which dials the deviceconnect WebSocket on its own TLS connection to the gateway.
 * The test plays the server's side of the session (what Mender's UI does through deviceconnect).
 */
describeWithMender5('remote terminal over mender-connect and Mender 5.1 through serve', () => {
  let site: ServeSite;
  let device: Mender5Device;
  const tunnels: { ws: WebSocket; device: { id: string; identity: Record<string, unknown> } }[] = [];

  beforeAll(async () => {
    assertMender5Usable();
    if (connectMissing && mender5Required)
      throw new Error('mender-connect not found on PATH (apt-get install mender-connect)');
    site = await startServeSite();
    site.upstream.setTunnelHandler((ws, d) => {
      tunnels.push({ ws, device: d });
    });
  });

  afterAll(async () => {
    await (device as Mender5Device | undefined)?.destroy();
    await (site as ServeSite | undefined)?.close();
  });

  it.skipIf(
    skipBecause(
      connectMissing && !mender5Required,
      'remote terminal over mender-connect',
      'mender-connect not found on PATH (apt-get install mender-connect)',
    ),
  )(
    'opens the tunnel through the gateway and runs a command in a remote shell',
    async () => {
      printLogsOnFailure(() => [device]);
      device = await startMender5Device({
        name: 'connect5',
        servers: [site.url],
        serverCertificate: site.upstream.pki.ca.certPath,
        pollSeconds: { update: 300, inventory: 300, retry: 1 },
        connect: true,
      });
      await device.waitForLog('auth', MENDER5_LOG.authenticated, 60_000);
      await waitUntil('the deviceconnect tunnel of mender-connect', () => tunnels.length > 0, 60_000);
      const tunnel = tunnels[0]!;
      expect(tunnel.device.identity).toEqual({ mac: device.mac });

      // The upgrade crossed the gateway with the device's JWT and the device's address.
      const upgrade = site.upstream.state.requests.find(
        (r) => r.upgrade && r.path === CONNECT_PATH && r.status === 101,
      );
      expect(upgrade?.headers.authorization).toMatch(/^Bearer /);
      expect(upgrade?.headers['x-forwarded-for']).toBe('127.0.0.1');
      await site.serve.logs.waitFor((l) => l.msg === 'websocket tunnel opened' && l.path === CONNECT_PATH);

      const terminal = new RemoteTerminal(tunnel.ws);
      expect(await terminal.spawn(30_000)).toBe('Shell started');
      terminal.type('echo "mgw-$((6 * 7))"');
      // The terminal echoes the typed line; only the shell on the device turns it into 42.
      expect(await terminal.waitForOutput(/mgw-42/, 30_000)).toMatch(/mgw-42\r?\n/);
      expect(await terminal.stop(30_000)).toBe(1);

      // mender-connect going away closes the tunnel; the gateway logs it and keeps serving.
      await device.stop();
      await site.serve.logs.waitFor((l) => l.msg === 'websocket tunnel closed', 30_000);
      expect(site.serve.child.exitCode).toBeNull();
      expect(site.serve.logs.lines.filter((l) => l.level === 'error')).toEqual([]);
    },
    180_000,
  );
});
