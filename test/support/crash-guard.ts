/**
 * The crash guard: every test fails when a gateway it started crashed, even if its own assertions
 * passed. A `serve` child process that exits without being asked to (see `serve-process.ts`), or
 * writes Node's report of an uncaught exception, is a crash; so is an uncaught exception or
 * unhandled rejection in this process, where in-process gateways run (`test-gateway.ts`).
 * Registered for every test file by `crash-guard-setup.ts`.
 */
const reports: string[] = [];

/** Node's own last words on an uncaught exception or unhandled rejection. */
const CRASH_TEXT = /Unhandled 'error' event|UnhandledPromiseRejection|uncaughtException|^Node\.js v\d+/m;

export function reportCrash(report: string): void {
  reports.push(report);
}

/** Whether a serve process's stderr shows a crash. */
export function looksLikeCrash(stderr: string): boolean {
  return CRASH_TEXT.test(stderr);
}

/** The crashes seen since the last call. */
export function takeCrashReports(): string[] {
  return reports.splice(0);
}
