import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { Agent, request } from 'undici';
import { startCacheScenario, DEVICE_TYPE } from '../support/cache-scenario.js';
import type { CacheScenario } from '../support/cache-scenario.js';
import { SimulatedDevice, pollNext } from '../support/simulated-device.js';

const DEVICES = 300;

/**
 * Regression: under load a device could open the fill's partial file just after it was renamed
 * into the complete entry but before the entry was indexed, give up after three lookups and
 * fetch the artifact again uncached — right bytes, but a second upstream download.
 */
describe(`${DEVICES} devices authenticate, poll and download one artifact at once`, () => {
  let s: CacheScenario;
  let agent: Agent;

  beforeAll(async () => {
    s = await startCacheScenario();
    agent = new Agent({ connections: 64 });
  });
  afterAll(async () => {
    await agent.close();
    await s.close();
  });

  it('costs exactly one storage download and gives every device the exact bytes', async () => {
    const { artifact, sha256 } = s.addArtifact('fanout-load-1', 2 * 1024 * 1024);
    const results = await Promise.allSettled(
      Array.from({ length: DEVICES }, async (_, i) => {
        const device = new SimulatedDevice(
          `02:00:00:02:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`,
        );
        expect(await device.authenticate(s.gw.url, agent)).toBe(200);
        const next = await pollNext(
          s.gw.url,
          device,
          { device_type: DEVICE_TYPE, artifact_name: 'initial' },
          'v2-post',
          {},
          agent,
        );
        const res = await request(next.json!.artifact.source.uri, { dispatcher: agent });
        const hash = createHash('sha256');
        for await (const chunk of res.body) hash.update(chunk as Buffer);
        return hash.digest('hex');
      }),
    );
    const failures = results.filter((r) => r.status === 'rejected');
    expect(failures).toEqual([]);
    for (const r of results) if (r.status === 'fulfilled') expect(r.value).toBe(sha256);
    expect(s.upstream.state.storage.perArtifact.get(artifact.id)?.fullDownloadsStarted).toBe(1);
    expect(s.gw.logs.lines.filter((l) => l.msg === 'serving artifact uncached')).toEqual([]);
  });
});
