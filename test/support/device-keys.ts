import { generateKeyPairSync } from 'node:crypto';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { DeviceKey } from './simulated-device.js';

/** Keys made per turn of the event loop, so servers in the same process keep answering. */
const BATCH = 100;

/**
 * EC P-256 keys for a simulated fleet. P-256 is a key type the 3.x and 4.x
 * clients accept as a pre-seeded `mender-agent.pem` (docs/protocol.md §8.1) and
 * costs well under a millisecond per key, where the client's default RSA 3072 costs seconds.
 * Generating synchronously in batches beats the libuv thread pool here: the per-key work is
 * too small to pay for the hand-off (measured on Node 20: ~0.4 ms vs ~0.5 ms per key).
 */
export async function generateDeviceKeys(count: number): Promise<{ keys: DeviceKey[]; elapsedMs: number }> {
  const started = performance.now();
  const keys: DeviceKey[] = [];
  while (keys.length < count) {
    for (let i = 0; i < BATCH && keys.length < count; i++) {
      const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      keys.push({ privateKey, publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }) as string });
    }
    await yieldToLoop();
  }
  return { keys, elapsedMs: performance.now() - started };
}
