import { afterAll, beforeAll, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { startServeSite } from '../support/serve-site.js';
import type { ServeSite } from '../support/serve-site.js';
import { waitUntil } from '../support/wait-until.js';
import {
  assertMender5Usable,
  describeWithMender5,
  MENDER5_LOG,
  printLogsOnFailure,
  startMender5Device,
} from '../support/mender5-device/index.js';
import type { Mender5Device } from '../support/mender5-device/index.js';

/** The Debian 3.4 client's store on the host, which 5.1 would migrate if it ever used its defaults. */
const HOST_STORE = '/var/lib/mender';

/**
 * Every entry under `dir` with its size and modification time ('' when `dir` is missing). On
 * Debian /var/lib/mender is a symlink to /data/mender that may dangle: a client creating the
 * target shows up as a change too.
 */
async function snapshot(dir: string): Promise<string> {
  if (!existsSync(dir)) return '';
  const lines: string[] = [];
  const walk = async (path: string): Promise<void> => {
    for (const entry of await readdir(path, { withFileTypes: true })) {
      const full = join(path, entry.name);
      const info = await stat(full).catch(() => undefined);
      lines.push(`${full} ${String(info?.size)} ${String(info?.mtimeMs)}`);
      if (entry.isDirectory()) await walk(full);
    }
  };
  await walk(dir);
  return lines.sort().join('\n');
}

/** The environment a process was started with, from /proc. */
async function environment(pid: number): Promise<Map<string, string>> {
  const raw = await readFile(`/proc/${pid}/environ`, 'utf8');
  return new Map(
    raw
      .split('\0')
      .filter((entry) => entry.includes('='))
      .map((entry) => [entry.slice(0, entry.indexOf('=')), entry.slice(entry.indexOf('=') + 1)]),
  );
}

/**
 * The 5.1 harness itself: two devices on one machine stay apart from each other and from the
 * host's 3.4 client state, each with its own identity, key, bus, folders and inventory.
 */
describeWithMender5('Mender 5.1 device harness', () => {
  let site: ServeSite;
  const devices: Mender5Device[] = [];
  let hostStoreBefore: string;

  beforeAll(async () => {
    assertMender5Usable();
    hostStoreBefore = await snapshot(HOST_STORE);
    site = await startServeSite();
  });

  afterAll(async () => {
    await Promise.all(devices.map((d) => d.destroy()));
    await (site as ServeSite | undefined)?.close();
  });

  it('runs two isolated devices without touching the host client state', async () => {
    printLogsOnFailure(() => devices);
    const { upstream } = site;
    devices.push(
      ...(await Promise.all(
        ['harness5-a', 'harness5-b'].map((name) =>
          startMender5Device({
            name,
            servers: [site.url],
            serverCertificate: upstream.pki.ca.certPath,
            pollSeconds: { update: 300, inventory: 300, retry: 1 },
            deviceType: `mgw-type-${name}`,
          }),
        ),
      )),
    );
    const [a, b] = devices as [Mender5Device, Mender5Device];
    await Promise.all(devices.map((d) => d.waitForLog('auth', MENDER5_LOG.authenticated, 60_000)));
    expect(a.mac).not.toBe(b.mac);
    expect(a.publicKeyPem).not.toBe(b.publicKeyPem);
    for (const d of devices) {
      const fake = upstream.device(d.mac)!;
      expect(fake.status).toBe('accepted');
      expect(fake.authSets[0]!.pubkey.replace(/\s/g, '')).toBe(d.publicKeyPem.replace(/\s/g, ''));
      await waitUntil(
        `inventory of ${d.name}`,
        () => (upstream.state.inventory.get(fake.id) ?? []).some((x) => x.name === 'mgw_device_name'),
        60_000,
      );
      const inventory = new Map((upstream.state.inventory.get(fake.id) ?? []).map((x) => [x.name, x.value]));
      // Its own device type, and the stock scripts ran with their paths patched to its folders.
      expect(inventory.get('device_type')).toBe(`mgw-type-${d.name}`);
      expect(inventory.get('mgw_device_name')).toBe(d.name);
      expect(inventory.get('update_modules')).toEqual(expect.arrayContaining(['mgw-test-files']));
      expect(inventory.get('interval-update-poll-seconds')).toBe('300');

      const env = await environment(d.updatePid());
      expect(env.get('MENDER_DATASTORE_DIR')).toBe(join(d.dir, 'datastore'));
      expect(env.get('MENDER_DATA_DIR')).toBe(join(d.dir, 'share'));
      expect(env.get('DBUS_SYSTEM_BUS_ADDRESS')).toBe(`unix:path=${join(d.dir, 'bus')}`);
      expect(env.get('PATH')?.split(':')[0]).toBe(join(d.dir, 'bin'));
      // The bootstrap artifact was installed (and removed) into the device's own store.
      expect(existsSync(join(d.dir, 'datastore', 'bootstrap.mender'))).toBe(false);
      expect(existsSync(join(d.dir, 'reboot.log'))).toBe(false);
    }
    expect(await snapshot(HOST_STORE)).toBe(hostStoreBefore);
  }, 150_000);
});
