import { configDefaults, defineConfig } from 'vitest/config';
import type { TestProjectInlineConfiguration } from 'vitest/config';

/**
 * Test lanes (CONTRIBUTING.md §3), one vitest project each: `npx vitest run --project unit`.
 * `npm test` runs unit and integration; `npm run test:e2e`, `test:load` and `test:all` the rest.
 */

/** Many simulated devices, long fault loops or the benchmark and soak harnesses: minutes, not seconds. */
const LOAD = [
  'test/integration/fleet-load.test.ts',
  'test/integration/soak-smoke.test.ts',
  'test/integration/bench-smoke.test.ts',
  // 16 hostile peers for 20 s per configuration against the built `serve`.
  'test/integration/hostile-network.test.ts',
];

function lane(name: string, include: string[], exclude: string[] = []): TestProjectInlineConfiguration {
  return {
    test: {
      name,
      include,
      exclude: [...configDefaults.exclude, ...exclude],
      // Every test fails when a gateway it started crashed (test/support/crash-guard.ts).
      setupFiles: ['test/support/crash-guard-setup.ts'],
      pool: 'forks',
      // @oclif/test captures stdout itself; vitest must not intercept console (docs/decisions.md §7).
      disableConsoleIntercept: true,
      testTimeout: 60_000,
      hookTimeout: 60_000,
    },
  };
}

export default defineConfig({
  test: {
    projects: [
      // src/ only, no build, no child processes (eslint.config.js forbids dist/ here).
      lane('unit', ['test/unit/**/*.test.ts']),
      // Real sockets on loopback, the built `serve` and commands: needs `npm run build`.
      lane('integration', ['test/integration/**/*.test.ts'], LOAD),
      // Real Mender clients (root and the Debian mender-client package, else skipped with a reason).
      lane('e2e', ['test/e2e/**/*.test.ts']),
      lane('load', LOAD),
    ],
    reporters: ['default'],
  },
});
