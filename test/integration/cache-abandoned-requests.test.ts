import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { IN_USE_DIR } from '../../src/core/cache/entry-pins.js';
import { pruneCache } from '../../src/core/cache/cache-prune.js';
import { startCacheScenario, DEVICE_TYPE } from '../support/cache-scenario.js';
import type { CacheScenario } from '../support/cache-scenario.js';
import { pollNext } from '../support/simulated-device.js';
import { waitUntil } from '../support/wait-until.js';

/**
 * A device that hangs up while the gateway still waits for storage's first bytes (cache mode,
 * an artifact not cached yet, slow storage) must not leave its entry pinned: a pin that is never
 * released makes the entry impossible to evict or prune ("in use by a running serve") for the
 * life of the process. Pins belong to the device's exchange and end with it, whichever way.
 */

const DEVICES = 20;

describe('cache pins of devices that leave before storage answers', () => {
  let s: CacheScenario;
  let releaseStorage: () => void = () => undefined;
  let storageHeld = 0;

  beforeAll(async () => {
    s = await startCacheScenario();
    const gate = new Promise<void>((resolve) => (releaseStorage = resolve));
    // Storage answers nothing until the test lets it: the gateway waits for its first bytes.
    s.upstream.intercept(async (req) => {
      if (req.headers.host !== new URL(s.upstream.storageUrl).host) return false;
      storageHeld++;
      await gate;
      return false;
    });
  });
  afterAll(async () => {
    releaseStorage();
    await s.close();
  });

  /** Pin markers of this process, as `cache prune` sees them. */
  const markers = (): string[] => {
    try {
      return readdirSync(join(s.cacheDir, IN_USE_DIR));
    } catch {
      return [];
    }
  };

  it(`releases every pin when ${DEVICES} devices disconnect before storage's first byte`, async () => {
    // One artifact per device, so each device's request waits on its own storage download.
    const links: string[] = [];
    const device = await s.newDevice();
    for (let i = 0; i < DEVICES; i++) {
      s.addArtifact(`abandoned-${i}`, 8 * 1024);
      links.push(
        (await pollNext(s.gw.url, device, { device_type: DEVICE_TYPE, artifact_name: 'release-0' })).json!
          .artifact.source.uri,
      );
    }
    const controllers = links.map(() => new AbortController());
    const downloads = links.map((link, i) =>
      request(link, { signal: controllers[i]!.signal }).then(
        async (res) => {
          await res.body.dump();
          return res.statusCode;
        },
        () => 'aborted' as const,
      ),
    );
    // Every device's request is in the gateway, pinned, waiting for storage.
    await waitUntil('every storage download to start', () => storageHeld === DEVICES);
    for (const controller of controllers) controller.abort();
    expect(await Promise.all(downloads)).toEqual(links.map(() => 'aborted'));
    await waitUntil(
      'the access line of every abandoned request',
      () => s.gw.logs.lines.filter((l) => l.msg === 'request' && l.aborted === true).length >= DEVICES,
    );

    // Storage answers at last; the fills complete for the next devices.
    releaseStorage();
    await waitUntil(
      'every fill to finish',
      () => s.gw.logs.lines.filter((l) => l.msg === 'cache fill finished').length >= DEVICES,
    );

    await waitUntil('no entry left pinned', () => markers().length === 0);
    const plan = await pruneCache(
      s.cacheDir,
      { all: true, olderThanMs: undefined, maxSizeBytes: undefined },
      { dryRun: true },
    );
    expect(plan.skipped).toEqual([]);
    expect(plan.removed).toHaveLength(DEVICES);
  });

  it('still serves the now cached artifacts', async () => {
    const device = await s.newDevice();
    s.addArtifact('after-abandon', 4096);
    const link = (await pollNext(s.gw.url, device, { device_type: DEVICE_TYPE, artifact_name: 'release-0' }))
      .json!.artifact.source.uri;
    const res = await request(link);
    expect(res.statusCode).toBe(200);
    await res.body.arrayBuffer();
    await waitUntil('its pin to be released', () => markers().length === 0);
  });
});
