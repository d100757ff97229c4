import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { REPO_ROOT, startServeProcess } from '../support/serve-process.js';
import type { ServeProcess } from '../support/serve-process.js';
import { startLoopbackServer } from '../support/loopback-server.js';
import type { LoopbackServer } from '../support/loopback-server.js';
import { freePort } from '../support/free-port.js';

/**
 * What serve says about itself at start and in its metrics: the version, the config file, the
 * enabled features and which environment variables overrode the file (names only).
 */
describe('serve reports what runs', () => {
  let dir: string;
  let upstream: LoopbackServer;
  let serve: ServeProcess;
  let metricsPort: number;
  let version: string;

  beforeAll(async () => {
    version = (JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string })
      .version;
    dir = await mkdtemp(join(tmpdir(), 'mgw-startup-'));
    upstream = await startLoopbackServer((_req, res) => res.end());
    metricsPort = await freePort();
    const file = join(dir, 'mender-gateway.conf');
    await writeFile(
      file,
      JSON.stringify({
        HTTP: { Enabled: true, Listen: '127.0.0.1:0' },
        HTTPS: { Enabled: false },
        UpstreamServer: { URL: 'https://placeholder.invalid' },
        Metrics: { Enabled: true, Listen: `127.0.0.1:${String(metricsPort)}` },
      }),
    );
    serve = await startServeProcess(file, { env: { UPSTREAM_SERVER_URL: upstream.url } });
  });
  afterAll(async () => {
    await serve.stop();
    await upstream.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('logs the version, the file, the features and the overriding variables (names, never values)', async () => {
    const line = await serve.logs.waitFor((l) => l.msg === 'loaded configuration');
    expect(line.version).toBe(version);
    expect(line.node).toBe(process.versions.node);
    expect(line.config).toBe(join(dir, 'mender-gateway.conf'));
    expect(line.features).toEqual(['Metrics']);
    expect(line.envOverrides).toEqual(['UPSTREAM_SERVER_URL']);
    expect(JSON.stringify(line)).not.toContain(upstream.url);
  });

  it('exports mender_gw_build_info with the version', async () => {
    const text = await (await request(`http://127.0.0.1:${String(metricsPort)}/metrics`)).body.text();
    expect(text).toContain(`mender_gw_build_info{version="${version}",node="${process.versions.node}"} 1`);
  });
});
