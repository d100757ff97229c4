import { afterAll, afterEach, beforeAll, expect } from 'vitest';

/**
 * Fail each test during which this process saw an uncaught exception or an unhandled rejection.
 * An in-process gateway that throws one would exit `mender-gw serve` (Node's default); vitest
 * only reports it after the run, against whichever test was last. This names the test and the
 * error, e.g. an `'error'` event with no listener on a storage response body (issue #7 item 1).
 * Call inside a `describe`.
 */
export function failOnUncaughtErrors(): void {
  const seen: string[] = [];
  const onError = (err: unknown): void => {
    seen.push(err instanceof Error ? `${err.name}: ${err.message}\n${err.stack ?? ''}` : String(err));
  };
  beforeAll(() => {
    process.on('uncaughtException', onError);
    process.on('unhandledRejection', onError);
  });
  afterEach(() => {
    const errors = seen.splice(0);
    expect(errors, 'the gateway would have crashed (uncaught error in the serve process)').toEqual([]);
  });
  afterAll(() => {
    process.off('uncaughtException', onError);
    process.off('unhandledRejection', onError);
  });
}
