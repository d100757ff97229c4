import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFakeUpstream } from '../support/fake-upstream/index.js';
import type { FakeArtifact, FakeUpstream } from '../support/fake-upstream/index.js';
import { createFleet, runFleet } from '../support/fleet.js';
import type { FleetDevice } from '../support/fleet.js';
import { startFleetGateway } from '../support/fleet-gateway.js';
import type { ServeProcess } from '../support/serve-process.js';

const DEVICES = 2000;
/** In flight at once: a site's devices poll spread over their interval, not all in one instant. */
const CONCURRENCY = 200;
const ARTIFACT_BYTES = 1024 * 1024;
/** Every 20th device drops its download halfway and resumes with Range, as a flaky link would. */
const INTERRUPT_EVERY = 20;
const DEVICE_TYPE = 'mgw-fleet';
const SECRET = Buffer.alloc(32, 7).toString('base64');

/**
 * Load test: 2,000 simulated mender-client 3.x devices run a whole update cycle
 * through the built `mender-gw serve` (its own process, HTTPS to devices, artifact cache on), the
 * way a site would run it: signed auth → inventory → deployments/next → download (some resumed)
 * → status → re-auth → success. The gateway must fetch the artifact from storage exactly once,
 * every device must end `success` upstream with the right bytes, and nothing may log an error.
 */
describe(`${DEVICES} devices cycle through the gateway`, () => {
  let upstream: FakeUpstream;
  let serve: ServeProcess;
  let dir: string;
  let fleet: FleetDevice[];
  let keyMs: number;

  beforeAll(async () => {
    upstream = await startFakeUpstream({ autoAcceptDevices: true });
    dir = await mkdtemp(join(tmpdir(), 'mgw-fleet-'));
    [serve, { fleet, keyMs }] = await Promise.all([
      startFleetGateway(upstream, dir, SECRET),
      createFleet(DEVICES),
    ]);
  });
  afterAll(async () => {
    // beforeAll may have failed part-way: close only what it made.
    const made = { serve, upstream, dir } as Partial<{
      serve: ServeProcess;
      upstream: FakeUpstream;
      dir: string;
    }>;
    await made.serve?.stop();
    await made.upstream?.close();
    if (made.dir !== undefined) await rm(made.dir, { recursive: true, force: true });
  });

  it(
    'gives every device the artifact from one storage download, with no errors',
    { timeout: 240_000 },
    async () => {
      const data = randomBytes(ARTIFACT_BYTES);
      const artifact: FakeArtifact = upstream.addArtifact({
        name: 'fleet-1',
        deviceTypes: [DEVICE_TYPE],
        data,
      });
      const deployment = upstream.createDeployment({ artifactId: artifact.id });

      const result = await runFleet({
        baseUrl: serve.urls.https!,
        ca: upstream.pki.ca.certPem,
        devices: fleet,
        concurrency: CONCURRENCY,
        deviceType: DEVICE_TYPE,
        expectedSha256: (name) => (name === artifact.name ? artifact.sha256 : undefined),
        interruptEvery: INTERRUPT_EVERY,
      });
      const peakRss = await serve.peakRss();
      console.log(
        `[fleet load] ${DEVICES} devices, ${CONCURRENCY} in flight: ${result.wallMs} ms wall` +
          ` (keys ${Math.round(keyMs)} ms); cycle p50 ${result.latencyMs.cycle.p50} ms,` +
          ` p99 ${result.latencyMs.cycle.p99} ms; download p50 ${result.latencyMs.download.p50} ms;` +
          ` ${result.counts.resumes} resumes; gateway peak RSS ${(peakRss / 2 ** 20).toFixed(0)} MiB`,
      );

      expect(result.errors).toEqual({ total: 0, byPhase: {}, first: [] });
      expect(result.counts).toMatchObject({
        authenticated: DEVICES,
        inventoried: DEVICES,
        polled: DEVICES,
        updates: DEVICES,
        downloaded: DEVICES,
        succeeded: DEVICES,
        resumes: DEVICES / INTERRUPT_EVERY,
        failed: 0,
      });
      expect(result.sha256s).toEqual({ [artifact.sha256]: DEVICES });

      // One storage download for the whole fleet, resumes included (they are served from the cache).
      const storage = upstream.state.storage.perArtifact.get(artifact.id);
      expect(storage).toMatchObject({ requests: 1, fullDownloadsStarted: 1, rangeRequests: 0 });

      const states = [...deployment.devices.values()];
      expect(states).toHaveLength(DEVICES);
      expect(states.filter((s) => s !== 'success')).toEqual([]);
      expect(upstream.state.inventory.size).toBe(DEVICES);
      expect(upstream.state.protocolErrors).toEqual([]);

      const errorLines = serve.logs.lines.filter((l) => l.level === 'error' || l.level === 'fatal');
      expect(errorLines).toEqual([]);
      expect(serve.stderr()).toBe('');
    },
  );
});
