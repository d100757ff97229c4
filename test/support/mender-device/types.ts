/** Key types the Mender 3.4 client accepts in a pre-seeded `mender-agent.pem`. */
export type MenderKeyType = 'rsa' | 'ec' | 'ed25519';

export interface MenderDeviceOptions {
  /** Folder name of the device inside a fresh temp base dir; also shown in its inventory. */
  name: string;
  /** One entry → `ServerURL`; several → `Servers` list, primary first (the client tries them in order). */
  servers: string[];
  /** Path to a CA PEM the client should trust in addition to the system store (`ServerCertificate`). */
  serverCertificate?: string;
  /** Identity `mac`; default derived from the name and the device folder, so unique per device. */
  mac?: string;
  /** Written to `data/device_type`; default {@link DEFAULT_DEVICE_TYPE}. */
  deviceType?: string;
  /** Initial `/etc/mender/artifact_info` artifact name; default `initial`. */
  artifactName?: string;
  /**
   * Pre-seeded device key type (generated with node:crypto); default `ec` because it is instant.
   * Irrelevant with clientCertificate: the client then signs with the certificate's key.
   */
  keyType?: MenderKeyType;
  /** mTLS client certificate (`HttpsClient`); without `Security.AuthPrivateKey` its key also signs auth requests. */
  clientCertificate?: { certPath: string; keyPath: string };
  /** Extra `/etc/hosts` lines inside the device's namespace (name → ip). */
  hosts?: Record<string, string>;
  /** Extra environment for the daemon. Proxy variables inherited from the test runner are removed. */
  env?: NodeJS.ProcessEnv;
  /** Poll intervals in seconds; default update 5, inventory 10, retry 2. */
  pollSeconds?: { update?: number; inventory?: number; retry?: number };
}

export interface MenderDevice {
  /** The device's own folder (`<tmp base>/<name>`). */
  dir: string;
  mac: string;
  /** What the identity script prints, i.e. what the client sends as `id_data`. */
  identity: Record<string, string>;
  /** SPKI PEM of the key the client signs auth requests with (the mTLS key when clientCertificate is set). */
  publicKeyPem: string;
  /** The daemon's log: its stderr (logrus text lines) and the launcher's, appended across restarts. */
  logPath: string;
  /** Where the test update module installs payload files. */
  installedDir: string;
  /** Starts the daemon (again, after stop); resolves once it runs its state machine. No-op while running. */
  start(): Promise<void>;
  /** SIGTERM, then SIGKILL after a grace period. Idempotent. */
  stop(): Promise<void>;
  /** stop(), then remove the device's temp base dir. Idempotent. */
  destroy(): Promise<void>;
  /**
   * Resolves with the first log line (from byte `fromOffset` on, default the whole log) matching
   * `pattern`. Rejects with the log tail on timeout, or early when the daemon exits without a match.
   */
  waitForLog(pattern: RegExp, timeoutMs: number, fromOffset?: number): Promise<string>;
  /** Current size of the log in bytes, to wait only for lines written after this point. */
  logSize(): Promise<number>;
  /** The whole daemon log, all runs. */
  log(): Promise<string>;
}
