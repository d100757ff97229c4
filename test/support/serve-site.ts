import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFakeUpstream } from './fake-upstream/index.js';
import type { FakeUpstream, FakeUpstreamOptions } from './fake-upstream/index.js';
import { SECRET } from './cache-scenario.js';
import { freePort } from './free-port.js';
import { startServeProcess } from './serve-process.js';
import type { ServeProcess } from './serve-process.js';
import { siteGatewayConf } from './site-gateway-conf.js';

export interface ServeSite {
  upstream: FakeUpstream;
  serve: ServeProcess;
  /** `https://127.0.0.1:<port>`, what devices put in ServerURL. */
  url: string;
  dir: string;
  cacheDir: string;
  /** The configuration as written to `dir/mender-gateway.conf`. */
  conf: Record<string, unknown>;
  close(): Promise<void>;
}

/**
 * The built `mender-gw serve` as a site runs it, in front of a fake upstream: HTTPS to the
 * devices with a certificate (127.0.0.1) from the fake's CA, ArtifactsProxy with the cache in
 * `dir/cache`, storage whitelisted. `features` are merged into `Features` (e.g. mTLS).
 */
export async function startServeSite(
  options: {
    upstream?: FakeUpstreamOptions;
    features?: Record<string, unknown>;
    /** Replaces the HTTPS listener settings (e.g. a server certificate from another CA). */
    https?: Record<string, unknown>;
    cache?: boolean;
  } = {},
): Promise<ServeSite> {
  const upstream = await startFakeUpstream({ autoAcceptDevices: true, ...options.upstream });
  const dir = await mkdtemp(join(tmpdir(), 'mgw-serve-site-'));
  try {
    const port = await freePort();
    const cert = await upstream.pki.issueServer('gateway.fake.test', {
      dns: ['gateway.fake.test'],
      ips: ['127.0.0.1'],
    });
    const cacheDir = join(dir, 'cache');
    const base = siteGatewayConf({
      upstream,
      port,
      cert,
      cacheDir,
      signatureSecret: SECRET,
      cache: options.cache,
    });
    const conf: Record<string, unknown> = {
      ...base,
      HTTPS: { ...(base.HTTPS as Record<string, unknown>), ...options.https },
      Features: { ...(base.Features as Record<string, unknown>), ...options.features },
    };
    const confPath = join(dir, 'mender-gateway.conf');
    await writeFile(confPath, JSON.stringify(conf, null, 2));
    const serve = await startServeProcess(confPath);
    return {
      upstream,
      serve,
      url: serve.urls.https!,
      dir,
      cacheDir,
      conf,
      async close() {
        await serve.stop();
        await upstream.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await upstream.close();
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}
