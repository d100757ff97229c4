import { afterAll, beforeAll, expect, it } from 'vitest';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFakeUpstream } from '../support/fake-upstream/index.js';
import type { FakeUpstream } from '../support/fake-upstream/index.js';
import { BIN } from '../support/serve-process.js';
import { waitUntil } from '../support/wait-until.js';
import {
  assertMender5Usable,
  describeWithMender5,
  MENDER5_LOG,
  printLogsOnFailure,
  startMender5Device,
} from '../support/mender5-device/index.js';
import type { Mender5Device } from '../support/mender5-device/index.js';

const SCRIPT_NAME = 'mender-inventory-mender-gateway';

/**
 * The gateway host is itself a Mender device (docs/protocol.md §1): its own 5.1 client talks to
 * the upstream server directly and runs the shipped inventory script with its stock ones, so the
 * server learns `mender_is_gateway=true` and the Device System id, as Mender's UI expects.
 */
describeWithMender5("the gateway host's own 5.1 client reports it as a gateway", () => {
  let upstream: FakeUpstream;
  let work: string;
  let device: Mender5Device | undefined;

  beforeAll(async () => {
    assertMender5Usable();
    upstream = await startFakeUpstream({ autoAcceptDevices: true });
    work = await mkdtemp(join(tmpdir(), 'mgw-gwhost5-'));
  });

  afterAll(async () => {
    await device?.destroy();
    await (upstream as FakeUpstream | undefined)?.close();
    if ((work as string | undefined) !== undefined) await rm(work, { recursive: true, force: true });
  });

  it('sends mender_is_gateway and mender_gateway_system_id from the shipped script', async () => {
    printLogsOnFailure(() => [device]);
    const conf = join(work, 'mender-gateway.conf');
    await writeFile(
      conf,
      JSON.stringify({
        UpstreamServer: { URL: upstream.url },
        HTTP: { Enabled: true, Listen: '127.0.0.1:8080' },
        Features: { DeviceSystem: { Enabled: true } },
      }),
    );
    // The service's environment file holds the id, as docs/operator-guide.md suggests.
    const envFile = join(work, 'mender-gw.default');
    await writeFile(envFile, 'DEVICE_SYSTEM_ID=ship-7-bridge\n');
    const wrapper = join(work, 'mender-gw');
    await writeFile(
      wrapper,
      `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(BIN)} "$@"\n`,
    );
    await chmod(wrapper, 0o755);

    device = await startMender5Device({
      name: 'gwhost5',
      servers: [upstream.url],
      serverCertificate: upstream.pki.ca.certPath,
      pollSeconds: { update: 300, inventory: 300, retry: 1 },
      // The shipped script, byte for byte; only where `mender-gw` and its files are differs.
      inventoryScripts: {
        [SCRIPT_NAME]: await readFile(join(process.cwd(), 'docs/examples/inventory', SCRIPT_NAME), 'utf8'),
      },
      env: { MENDER_GW_BIN: wrapper, MENDER_GW_CONFIG: conf, MENDER_GW_ENV_FILE: envFile },
    });
    await device.waitForLog('auth', MENDER5_LOG.authenticated, 60_000);
    const id = (await upstream.waitForDevice(device.mac, { status: 'accepted', timeoutMs: 30_000 })).id;
    await waitUntil(
      'an inventory update with the gateway attributes',
      () => (upstream.state.inventory.get(id) ?? []).some((a) => a.name === 'mender_is_gateway'),
      60_000,
    );
    const attributes = new Map((upstream.state.inventory.get(id) ?? []).map((a) => [a.name, a.value]));
    expect(attributes.get('mender_is_gateway')).toBe('true');
    expect(attributes.get('mender_gateway_system_id')).toBe('ship-7-bridge');
    // The stock scripts still ran beside it.
    expect(attributes.get('mgw_device_name')).toBe('gwhost5');
  });
});
