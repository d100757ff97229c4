import type { MenderDeviceOptions } from './types.js';
import { DEFAULT_POLL_SECONDS } from './constants.js';

export interface DeviceConfigPaths {
  dataDir: string;
  deviceTypeFile: string;
  updateLogDir: string;
  artifactScriptsDir: string;
}

/** The device's `mender.conf` (passed with `--config`), as a JSON-ready object. */
export function menderConfig(
  options: MenderDeviceOptions,
  paths: DeviceConfigPaths,
): Record<string, unknown> {
  return {
    ...serverKeys(options),
    DeviceTypeFile: paths.deviceTypeFile,
    // Without DBus the client still starts its local proxy, but needs no bus daemon.
    DBus: { Enabled: false },
    UpdateLogPath: paths.updateLogDir,
    // Default would be /var/lib/mender/scripts, a path outside the device folder (and, on
    // Debian, a dangling symlink to /data/mender).
    ArtifactScriptsPath: paths.artifactScriptsDir,
    ModuleTimeoutSeconds: 60,
  };
}

/** What the 3.4 and 5.1 clients share in `mender.conf`: servers, trust, client certificate, polling. */
export interface ServerKeyOptions {
  servers: string[];
  serverCertificate?: string | undefined;
  clientCertificate?: { certPath: string; keyPath: string } | undefined;
  pollSeconds?: { update?: number; inventory?: number; retry?: number } | undefined;
}

/**
 * The `mender.conf` keys both clients read the same way, see
 * https://docs.mender.io/client-installation/configuration/configuration-options
 */
export function serverKeys(options: ServerKeyOptions): Record<string, unknown> {
  const [primary, ...others] = options.servers;
  if (primary === undefined) throw new Error('a device needs at least one server in options.servers');
  const poll = { ...DEFAULT_POLL_SECONDS, ...options.pollSeconds };
  return {
    ...(others.length === 0
      ? { ServerURL: primary }
      : { Servers: options.servers.map((url) => ({ ServerURL: url })) }),
    ...(options.serverCertificate === undefined ? {} : { ServerCertificate: options.serverCertificate }),
    ...(options.clientCertificate === undefined
      ? {}
      : {
          HttpsClient: {
            Certificate: options.clientCertificate.certPath,
            Key: options.clientCertificate.keyPath,
          },
        }),
    UpdatePollIntervalSeconds: poll.update,
    InventoryPollIntervalSeconds: poll.inventory,
    RetryPollIntervalSeconds: poll.retry,
  };
}
