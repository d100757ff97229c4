import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Every test fails when a gateway it started crashed (test/support/crash-guard.ts).
    setupFiles: ['test/support/crash-guard-setup.ts'],
    pool: 'forks',
    // @oclif/test captures stdout itself; vitest must not intercept console (style doc C14).
    disableConsoleIntercept: true,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    reporters: ['default'],
  },
});
