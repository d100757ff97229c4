import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../support/serve-process.js';

const run = promisify(execFile);

interface SideResult {
  median: Record<string, number>;
  notes?: string[];
}

/**
 * The benchmark suite (docs/performance.md) runs in quick mode so it never rots. No performance thresholds:
 * only that it completes and writes a result JSON with every metric. Without nginx (not root, no
 * apt) the mender-gw side still runs and the reason nginx was skipped is printed. Fleet's
 * correctness is checked, since it costs nothing extra: no device errors through the gateway and
 * exactly one storage download of the artifact.
 */
describe('benchmark suite, quick mode', () => {
  it('completes and writes a result with every metric', { timeout: 180_000 }, async () => {
    const out = await mkdtemp(join(tmpdir(), 'mgw-bench-smoke-'));
    try {
      const { stdout, stderr } = await run('npx', ['tsx', 'bench/run.ts', '--quick', '--out', out], {
        cwd: REPO_ROOT,
        maxBuffer: 16 * 1024 * 1024,
        timeout: 170_000,
      });
      const files = (await readdir(out)).filter((f) => f.endsWith('.json'));
      expect(files).toHaveLength(1);
      const result = JSON.parse(await readFile(join(out, files[0]!), 'utf8')) as {
        mode: string;
        errors: string[];
        nginx: { available: boolean; reason?: string };
        metrics: Record<
          string,
          {
            status: string;
            reason?: string;
            cases: Record<string, { direct?: SideResult; 'mender-gw'?: SideResult }>;
          }
        >;
      };
      if (!result.nginx.available) {
        console.warn(`bench smoke: nginx side skipped: ${result.nginx.reason ?? '(no reason given)'}`);
        expect(stdout).toContain('SKIPPED');
      }
      expect(result.mode).toBe('quick');
      expect(result.errors, stderr).toEqual([]);
      expect(Object.keys(result.metrics).sort()).toEqual(['Fleet', 'M1', 'M2', 'M3', 'M4', 'M5', 'M6']);
      for (const name of ['M1', 'M2', 'M3', 'M4', 'M5', 'M6']) {
        expect(result.metrics[name]!.status, name).toBe('measured');
        expect(Object.keys(result.metrics[name]!.cases).length, name).toBeGreaterThan(0);
      }
      expect(stdout).toContain('gw÷nginx');
      // A new TLS connection per call (the 5.x pattern) fails no request.
      // M3's hot call: deployments/next with a link the gateway rewrites and signs, without errors.
      const next = result.metrics.M3!.cases['deployments/next 200 (link rewritten and signed)'];
      expect(next?.['mender-gw']?.median.errors).toBe(0);
      const perCall = result.metrics.M6!.cases['connection per call']!['mender-gw']!.median;
      expect(perCall.errors).toBe(0);
      expect(perCall.handshakesPerSecond).toBeGreaterThan(0);

      const fleet = result.metrics.Fleet!;
      expect(fleet.status, fleet.reason).toBe('measured');
      const [runCase] = Object.entries(fleet.cases).filter(([name]) => name.includes('devices'));
      expect(runCase, JSON.stringify(Object.keys(fleet.cases))).toBeDefined();
      const [caseName, { direct, 'mender-gw': gw }] = runCase!;
      const notes = JSON.stringify([direct?.notes, gw?.notes]);
      expect(gw?.median.errors, `${caseName}: ${notes}`).toBe(0);
      expect(gw?.median.storageBytesOverArtifact, caseName).toBe(1);
      expect(gw?.median.devicesSucceeded, caseName).toBeGreaterThan(0);
      expect(direct?.median.wallMs, caseName).toBeGreaterThan(0);
      expect(stdout).toContain('gw÷direct');
      // Skipped only when the open-file limit is too low, and then the reason says so.
      const tunnels = Object.entries(fleet.cases).find(([name]) => name.includes('tunnels'));
      if (tunnels === undefined) expect(fleet.reason).toContain('open-file limit');
      else {
        const median = tunnels[1]['mender-gw']?.median;
        expect(median?.tunnelErrors, JSON.stringify(tunnels[1]['mender-gw']?.notes)).toBe(0);
        expect(median?.tunnelsOpenAfterClose).toBe(0);
      }
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });
});
