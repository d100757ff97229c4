import { afterEach, expect } from 'vitest';
import { reportCrash, takeCrashReports } from './crash-guard.js';

// In-process gateways: an uncaught error here would have stopped `mender-gw serve`.
process.on('uncaughtException', (err) =>
  reportCrash(`uncaught exception in the test process: ${err.stack ?? String(err)}`),
);
process.on('unhandledRejection', (err) =>
  reportCrash(
    `unhandled rejection in the test process: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
  ),
);

afterEach(() => {
  expect(takeCrashReports(), 'a gateway crashed during this test').toEqual([]);
});
