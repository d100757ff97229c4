import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { startFakeUpstream } from '../support/fake-upstream/index.js';
import type { FakeUpstream } from '../support/fake-upstream/index.js';
import { freePort } from '../support/free-port.js';
import { startServeProcess } from '../support/serve-process.js';
import type { ServeProcess } from '../support/serve-process.js';
import { SimulatedDevice, pollNext } from '../support/simulated-device.js';
import { waitUntil } from '../support/wait-until.js';

const MiB = 1024 * 1024;

async function partialBytes(dir: string): Promise<number> {
  let total = 0;
  for (const name of await readdir(dir))
    if (name.endsWith('.partial')) total += (await stat(join(dir, name))).size;
  return total;
}

/** Artifact cache acceptance: a kill -9 of serve mid-fill never leads to a partial file being served. */
describe('kill -9 of serve during a cache fill', () => {
  let upstream: FakeUpstream;
  let dir: string;
  let conf: string;
  let serve: ServeProcess | undefined;
  const data = randomBytes(8 * MiB);
  const expected = createHash('sha256').update(data).digest('hex');

  beforeAll(async () => {
    upstream = await startFakeUpstream({ autoAcceptDevices: true });
    const artifact = upstream.addArtifact({ name: 'crash-1', deviceTypes: ['mgw-sim'], data });
    upstream.createDeployment({ artifactId: artifact.id });
    dir = await mkdtemp(join(tmpdir(), 'mgw-crash-'));
    const port = await freePort();
    conf = join(dir, 'mender-gateway.conf');
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
              Path: join(dir, 'cache'),
              SignatureSecret: Buffer.alloc(32, 7).toString('base64'),
              LinkExpireDuration: '1h',
            },
          },
        },
      }),
    );
  });

  afterAll(async () => {
    await serve?.stop('SIGKILL');
    await upstream.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('discards the partial file at restart and fills again with the right bytes', async () => {
    serve = await startServeProcess(conf);
    const device = new SimulatedDevice('02:00:00:00:cc:01');
    expect(await device.authenticate(serve.urls.http!)).toBe(200);
    const link = (
      await pollNext(serve.urls.http!, device, { device_type: 'mgw-sim', artifact_name: 'initial' })
    ).json!.artifact.source.uri;

    upstream.storageFaults.bytesPerSecond = 2 * MiB;
    const first = await request(link);
    const received = (async () => {
      let bytes = 0;
      try {
        for await (const chunk of first.body) bytes += (chunk as Buffer).length;
      } catch {
        // expected: the gateway dies under us
      }
      return bytes;
    })();
    const cache = join(dir, 'cache');
    let partial = 0;
    const sample = async (): Promise<void> => {
      partial = await partialBytes(cache).catch(() => 0);
    };
    await waitUntil(
      'a partial file of at least 1 MiB',
      () => {
        void sample();
        return partial >= MiB;
      },
      20_000,
    );
    await serve.stop('SIGKILL');
    expect(await received).toBeLessThan(8 * MiB); // the device saw a cut, not a complete body
    const debris = (await readdir(cache)).filter((n) => n.endsWith('.partial'));
    expect(debris.length).toBe(1);
    expect((await readdir(cache)).filter((n) => n.endsWith('.mender'))).toEqual([]);

    upstream.storageFaults.bytesPerSecond = undefined;
    serve = await startServeProcess(conf);
    const removed = await serve.logs.waitFor(
      (l) => l.msg === 'removed leftover of an interrupted cache fill',
    );
    expect(removed.file).toBe(debris[0]);
    expect((await readdir(cache)).filter((n) => n.endsWith('.partial'))).toEqual([]);

    // The same link still works (same secret): a fresh fill, the exact bytes.
    const again = await request(link);
    expect(again.statusCode).toBe(200);
    const hash = createHash('sha256');
    for await (const chunk of again.body) hash.update(chunk as Buffer);
    expect(hash.digest('hex')).toBe(expected);
    const storage = upstream.state.storage.perArtifact.get(upstream.state.artifacts[0]!.id)!;
    expect(storage.fullDownloadsStarted).toBe(2);
  });
});
