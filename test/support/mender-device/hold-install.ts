import { dirname, join } from 'node:path';
import type { MenderDevice } from './types.js';

/**
 * Path of the file that makes the harness's update module wait in ArtifactInstall (see
 * update-module.ts): create it before a deployment, remove it to let the install go on.
 */
export function holdInstallPath(device: Pick<MenderDevice, 'installedDir'>): string {
  return join(dirname(device.installedDir), 'hold-install');
}
