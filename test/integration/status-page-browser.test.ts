import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { request } from 'undici';
import type { Browser, Page } from 'puppeteer-core';
import { DEVICE_TYPE, SECRET } from '../support/cache-scenario.js';
import { chromiumRequired, findChromium, launchChromium } from '../support/chromium.js';
import { startFakeUpstream } from '../support/fake-upstream/index.js';
import type { FakeUpstream } from '../support/fake-upstream/index.js';
import { freePort } from '../support/free-port.js';
import { REPO_ROOT, startServeProcess } from '../support/serve-process.js';
import type { ServeProcess } from '../support/serve-process.js';
import { SimulatedDevice, pollNext } from '../support/simulated-device.js';
import { siteGatewayConf } from '../support/site-gateway-conf.js';
import { skipBecause } from '../support/skip-reason.js';
import { fakeJwt } from '../support/unsigned-jwt.js';
import { MAX_STATUS_STREAMS } from '../../src/core/status/status-stream.js';

const MiB = 1024 * 1024;
const ARTIFACT = 'status-page-release';
const SIZE = 3 * MiB;
const XSS = '<img src=x onerror="window.__xss=1">';
const provides = { device_type: DEVICE_TYPE, artifact_name: 'initial' };
const chromium = findChromium();
const SCREENSHOT = resolve(REPO_ROOT, 'test-results', 'status-page.png');

/** What the gateway shows as the device's identity: the `sub` of the JWT it was given. */
function subject(device: SimulatedDevice): string {
  const payload = device.jwt!.split('.')[1]!;
  return (JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { sub: string }).sub;
}

/**
 * Wait until `condition`, a JavaScript expression run in the page at every DOM change, is true.
 * Strings, not functions: the test is compiled without the DOM library. `text(id)` is the text
 * of element `id`.
 */
async function waitInPage(page: Page, condition: string): Promise<void> {
  await page.waitForFunction(
    `(() => { const text = (id) => document.getElementById(id)?.textContent ?? ''; return ${condition}; })()`,
    { polling: 'mutation', timeout: 30_000 },
  );
}

/** Wait until the text of element `id` matches `pattern`. */
function waitForText(page: Page, id: string, pattern: RegExp): Promise<void> {
  return waitInPage(page, `new RegExp(${JSON.stringify(pattern.source)}).test(text(${JSON.stringify(id)}))`);
}

async function download(link: string): Promise<number> {
  const res = await request(link);
  return (await res.body.arrayBuffer()).byteLength;
}

/**
 * The status page in Debian's headless Chromium, against the built `serve` in front of the fake
 * upstream with throttled storage: the page, opened once, follows a real cache fill and the
 * devices downloading through it.
 */
describe.skipIf(
  skipBecause(
    chromium === undefined && !chromiumRequired,
    'status page in Chromium',
    'no chromium on PATH (apt-get install chromium, or set MGW_CHROMIUM)',
  ),
)('status page in Chromium', () => {
  let upstream: FakeUpstream;
  let serve: ServeProcess;
  let browser: Browser;
  let page: Page;
  const cleanup: (() => Promise<unknown>)[] = [];
  let dir: string;
  let gatewayUrl: string;

  beforeAll(async () => {
    if (chromium === undefined) throw new Error('chromium not found on PATH (apt-get install chromium)');
    upstream = await startFakeUpstream({ autoAcceptDevices: true });
    cleanup.push(() => upstream.close());
    // About 6 s for the fill: long enough for several page updates, whatever the machine.
    upstream.storageFaults.bytesPerSecond = 512 * 1024;
    dir = await mkdtemp(join(tmpdir(), 'mgw-status-page-'));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    const port = await freePort();
    const metricsPort = await freePort();
    gatewayUrl = `http://127.0.0.1:${port}`;
    const confPath = join(dir, 'mender-gateway.conf');
    await writeFile(
      confPath,
      JSON.stringify(
        siteGatewayConf({
          upstream,
          port,
          cacheDir: join(dir, 'cache'),
          signatureSecret: SECRET,
          metricsPort,
        }),
      ),
    );
    serve = await startServeProcess(confPath);
    cleanup.push(() => serve.stop());
    await serve.logs.waitFor((l) => l.msg === 'listening' && l.listener === 'metrics');
    browser = await launchChromium(chromium);
    cleanup.push(() => browser.close());
    page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 1000 });
    await page.goto(`http://127.0.0.1:${metricsPort}/status`);
    await waitForText(page, 'connection', /^live$/);
  });
  afterAll(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });

  it('follows a fill, the device downloading it, and the bytes a second device saves', async () => {
    const first = new SimulatedDevice('02:00:00:00:05:01');
    expect(await first.authenticate(gatewayUrl)).toBe(200);
    const artifact = upstream.addArtifact({
      name: ARTIFACT,
      deviceTypes: [DEVICE_TYPE],
      data: Buffer.alloc(SIZE, 7),
    });
    upstream.createDeployment({ artifactId: artifact.id });
    const link = (await pollNext(gatewayUrl, first, provides)).json!.artifact.source.uri;
    const firstDownload = download(link);

    // During the fill: the fill with its progress, the artifact filling, the device downloading it.
    const id = subject(first);
    const name = JSON.stringify(ARTIFACT);
    await waitInPage(
      page,
      [
        `text('fills').includes(${name})`,
        `text('fills').includes('/ 3.0 MiB (')`,
        `Number(/\\((\\d+) %\\)/.exec(text('fills'))?.[1] ?? 0) > 0`,
        `Number(/\\((\\d+) %\\)/.exec(text('fills'))?.[1] ?? 100) < 100`,
        `text('artifacts').includes(${name})`,
        `text('artifacts').includes('filling')`,
        `text('devices').includes(${JSON.stringify(id)})`,
        `text('devices').includes(${JSON.stringify(`${ARTIFACT} (miss): downloading`)})`,
      ].join(' && '),
    );

    expect(await firstDownload).toBe(SIZE);
    await waitForText(page, 'fills', /no fill running/);
    await waitForText(page, 'artifacts', new RegExp(`${ARTIFACT}.*complete`));
    await waitForText(page, 'devices', new RegExp(`${ARTIFACT} \\(miss\\): complete 3\\.0 MiB / 3\\.0 MiB`));

    // A second device gets the artifact from the cache: those bytes never crossed the uplink.
    const second = new SimulatedDevice('02:00:00:00:05:02');
    expect(await second.authenticate(gatewayUrl)).toBe(200);
    const secondLink = (await pollNext(gatewayUrl, second, provides)).json!.artifact.source.uri;
    expect(await download(secondLink)).toBe(SIZE);
    await waitForText(page, 'cache-saved', /^3\.0 MiB$/);
    await waitForText(page, 'devices', new RegExp(subject(second)));
    await waitForText(page, 'cache-ratio', /^50 %$/);

    await mkdir(resolve(SCREENSHOT, '..'), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    console.log(`status page screenshot: ${SCREENSHOT}`);
  });

  it('falls back to polling when the live stream is refused', async () => {
    const metrics = new URL(page.url()).origin;
    const streams = await Promise.all(
      Array.from({ length: MAX_STATUS_STREAMS }, () => request(`${metrics}/status/events`)),
    );
    // The page already open holds one stream: at most MAX - 1 of these got one.
    const held = streams.filter((res) => res.statusCode === 200).length;
    expect(held).toBe(MAX_STATUS_STREAMS - 1);
    const second = await browser.newPage();
    try {
      await second.goto(`${metrics}/status`);
      await waitForText(second, 'connection', /^polling$/);
      await waitForText(second, 'artifacts', new RegExp(ARTIFACT));
    } finally {
      await second.close();
      // Hanging up is expected here: undici reports it as an abort error on the body.
      for (const res of streams) res.body.on('error', () => undefined).destroy();
    }
  });

  it('shows a device that calls itself <img onerror> as text', async () => {
    const res = await request(`${gatewayUrl}/api/devices/v1/inventory/device/attributes`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${fakeJwt({ sub: XSS })}`, 'content-type': 'application/json' },
      body: '[]',
    });
    await res.body.dump();
    await waitInPage(
      page,
      `[...document.querySelectorAll('#devices td')].some((td) => td.textContent === ${JSON.stringify(XSS)})`,
    );
    expect(await page.evaluate('document.querySelectorAll("img").length')).toBe(0);
    expect(await page.evaluate('window.__xss')).toBeUndefined();
  });
});
