import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { DeviceDeploymentStatus, FakeUpstream } from '../fake-upstream/index.js';
import { waitUntil } from '../wait-until.js';

/** Device-deployment states after which a device reports nothing more for that deployment. */
const FINAL: ReadonlySet<DeviceDeploymentStatus> = new Set([
  'success',
  'failure',
  'already-installed',
  'aborted',
]);

/**
 * Waits until the fake upstream holds a final status of `mac` for the deployment, and returns it.
 * Works for any client version: it watches the server side, not a client's log format.
 */
export async function waitForDeploymentResult(
  upstream: FakeUpstream,
  mac: string,
  deploymentId: string,
  timeoutMs: number,
): Promise<DeviceDeploymentStatus> {
  const status = (): DeviceDeploymentStatus | undefined => {
    const device = upstream.device(mac);
    if (device === undefined) return undefined;
    return upstream.state.deployments.find((d) => d.id === deploymentId)?.devices.get(device.id);
  };
  await waitUntil(
    `a final status of deployment ${deploymentId} from ${mac}`,
    () => {
      const current = status();
      return current !== undefined && FINAL.has(current);
    },
    timeoutMs,
  );
  return status()!;
}

/** Whether the harness's update module installed exactly `payload` as `payloadName`. */
export async function installedPayloadMatches(
  installedDir: string,
  payloadName: string,
  payload: Buffer,
): Promise<boolean> {
  const installed = await readFile(join(installedDir, payloadName)).catch(() => undefined);
  return installed !== undefined && installed.equals(payload);
}
