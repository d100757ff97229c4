import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { startFakeUpstream } from '../support/fake-upstream/index.js';
import type { FakeUpstream } from '../support/fake-upstream/index.js';
import { freePort } from '../support/free-port.js';
import { startServeProcess } from '../support/serve-process.js';
import type { ServeProcess } from '../support/serve-process.js';
import { SimulatedDevice, pollNext } from '../support/simulated-device.js';
import { mountTmpfs, privilegedRequired, privilegedSupport, unmount } from '../support/privileged.js';

const MiB = 1024 * 1024;
const SECRET = Buffer.alloc(32, 9).toString('base64');
const support = privilegedSupport();
if (!support.ok)
  console.warn(
    `[cache process faults] kill -9 during eviction: ${support.reason}; ${privilegedRequired ? 'MGW_REQUIRE_PRIVILEGED=1, so it fails' : 'skipped'}`,
  );

async function gatewayConf(
  dir: string,
  upstream: FakeUpstream,
  cacheDir: string,
): Promise<{ conf: string; port: number }> {
  const port = await freePort();
  const conf = join(dir, `gateway-${port}.conf`);
  await writeFile(
    conf,
    JSON.stringify({
      HTTP: { Enabled: true, Listen: `127.0.0.1:${port}` },
      HTTPS: { Enabled: false },
      UpstreamServer: { URL: upstream.url, CACertificate: upstream.pki.ca.certPath },
      Features: {
        ArtifactsProxy: {
          Enabled: true,
          GatewayURL: `http://127.0.0.1:${port}`,
          DomainWhitelist: ['127.0.0.2'],
          ArtifactsCache: {
            Enabled: true,
            Path: cacheDir,
            SignatureSecret: SECRET,
            LinkExpireDuration: '1h',
          },
        },
      },
    }),
  );
  return { conf, port };
}

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

/** Disk and process faults: two gateways on one cache folder by mistake; kill -9 while evicting. */
describe('process faults around the cache', () => {
  let upstream: FakeUpstream;
  let dir: string;
  const running: ServeProcess[] = [];

  beforeAll(async () => {
    upstream = await startFakeUpstream({ autoAcceptDevices: true });
    dir = await mkdtemp(join(tmpdir(), 'mgw-procfault-'));
  });
  afterEach(async () => {
    for (const serve of running.splice(0)) await serve.stop('SIGKILL');
  });
  afterAll(async () => {
    await upstream.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('a second serve on the same cache folder is refused with one clear error and opens no listener', async () => {
    const cacheDir = join(dir, 'shared-cache');
    const first = await gatewayConf(dir, upstream, cacheDir);
    const serve = await startServeProcess(first.conf);
    running.push(serve);

    const second = await gatewayConf(dir, upstream, cacheDir);
    const mistaken = await startServeProcess(second.conf).catch((err: unknown) => err);
    // startServeProcess rejects when the process exits before listening; either way, look at the exit.
    expect(mistaken).toBeInstanceOf(Error);
    expect((mistaken as Error).message).toContain('MGW_CACHE_LOCKED');
    expect((mistaken as Error).message).toContain(`in use by another mender-gw serve (PID ${serve.pid}`);
    expect(await refused(second.port)).toBe(true);

    // The first gateway is undisturbed: its lock, its files, its service.
    expect(JSON.parse(await readFile(join(cacheDir, '.serve.lock'), 'utf8'))).toMatchObject({
      pid: serve.pid,
    });
    const device = new SimulatedDevice('02:00:00:07:00:01');
    expect(await device.authenticate(serve.urls.http!)).toBe(200);
  });

  describe.skipIf(!support.ok && !privilegedRequired)('on a 20 MiB tmpfs', () => {
    let mountDir: string | undefined;
    afterAll(() => {
      if (mountDir !== undefined) unmount(mountDir);
    });

    it('kill -9 while evicting, then restart: every indexed entry is whole and every artifact is served right', async () => {
      if (!support.ok) throw new Error(`MGW_REQUIRE_PRIVILEGED=1 but: ${support.reason}`);
      mountDir = await mkdtemp(join(tmpdir(), 'mgw-evict-kill-'));
      mountTmpfs(mountDir, 20 * MiB);
      const { conf } = await gatewayConf(dir, upstream, mountDir);
      let serve = await startServeProcess(conf);
      running.push(serve);
      const device = new SimulatedDevice('02:00:00:07:00:02');
      expect(await device.authenticate(serve.urls.http!)).toBe(200);

      const artifacts: { name: string; sha256: string; link: string }[] = [];
      let previous: string | undefined;
      const add = async (
        name: string,
        size: number,
      ): Promise<{ name: string; sha256: string; link: string }> => {
        const data = randomBytes(size);
        const artifact = upstream.addArtifact({ name, deviceTypes: ['mgw-sim'], data });
        // One deployment at a time: the device is offered the newest artifact.
        if (previous !== undefined) upstream.abortDeployment(previous);
        previous = upstream.createDeployment({ artifactId: artifact.id }).id;
        const link = (
          await pollNext(serve.urls.http!, device, { device_type: 'mgw-sim', artifact_name: 'initial' })
        ).json!.artifact.source.uri;
        const entry = { name, sha256: sha256(data), link };
        artifacts.push(entry);
        return entry;
      };
      for (const name of ['kill-a', 'kill-b', 'kill-c', 'kill-d']) {
        const a = await add(name, 4 * MiB);
        expect(sha256(Buffer.from(await (await request(a.link)).body.arrayBuffer()))).toBe(a.sha256);
        await serve.logs.waitFor((l) => l.msg === 'cache fill finished' && l.artifact === name);
      }
      // 16 MiB cached; a 9 MiB artifact needs three evictions. Kill the gateway at the first one.
      const big = await add('kill-big', 9 * MiB);
      // The kill may come before the headers or in the middle of the body: either way a cut.
      const cut = request(big.link)
        .then(async (res) => Buffer.from(await res.body.arrayBuffer()))
        .catch((err: unknown) => err);
      await serve.logs.waitFor((l) => l.msg === 'cache entry evicted', 20_000);
      await serve.stop('SIGKILL');
      await cut;

      serve = await startServeProcess(conf);
      running.push(serve);
      // The index after restart: each metadata file has its bytes, at the recorded size; no orphans.
      const names = await readdir(mountDir);
      const metas = names.filter((n) => n.endsWith('.json'));
      for (const meta of metas) {
        const entry = JSON.parse(await readFile(join(mountDir, meta), 'utf8')) as {
          size: number;
          key: string;
        };
        expect((await stat(join(mountDir, `${entry.key}.mender`))).size).toBe(entry.size);
      }
      expect(names.filter((n) => n.endsWith('.mender')).length).toBe(metas.length);
      expect(names.filter((n) => n.endsWith('.partial'))).toEqual([]);

      // Every artifact, evicted or not, is served with the exact bytes by the restarted gateway.
      for (const a of artifacts) {
        const res = await request(a.link);
        expect(res.statusCode, a.name).toBe(200);
        expect(sha256(Buffer.from(await res.body.arrayBuffer())), a.name).toBe(a.sha256);
      }
      expect(serve.logs.lines.filter((l) => l.level === 'error' || l.level === 'fatal')).toEqual([]);
    });
  });
});
