import { describe, expect, onTestFailed } from 'vitest';
import { readTail } from '../mender-device/log-file.js';
import type { AuthRequestRecord, FakeUpstream } from '../fake-upstream/index.js';
import { skipBecause } from '../skip-reason.js';
import { mender5Support } from './client5-support.js';
import type { Mender5Device } from './types.js';

export const mender5 = mender5Support();
/** Set by scripts/test.sh as root (CI): a missing client is then a failure, never a skip. */
export const mender5Required = process.env.MGW_REQUIRE_MENDER_CLIENT === '1';

/** A suite running the real 5.1 client: skipped with a printed reason where it cannot run, failing in CI. */
export function describeWithMender5(name: string, fn: () => void): void {
  const reason = mender5.ok ? '' : mender5.reason;
  if (!mender5.ok && mender5Required)
    console.warn(
      `[${name}] Mender 5.1 unavailable: ${reason} (MGW_REQUIRE_MENDER_CLIENT=1, so the tests fail)`,
    );
  describe.skipIf(skipBecause(!mender5.ok && !mender5Required, name, `Mender 5.1 unavailable: ${reason}`))(
    name,
    fn,
  );
}

/** With MGW_REQUIRE_MENDER_CLIENT=1 an unusable client is a failure, not a skip. */
export function assertMender5Usable(): void {
  if (!mender5.ok)
    throw new Error(`MGW_REQUIRE_MENDER_CLIENT=1 but the Mender 5.1 client cannot run: ${mender5.reason}`);
}

/**
 * Log lines of the 5.1 daemons that mark milestones. Messages from the client's source:
 * https://github.com/mendersoftware/mender/blob/5.1.0/src/mender-auth/ipc/server.cpp and
 * https://github.com/mendersoftware/mender/blob/5.1.0/src/mender-update/daemon/states.cpp
 */
export const MENDER5_LOG = {
  /** mender-auth got a JWT and started its local forwarder. */
  authenticated: /msg="Successfully received new authorization data"/,
  /** Logged after the final status report was answered (or given up on). */
  deploymentFinished: /msg="Deployment with ID \S+ finished with status: (Success|Failure)"/,
} as const;

/**
 * What 5.1 sends: nlohmann JSON of a case-insensitively ordered map (`id_data`, `pubkey`,
 * `tier`, and `tenant_token` only when set), compact, no trailing newline; `id_data` holds the
 * identity with sorted keys. Source:
 * https://github.com/mendersoftware/mender/blob/5.1.0/src/mender-auth/api/auth/auth.cpp
 */
export function expectedAuthBody5(device: Pick<Mender5Device, 'identity' | 'publicKeyPem'>): string {
  const idData = JSON.stringify(
    Object.fromEntries(Object.entries(device.identity).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
  );
  return JSON.stringify({ id_data: idData, pubkey: device.publicKeyPem, tier: 'standard' });
}

/** The device's successful auth request reached upstream byte-exact, with a valid signature. */
export function expectGenuineAuth5(
  upstream: FakeUpstream,
  device: Pick<Mender5Device, 'mac' | 'identity' | 'publicKeyPem'>,
): AuthRequestRecord {
  const record = upstream.state.authRequests.find(
    (r) => r.idData?.mac === device.mac && r.responseStatus === 200,
  );
  if (record === undefined) throw new Error(`no successful auth request from ${device.mac}`);
  expect(record.signatureValid).toBe(true);
  expect(record.rawBody.toString('utf8')).toBe(expectedAuthBody5(device));
  expect(record.headers['content-length']).toBe(String(record.rawBody.length));
  return record;
}

/**
 * Inside a test: when it fails, print the end of every log of the devices `devices()` returns
 * then (the device folders are removed afterwards, so this is the only trace of what they did).
 */
export function printLogsOnFailure(devices: () => (Mender5Device | undefined)[]): void {
  onTestFailed(async () => {
    for (const device of devices()) {
      if (device === undefined) continue;
      for (const [name, path] of Object.entries(device.logPaths)) {
        const tail = await readTail(path, 60);
        if (tail !== '') console.warn(`--- ${device.name} ${name} log (end) ---\n${tail}`);
      }
    }
  });
}
