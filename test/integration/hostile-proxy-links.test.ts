import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { proxyLink } from '../../src/core/artifacts/artifact-link.js';
import { startCacheScenario, DEVICE_TYPE } from '../support/cache-scenario.js';
import type { CacheScenario } from '../support/cache-scenario.js';
import { pollNext } from '../support/simulated-device.js';
import type { SimulatedDevice } from '../support/simulated-device.js';

/**
 * Crafted proxy-only links (ArtifactsProxy without the cache). A proxy link carries the storage
 * URL itself, so a device can write its own: a URL whose parsed form looks like an allowed
 * target (the upstream's artifact route, a whitelisted host) while its raw form, with
 * backslashes or encoded dot segments, points somewhere else, such as the upstream's management
 * API. The gateway must fetch exactly the URL it checked, and only from storage on the
 * DomainWhitelist: the fake upstream records every request, and the API host must see none.
 */

const provides = { device_type: DEVICE_TYPE, artifact_name: 'release-0' };
const ARTIFACTS = '/api/devices/v1/gateway/artifacts';
const USERS = '/api/management/v1/useradm/users';

async function download(url: string): Promise<{ status: number; type: string; error: unknown }> {
  const res = await request(url);
  const text = await res.body.text();
  let error: unknown;
  try {
    error = (JSON.parse(text) as { error?: unknown }).error;
  } catch {
    error = undefined;
  }
  return { status: res.statusCode, type: String(res.headers['content-type']), error };
}

/** Targets built from the upstream's API origin (`api`) and the storage origin (`storage`). */
const CRAFTED: [string, (api: string, storage: string) => string][] = [
  ['backslashes and dot segments', (api) => `${api}${USERS}\\..\\..\\..\\..\\..${ARTIFACTS}/x`],
  ['plain dot segments', (api) => `${api}${USERS}/../../../../..${ARTIFACTS}/x`],
  ['%2e%2e segments', (api) => `${api}${USERS}/%2e%2e/%2E%2E/%2e%2e/%2e%2e/%2e%2e${ARTIFACTS}/x`],
  [
    '%5c separators under the artifact route',
    (api) => `${api}${ARTIFACTS}/..%5c..%5c..%5c..%5cmanagement%5cv1%5cuseradm%5cusers`,
  ],
  ['mixed .%2e, %2E. and backslashes', (api) => `${api}${USERS}/.%2e\\%2E.\\..%5C/.%2e/..${ARTIFACTS}/x`],
  ['a backslash in the authority', (api, storage) => `${storage}\\@${new URL(api).host}${USERS}`],
  ['dot segments on the storage host', (_api, storage) => `${storage}/bucket/../../..${USERS}`],
];

describe('crafted proxy-only links never leave the storage host', () => {
  let s: CacheScenario;
  let device: SimulatedDevice;

  beforeAll(async () => {
    s = await startCacheScenario({ cache: false });
    device = await s.newDevice();
  });
  afterAll(async () => {
    await s.close();
  });

  const apiRequests = (): string[] =>
    s.upstream.state.requests.filter((r) => r.host === 'api').map((r) => r.url);

  it.each(CRAFTED)(
    'refuses a link with %s: 400/403 JSON, nothing fetched off storage',
    async (_name, target) => {
      const before = apiRequests().length;
      const link = proxyLink(new URL(s.gatewayUrl), target(s.upstream.url, s.upstream.storageUrl));
      const answer = await download(link.href);
      expect([400, 403]).toContain(answer.status);
      expect(answer.type).toMatch(/application\/json/);
      expect(answer.error).toEqual(expect.any(String));
      expect(apiRequests().slice(before)).toEqual([]);
    },
  );

  it('still serves a genuine link', async () => {
    s.addArtifact('genuine', 4096);
    const link = (await pollNext(s.gw.url, device, provides)).json!.artifact.source.uri;
    expect((await download(link)).status).toBe(200);
  });
});

describe('proxy-only links when the upstream host itself is whitelisted', () => {
  let s: CacheScenario;

  beforeAll(async () => {
    // The API listens on 127.0.0.1, storage on 127.0.0.2: here both are on the whitelist.
    s = await startCacheScenario({ cache: false, whitelist: ['127.0.0.2', '127.0.0.1'] });
  });
  afterAll(async () => {
    await s.close();
  });

  it.each([
    ['the management API', USERS],
    ['the device API outside artifact links', '/api/devices/v1/deployments/device/deployments/next'],
  ])('never fetches %s through a proxy link', async (_name, path) => {
    const before = s.upstream.state.requests.filter((r) => r.host === 'api').length;
    const answer = await download(proxyLink(new URL(s.gatewayUrl), `${s.upstream.url}${path}`).href);
    expect(answer.status).toBe(403);
    expect(answer.type).toMatch(/application\/json/);
    expect(s.upstream.state.requests.filter((r) => r.host === 'api').length).toBe(before);
  });
});
