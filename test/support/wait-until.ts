import { setTimeout as delay } from 'node:timers/promises';

/**
 * Wait for a condition on state that has no event of its own (the fake upstream's records).
 * Polls every 25 ms and fails with `what` after `timeoutMs`; never a fixed sleep.
 */
export async function waitUntil(what: string, condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await delay(25);
  }
}
