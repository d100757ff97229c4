/**
 * Test harness running the current Mender client, 5.1 (C++: mender-auth and mender-update, built
 * into MGW_MENDER5_PREFIX), as independent devices on one machine, each with its own folders,
 * private D-Bus and identity; optionally Debian's mender-connect beside it. Artifacts, the update
 * module and deployment waiting are shared with the 3.4 harness in ../mender-device/. What 5.1
 * does differently on the wire: docs/protocol.md §8.4.
 */
export { MENDER5_BUILD_COMMAND, mender5Prefix, mender5Support } from './client5-support.js';
export type { Mender5Support } from './client5-support.js';
export { startMender5Device } from './mender5-device.js';
export {
  assertMender5Usable,
  describeWithMender5,
  expectedAuthBody5,
  expectGenuineAuth5,
  MENDER5_LOG,
  mender5,
  mender5Required,
  printLogsOnFailure,
} from './gate.js';
export type { Mender5Device, Mender5DeviceOptions, Mender5Process } from './types.js';
