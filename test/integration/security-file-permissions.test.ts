import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmod, lstat, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { issueCaFiles, issueDeviceFiles, issueServerFiles } from '../../src/core/pki/index.js';
import { applySetup } from '../../src/core/setup/index.js';
import { startCacheScenario, DEVICE_TYPE } from '../support/cache-scenario.js';
import type { CacheScenario } from '../support/cache-scenario.js';
import { pollNext } from '../support/simulated-device.js';

/**
 * Files the gateway and its commands write are not readable by everyone:
 * cache entries 0640 in 0750 folders (the service group may read them, e.g. for backups; nobody
 * else), private keys 0600, and the configuration written by `config init` (it may hold the
 * management password and the link secret) 0600. The umask is 000 for the whole file, so each
 * mode must be set explicitly, not inherited from a cautious default umask.
 */

interface Found {
  path: string;
  mode: number;
  dir: boolean;
}

async function walk(root: string): Promise<Found[]> {
  const out: Found[] = [];
  const visit = async (path: string): Promise<void> => {
    // A fill renames its files as it goes: something listed a moment ago may be gone.
    const stats = await lstat(path).catch((err: unknown) => {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    });
    if (stats === undefined) return;
    out.push({ path, mode: stats.mode & 0o777, dir: stats.isDirectory() });
    if (!stats.isDirectory()) return;
    const names = await readdir(path).catch(() => [] as string[]);
    for (const name of names) await visit(join(path, name));
  };
  await visit(root);
  return out;
}

const octal = (mode: number): string => `0${mode.toString(8)}`;

let savedUmask: number;
let sandbox: string;
beforeAll(async () => {
  savedUmask = process.umask(0o000);
  sandbox = await mkdtemp(join(tmpdir(), 'mgw-perms-'));
});
afterAll(async () => {
  process.umask(savedUmask);
  await rm(sandbox, { recursive: true, force: true });
});

describe('artifact cache files', () => {
  let s: CacheScenario;
  let cacheDir: string;

  beforeAll(async () => {
    // A folder the store creates itself, one level deeper than its parent.
    cacheDir = join(sandbox, 'var', 'cache', 'mender-gateway');
    s = await startCacheScenario({ cacheDir });
  });
  afterAll(async () => {
    await s.close();
  });

  it('creates folders 0750 and files 0640, during a fill and after it, whatever the umask', async () => {
    const device = await s.newDevice();
    s.addArtifact('perms-1', 2 * 1024 * 1024);
    const link = (await pollNext(s.gw.url, device, { device_type: DEVICE_TYPE, artifact_name: 'x' })).json!
      .artifact.source.uri;
    // Slow storage, so the fill's partial file and pin markers can be seen while it runs.
    s.upstream.storageFaults.bytesPerSecond = 1024 * 1024;
    const downloading = request(link).then(async (res) => {
      await res.body.arrayBuffer();
      return res.statusCode;
    });
    let during: Found[] = [];
    const deadline = Date.now() + 8_000;
    while (!during.some((f) => f.path.endsWith('.partial')) && Date.now() < deadline) {
      during = await walk(cacheDir);
    }
    expect(during.some((f) => f.path.endsWith('.partial'))).toBe(true);
    expect(await downloading).toBe(200);
    delete s.upstream.storageFaults.bytesPerSecond;
    // The fill publishes its entry (fsync, rename) just after the last byte went out.
    let after: Found[] = [];
    const published = Date.now() + 5_000;
    while (!after.some((f) => f.path.endsWith('.mender')) && Date.now() < published)
      after = await walk(cacheDir);
    expect(after.some((f) => f.path.endsWith('.mender'))).toBe(true);
    expect(after.some((f) => f.path.endsWith('.json'))).toBe(true);

    for (const found of [...during, ...after]) {
      const expected = found.dir ? 0o750 : 0o640;
      expect(octal(found.mode), found.path).toBe(octal(expected));
    }
    // The parents the store created on the way are no wider either.
    expect(octal((await lstat(join(sandbox, 'var'))).mode & 0o777)).toBe(octal(0o750));
  });
});

describe('private keys and the configuration written by the commands', () => {
  it('cert issue: keys 0600, certificates 0644', async () => {
    const out = join(sandbox, 'pki');
    await issueCaFiles({ outDir: out, commonName: 'Permissions CA' });
    await issueServerFiles({
      outDir: out,
      dns: ['gateway.test'],
      caCertificatePath: join(out, 'ca.crt'),
      caKeyPath: join(out, 'ca.key'),
    });
    await issueDeviceFiles({
      outDir: join(out, 'devices'),
      identity: 'mac=02:00:00:00:00:01',
      count: 2,
      caCertificatePath: join(out, 'ca.crt'),
      caKeyPath: join(out, 'ca.key'),
    });
    const files = (await walk(out)).filter((f) => !f.dir);
    expect(files.filter((f) => f.path.endsWith('.key'))).toHaveLength(4);
    for (const file of files) {
      expect(octal(file.mode), file.path).toBe(octal(file.path.endsWith('.key') ? 0o600 : 0o644));
    }
  });

  it('cert issue --force: a replaced key that was world-readable comes out 0600', async () => {
    const out = join(sandbox, 'pki-force');
    await issueCaFiles({ outDir: out, commonName: 'Force CA' });
    await chmod(join(out, 'ca.key'), 0o666);
    await issueCaFiles({ outDir: out, commonName: 'Force CA', force: true });
    expect(octal((await lstat(join(out, 'ca.key'))).mode & 0o777)).toBe(octal(0o600));
  });

  it('config init: the configuration 0600, the created CA and server keys 0600', async () => {
    const dir = join(sandbox, 'etc');
    const result = await applySetup({
      out: join(dir, 'mender-gateway.conf'),
      cwd: dir,
      answers: {
        upstreamUrl: 'https://hosted.mender.io',
        upstreamCa: undefined,
        gatewayName: 'gateway.site.test',
        gatewayIp: '10.0.0.1',
        httpsPort: 8443,
        createCerts: true,
        certDir: join(dir, 'pki'),
        serverCert: undefined,
        serverKey: undefined,
        artifactsProxy: true,
        domainWhitelist: ['s3.amazonaws.com'],
        cache: true,
        cachePath: join(sandbox, 'setup-cache'),
        signatureSecret: Buffer.alloc(32, 7).toString('base64'),
        mtls: false,
        mtlsCa: undefined,
        menderUsername: undefined,
        menderPassword: undefined,
        systemId: undefined,
        keepCaKey: true,
      },
    });
    expect(octal((await lstat(result.file)).mode & 0o777)).toBe(octal(0o600));
    const keys = (await walk(join(dir, 'pki'))).filter((f) => f.path.endsWith('.key'));
    expect(keys.length).toBeGreaterThanOrEqual(2);
    for (const key of keys) expect(octal(key.mode), key.path).toBe(octal(0o600));
  });
});
