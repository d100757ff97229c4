import type { IncomingHttpHeaders } from 'node:http';

/** Auth-set states of Mender's deviceauth service (docs/protocol.md §2.1, §3.5). */
export type AuthSetStatus = 'pending' | 'accepted' | 'rejected' | 'preauthorized';

/** One (identity, public key) pair of a device, as deviceauth stores it. */
export interface FakeAuthSet {
  id: string;
  deviceId: string;
  /** Normalised PEM (see `normalisePubkey`), so whitespace differences compare equal. */
  pubkey: string;
  status: AuthSetStatus;
  createdAt: Date;
  source: 'auth_request' | 'preauthorize';
}

export interface FakeDevice {
  id: string;
  /** Parsed `id_data` (or preauthorized `identity_data`). */
  identity: Record<string, unknown>;
  /** Canonical identity: JSON with sorted keys, the way the server hashes it (docs/protocol.md §2.1). */
  identityKey: string;
  /** Derived like the real server: accepted > preauthorized > pending > rejected. */
  status: AuthSetStatus;
  authSets: FakeAuthSet[];
  createdAt: Date;
  /** Provides of the last deployments/next call (artifact_name, device_type, …). */
  lastProvides: Record<string, unknown> | undefined;
}

export interface RequestRecord {
  at: Date;
  host: 'api' | 'storage';
  method: string;
  /** Path and query exactly as received. */
  url: string;
  /** Path without query. */
  path: string;
  headers: IncomingHttpHeaders;
  rawHeaders: string[];
  remoteAddress: string | undefined;
  upgrade: boolean;
  /** Filled when the response finishes (0 while in flight or if the socket died first). */
  status: number;
}

export interface AuthRequestRecord {
  at: Date;
  /** The exact bytes received; the signature covers them (docs/protocol.md §2.1). */
  rawBody: Buffer;
  headers: IncomingHttpHeaders;
  remoteAddress: string | undefined;
  signatureValid: boolean;
  idData: Record<string, unknown> | undefined;
  pubkey: string | undefined;
  tenantToken: string | undefined;
  deviceId: string | undefined;
  responseStatus: number;
}

export interface InventoryAttribute {
  name: string;
  value: unknown;
  description?: string;
  [extra: string]: unknown;
}

export interface InventoryRequestRecord {
  at: Date;
  deviceId: string;
  method: 'PUT' | 'PATCH';
  rawBody: Buffer;
  /** The `Content-Length` header as sent (undefined with chunked encoding, as the 3.4 client sends). */
  contentLengthHeader: string | undefined;
  transferEncoding: string | undefined;
  /**
   * Whether the declared length equals the bytes that arrived (undefined without the header).
   * A too-long declaration is detected by an idle timeout on the body; a too-short one shows up
   * as a truncated, unparsable body plus a `protocolErrors` entry for the leftover bytes.
   */
  contentLengthMatched: boolean | undefined;
  responseStatus: number;
}

export type NextVariant = 'v2-post' | 'v1-post' | 'v1-get';

export interface NextRequestRecord {
  at: Date;
  variant: NextVariant;
  deviceId: string;
  provides: Record<string, unknown>;
  responseStatus: number;
  deploymentId: string | undefined;
}

/** A GET of a configuration-deployment link on the API host (no JWT, HMAC-signed query). */
export interface ConfigurationDownloadRecord {
  at: Date;
  /** Path and query exactly as received. */
  url: string;
  headers: IncomingHttpHeaders;
  deploymentId: string;
  deviceId: string;
  status: number;
}

export interface StatusRecord {
  at: Date;
  deploymentId: string;
  deviceId: string;
  status: string;
  substate: string | undefined;
}

export interface DeploymentLogRecord {
  at: Date;
  deploymentId: string;
  deviceId: string;
  messages: unknown[];
}

export interface ManagementLoginRecord {
  at: Date;
  username: string | undefined;
  ok: boolean;
  xForwardedFor: string | undefined;
}

export interface PreauthorizationRecord {
  at: Date;
  identity: Record<string, unknown> | undefined;
  pubkey: string | undefined;
  force: boolean;
  /** `X-Forwarded-For` seen on the management call (gateway 2.1.0 sends the device IP, docs/protocol.md §3.7). */
  xForwardedFor: string | undefined;
  headers: IncomingHttpHeaders;
  rawBody: Buffer;
  responseStatus: number;
  deviceId: string | undefined;
}

export interface StorageCounters {
  /** Every request that reached the storage host (including rejected ones). */
  requests: number;
  /** 200 responses to GET (a full body was started). */
  fullDownloadsStarted: number;
  /** 206 responses. */
  rangeRequests: number;
  headRequests: number;
  /** Responses whose whole body was handed to the socket. */
  completedResponses: number;
  /** Responses cut short (client went away or an injected fault). */
  abortedResponses: number;
  /** Bytes whose write completed on the socket. */
  bytesSent: number;
  /** 403/404/405/416 answers, and injected redirects (`StorageFaults.redirectTo`). */
  rejected: number;
}

export interface StorageState extends StorageCounters {
  perArtifact: Map<string, StorageCounters>;
}

export interface TunnelCounters {
  /** Upgrades completed (101). */
  opened: number;
  /** Currently open. */
  open: number;
  /** Upgrades refused with 401. */
  refused: number;
  /** Messages echoed. */
  messages: number;
}

export interface FakeState {
  devices: FakeDevice[];
  authRequests: AuthRequestRecord[];
  /** Every request on both hosts, in arrival order. */
  requests: RequestRecord[];
  /** Current inventory per device id. */
  inventory: Map<string, InventoryAttribute[]>;
  inventoryRequests: InventoryRequestRecord[];
  artifacts: FakeArtifact[];
  deployments: FakeDeployment[];
  nextRequests: NextRequestRecord[];
  /** Accepted status reports (204), per device in order. */
  statuses: StatusRecord[];
  logs: DeploymentLogRecord[];
  /** Configuration reported with `PUT /api/devices/v1/deviceconfig/configuration`, per device id. */
  deviceConfig: Map<string, Record<string, unknown>>;
  /** Number of successful management logins. */
  managementLogins: number;
  /** Every management login attempt, successful or not. */
  managementLoginAttempts: ManagementLoginRecord[];
  preauthorizations: PreauthorizationRecord[];
  tunnels: TunnelCounters;
  storage: StorageState;
  configurationDownloads: ConfigurationDownloadRecord[];
  /** Malformed HTTP seen by the parser (e.g. bytes left over after a too-short Content-Length). */
  protocolErrors: { at: Date; host: 'api' | 'storage'; code: string; message: string }[];
}

export interface FakeArtifact {
  id: string;
  name: string;
  deviceTypes: string[];
  size: number;
  sha256: string;
  /** S3 ETag of a single-part upload: quoted MD5 hex. */
  etag: string;
  createdAt: Date;
  data: Buffer;
}

/** Per-device states of a deployment, as deployments reports them (docs/protocol.md §2.2). */
export type DeviceDeploymentStatus =
  | 'pending'
  | 'downloading'
  | 'pause_before_installing'
  | 'installing'
  | 'pause_before_rebooting'
  | 'rebooting'
  | 'pause_before_committing'
  | 'success'
  | 'failure'
  | 'already-installed'
  | 'noartifact'
  | 'aborted';

export interface FakeDeployment {
  id: string;
  artifactId: string;
  artifactName: string;
  /** Device ids (or MACs) targeted; `'all'` = every accepted device, including ones accepted later. */
  deviceIds: string[] | 'all';
  createdAt: Date;
  aborted: boolean;
  /** A configuration deployment: its link points at the API host itself, not storage. */
  configuration: boolean;
  /** Latest state per device id, once the device has been handed this deployment. */
  devices: Map<string, DeviceDeploymentStatus>;
}

export function emptyCounters(): StorageCounters {
  return {
    requests: 0,
    fullDownloadsStarted: 0,
    rangeRequests: 0,
    headRequests: 0,
    completedResponses: 0,
    abortedResponses: 0,
    bytesSent: 0,
    rejected: 0,
  };
}

export function createState(): FakeState {
  return {
    devices: [],
    authRequests: [],
    requests: [],
    inventory: new Map(),
    inventoryRequests: [],
    artifacts: [],
    deployments: [],
    nextRequests: [],
    statuses: [],
    logs: [],
    deviceConfig: new Map(),
    managementLogins: 0,
    managementLoginAttempts: [],
    preauthorizations: [],
    tunnels: { opened: 0, open: 0, refused: 0, messages: 0 },
    storage: { ...emptyCounters(), perArtifact: new Map() },
    configurationDownloads: [],
    protocolErrors: [],
  };
}
