import type { MenderKeyType } from '../mender-device/types.js';

/** The processes of one 5.1 device, each with its own log file. */
export type Mender5Process = 'dbus' | 'auth' | 'update' | 'connect';

export interface Mender5DeviceOptions {
  /** Folder name of the device inside a fresh temp base dir; also shown in its inventory. */
  name: string;
  /** One entry → `ServerURL`; several → `Servers` list, tried in order while authenticating. */
  servers: string[];
  /** CA PEM the client trusts in addition to the system store (`ServerCertificate`). */
  serverCertificate?: string;
  /** Identity `mac`; default derived from the name and the device folder, so unique per device. */
  mac?: string;
  /** Written to `datastore/device_type`; default `mgw-test-device`. */
  deviceType?: string;
  /** Name of the bootstrap artifact installed on first start; default `initial`. */
  artifactName?: string;
  /** Pre-seeded `mender-agent.pem` (the key that signs auth requests); default `ec`. */
  keyType?: MenderKeyType;
  /** mTLS client certificate (`HttpsClient`); 5.1 still signs auth requests with `mender-agent.pem`. */
  clientCertificate?: { certPath: string; keyPath: string };
  /** Poll intervals in seconds; default update 5, inventory 10, retry 2. */
  pollSeconds?: { update?: number; inventory?: number; retry?: number };
  /** `RetryDownloadCount` (resume attempts after a broken download); client default 10. */
  retryDownloadCount?: number;
  /** Also run Debian's mender-connect against this device's mender-auth. */
  connect?: boolean;
  /** `--log-level` of both daemons; default `info`. */
  logLevel?: 'trace' | 'debug' | 'info';
  /** More inventory scripts: file name (`mender-inventory-*`) → script text, installed executable. */
  inventoryScripts?: Record<string, string>;
  /**
   * Run every process of the device inside this network namespace (`ip netns exec`, root only),
   * e.g. one a test created with its own bridge. Their files stay on the shared filesystem.
   */
  netns?: string;
  /** Extra environment for the daemons. Proxy variables inherited from the test runner are removed. */
  env?: NodeJS.ProcessEnv;
}

export interface Mender5Device {
  name: string;
  /** The device's own folder (`<tmp base>/<name>`). */
  dir: string;
  mac: string;
  /** What the identity script prints, i.e. the `id_data` the client sends. */
  identity: Record<string, string>;
  /** SPKI PEM of `mender-agent.pem`, the key auth requests are signed with. */
  publicKeyPem: string;
  /** Where the harness's update module installs payload files. */
  installedDir: string;
  /** Log file of each process (stdout and stderr, appended across restarts). */
  logPaths: Record<Mender5Process, string>;
  /** PID of the running mender-update daemon. */
  updatePid(): number;
  /** SIGUSR1 to mender-update: check for a deployment now. */
  checkUpdate(): void;
  /** SIGUSR2 to mender-update: send inventory now. */
  sendInventory(): void;
  /** First line of a process's log (from byte `fromOffset`, default 0) that matches; rejects with the tail on timeout or exit. */
  waitForLog(
    process: Mender5Process,
    pattern: RegExp,
    timeoutMs: number,
    fromOffset?: number,
  ): Promise<string>;
  logSize(process: Mender5Process): Promise<number>;
  log(process: Mender5Process): Promise<string>;
  /** Starts the bus and the daemons (again, after stop); resolves once mender-update is ready. */
  start(): Promise<void>;
  /** Stops every process of the device, add-ons first. Idempotent. */
  stop(): Promise<void>;
  /** stop(), then remove the device's temp base dir. Idempotent. */
  destroy(): Promise<void>;
}
