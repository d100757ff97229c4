import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FakeUpstream } from './fake-upstream/index.js';
import { freePort } from './free-port.js';
import { siteGatewayConf } from './site-gateway-conf.js';
import { startServeProcess } from './serve-process.js';
import type { ServeProcess } from './serve-process.js';

/**
 * The built `mender-gw serve` as a site runs it for a fleet (load and soak):
 * HTTPS to the devices with a certificate from the fake upstream's CA, the artifact cache on in
 * `dir/cache`, storage (127.0.0.2) whitelisted. Devices reach it at `serve.urls.https`.
 */
export async function startFleetGateway(
  upstream: FakeUpstream,
  dir: string,
  signatureSecret: string,
): Promise<ServeProcess> {
  const port = await freePort();
  const cert = await upstream.pki.issueServer('gateway.fake.test', {
    dns: ['gateway.fake.test'],
    ips: ['127.0.0.1'],
  });
  const conf = join(dir, 'mender-gateway.conf');
  await writeFile(
    conf,
    JSON.stringify(siteGatewayConf({ upstream, port, cert, cacheDir: join(dir, 'cache'), signatureSecret })),
  );
  return startServeProcess(conf);
}
