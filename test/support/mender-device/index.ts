/**
 * Test harness running the real Mender client 3.4 (`/usr/bin/mender`) as independent devices:
 * each in its own folder and private mount namespace. See mender-device.ts for the lifecycle,
 * device-layout.ts for the folder, daemon-process.ts for how the daemon is launched.
 */
export { menderClientSupport } from './client-support.js';
export type { MenderClientSupport } from './client-support.js';
export { startMenderDevice } from './mender-device.js';
export { buildArtifact } from './artifact.js';
export type { BuildArtifactOptions, BuiltArtifact } from './artifact.js';
export { DEFAULT_DEVICE_TYPE, TEST_UPDATE_MODULE } from './constants.js';
export type { MenderDevice, MenderDeviceOptions, MenderKeyType } from './types.js';
export {
  assertClientUsable,
  CLIENT_LOG,
  clientRequired,
  clientSupport,
  describeWithRealClient,
  expectedAuthBody,
  expectGenuineAuth,
} from './real-client-gate.js';
export { holdInstallPath } from './hold-install.js';
export { installedPayloadMatches, waitForDeploymentResult } from './deployment-result.js';
