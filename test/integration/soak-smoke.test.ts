import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../support/serve-process.js';

const run = promisify(execFile);

interface SoakJson {
  rounds: { round: number; errors: number; succeeded: number; storageRequests: number; fds: number }[];
  verdict: { flat: boolean; reasons: string[] };
  failures: string[];
}

/**
 * Load and soak: the soak has its own command (`npm run soak`, ten minutes by default) and is
 * not part of the test run; this runs it for a few seconds so it never rots. Flatness needs a long
 * run to mean anything, so here only the per-round guarantees are asserted: every device cycle
 * succeeds, every artifact comes from storage once, and the gateway logs no error and stops
 * cleanly. The flatness verdict is printed.
 */
describe('soak command, short run', () => {
  it(
    'runs rounds of whole update cycles with no error and one storage fetch per artifact',
    { timeout: 120_000 },
    async () => {
      const dir = await mkdtemp(join(tmpdir(), 'mgw-soak-smoke-'));
      const out = join(dir, 'soak.json');
      try {
        // Exit 1 when not flat is allowed here (see above); anything else must have passed.
        await run(
          'npx',
          [
            'tsx',
            'test/soak/run-soak.ts',
            '--seconds',
            '12',
            '--devices',
            '40',
            '--concurrency',
            '20',
            '--out',
            out,
          ],
          { cwd: REPO_ROOT, timeout: 110_000, maxBuffer: 16 * 1024 * 1024 },
        ).catch((err: unknown) => {
          if ((err as { code?: number }).code !== 1) throw err;
        });
        const result = JSON.parse(await readFile(out, 'utf8')) as SoakJson;
        console.log(
          `[soak smoke] ${result.rounds.length} rounds; flat: ${result.verdict.flat} ${result.verdict.reasons.join('; ')}`,
        );
        expect(result.rounds.length).toBeGreaterThanOrEqual(2);
        expect(result.failures.filter((f) => !f.startsWith('not flat:'))).toEqual([]);
        for (const round of result.rounds) {
          expect(round).toMatchObject({ errors: 0, succeeded: 40, storageRequests: 1 });
        }
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  );
});
