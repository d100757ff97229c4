import { describe, expect } from 'vitest';
import type { AuthRequestRecord, FakeUpstream } from '../fake-upstream/index.js';
import { menderClientSupport } from './client-support.js';
import type { MenderDevice } from './types.js';

/**
 * Gate for suites that run the real Mender client: they skip with a printed reason where
 * the client cannot run (not root, package missing), and fail instead when
 * MGW_REQUIRE_MENDER_CLIENT=1 (CI), so a missing client never passes silently.
 */
export const clientSupport = menderClientSupport();
export const clientRequired = process.env.MGW_REQUIRE_MENDER_CLIENT === '1';

export function describeWithRealClient(name: string, fn: () => void): void {
  if (!clientSupport.ok) {
    console.warn(
      `[${name}] real Mender client unavailable: ${clientSupport.reason}` +
        (clientRequired ? ' (MGW_REQUIRE_MENDER_CLIENT=1, so the tests fail)' : '; tests skipped'),
    );
  }
  describe.skipIf(!clientSupport.ok && !clientRequired)(name, fn);
}

/** With MGW_REQUIRE_MENDER_CLIENT=1 an unusable client is a failure, not a skip. */
export function assertClientUsable(): void {
  if (!clientSupport.ok)
    throw new Error(
      `MGW_REQUIRE_MENDER_CLIENT=1 but the real Mender client cannot run: ${clientSupport.reason}`,
    );
}

/** Lines of the 3.4 client's log that mark protocol milestones (logrus text format). */
export const CLIENT_LOG = {
  authenticated: /msg="Reauthorization successful"/,
  // Logged right after an inventory submission finished (successfully or not: errors precede it).
  inventorySent: /msg="State transition: inventory-update \[Sync\] -> check-wait \[Idle\]"/,
  // The final status (success/failure) has been answered by the server by then.
  deploymentReported: /msg="State transition: update-status-report \[none\] -> idle \[Idle\]"/,
} as const;

/** What 3.4 sends (docs/protocol.md §2.1): Go's json.Encoder, fields in this order, trailing newline. */
export function expectedAuthBody(device: MenderDevice): string {
  return `${JSON.stringify({ id_data: JSON.stringify(device.identity), tenant_token: '', pubkey: device.publicKeyPem })}\n`;
}

/** The device's successful auth request reached upstream byte-exact with a valid signature. */
export function expectGenuineAuth(upstream: FakeUpstream, device: MenderDevice): AuthRequestRecord {
  const record = upstream.state.authRequests.find(
    (r) => r.idData?.mac === device.mac && r.responseStatus === 200,
  );
  if (record === undefined) throw new Error(`no successful auth request from ${device.mac}`);
  expect(record.signatureValid).toBe(true);
  expect(record.rawBody.toString('utf8')).toBe(expectedAuthBody(device));
  // The only device call 3.4 sends with a length rather than chunked.
  expect(record.headers['content-length']).toBe(String(record.rawBody.length));
  return record;
}
