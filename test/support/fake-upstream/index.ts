import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { createTestPki } from '../test-pki.js';
import type { TestPki } from '../test-pki.js';
import type { ApiContext, StorageLinkOptions } from './api-context.js';
import { routeApi } from './api-router.js';
import { ConfigurationLinks } from './configuration-download.js';
import { DeploymentCatalog } from './deployment-catalog.js';
import { DeviceConnect } from './device-connect.js';
import type { TunnelHandler } from './device-connect.js';
import { DeviceRegistry } from './device-registry.js';
import { requestId, sendError } from './http-util.js';
import { normalisePubkey } from './identity.js';
import { JwtIssuer } from './jwt.js';
import { listen } from './listener.js';
import type { Listener } from './listener.js';
import { ManagementAuth } from './management-auth.js';
import { resolveOptions } from './options.js';
import type { FakeUpstreamOptions, ResolvedOptions } from './options.js';
import { BUCKET, Presigner } from './presign.js';
import { handleStorage } from './storage-routes.js';
import type { StorageFaults } from './storage-routes.js';
import { createState } from './state.js';
import type {
  AuthSetStatus,
  FakeArtifact,
  FakeDeployment,
  FakeDevice,
  FakeState,
  RequestRecord,
} from './state.js';

export type { FakeUpstreamOptions, ResolvedOptions } from './options.js';
export type { StorageFaults } from './storage-routes.js';
export type { StorageLinkOptions } from './api-context.js';
export type * from './state.js';
export { DEFAULT_MANAGEMENT } from './options.js';
export { CONNECT_PATH } from './device-connect.js';
export type { TunnelHandler } from './device-connect.js';

/** Fault injection hook: return true when it has answered the request itself. */
export type Interceptor = (req: IncomingMessage, res: ServerResponse) => boolean | Promise<boolean>;

export interface FakeUpstream {
  /** Mender API server, e.g. `https://127.0.0.1:43123`. */
  url: string;
  /** Storage ("S3") server on a different host, e.g. `https://127.0.0.2:40111`. */
  storageUrl: string;
  /** CA that signed both server certificates. */
  pki: TestPki;
  state: FakeState;
  options: ResolvedOptions;
  /** Mutable fault settings of the storage host (throttle, broken downloads). */
  storageFaults: StorageFaults;
  addArtifact(a: { name: string; deviceTypes: string[]; data: Buffer; id?: string }): FakeArtifact;
  /**
   * Default target: all accepted devices, including ones accepted later. Ids or MACs.
   * `configuration`: the link points at the API host (`…/download/configuration/…`), as for
   * mender-configure deployments.
   */
  createDeployment(d: { artifactId: string; deviceIds?: string[]; configuration?: boolean }): FakeDeployment;
  abortDeployment(deploymentId: string): FakeDeployment;
  acceptDevice(deviceIdOrMac: string): FakeDevice;
  rejectDevice(deviceIdOrMac: string): FakeDevice;
  /** Preauthorize (identity, key) directly, with `force` semantics (docs/protocol.md §3.5). */
  preauthorizeDevice(identity: Record<string, unknown>, pubkeyPem: string): FakeDevice;
  device(deviceIdOrMac: string): FakeDevice | undefined;
  /** Resolve once the device exists (and has `status`, if given). */
  waitForDevice(
    deviceIdOrMac: string,
    opts?: { status?: AuthSetStatus; timeoutMs?: number },
  ): Promise<FakeDevice>;
  /** Invalidate the device's JWTs: its next call gets 401 and it must re-authenticate. */
  revokeDeviceTokens(deviceIdOrMac: string): void;
  /** Invalidate every management JWT issued so far (the gateway must log in again). */
  revokeManagementTokens(): void;
  /** A presigned storage link for an artifact, as deployments/next would hand out. */
  storageLink(artifactId: string, opts?: StorageLinkOptions): { uri: string; expire: Date };
  /** Serve new deviceconnect tunnels with `handler` instead of the echo (undefined: echo again). */
  setTunnelHandler(handler: TunnelHandler | undefined): void;
  /** Runs before routing on both hosts (not for WebSocket upgrades); returns a remover. */
  intercept(fn: Interceptor): () => void;
  close(): Promise<void>;
}

function record(
  state: FakeState,
  host: RequestRecord['host'],
  req: IncomingMessage,
  upgrade: boolean,
): RequestRecord {
  const url = req.url ?? '/';
  const entry: RequestRecord = {
    at: new Date(),
    host,
    method: req.method ?? 'GET',
    url,
    path: url.split('?')[0] ?? url,
    headers: req.headers,
    rawHeaders: req.rawHeaders,
    remoteAddress: req.socket.remoteAddress,
    upgrade,
    status: 0,
  };
  state.requests.push(entry);
  return entry;
}

/**
 * Start a fake upstream Mender server (127.0.0.1) and its artifact storage (127.0.0.2), both on
 * random ports (other addresses with `hosts`), with real TLS from a test CA unless `tls: false`. See the `FakeUpstream` members
 * and `FakeState` for what tests can drive and observe.
 */
export async function startFakeUpstream(options: FakeUpstreamOptions = {}): Promise<FakeUpstream> {
  const resolved = resolveOptions(options);
  const ownsPki = options.pki === undefined;
  const pki = options.pki ?? (await createTestPki({ name: 'fake-upstream test CA' }));
  const [apiCert, storageCert] = resolved.tls
    ? await Promise.all([
        pki.issueServer('mender.fake.test', { dns: ['mender.fake.test'], ips: [resolved.hosts.api] }),
        pki.issueServer('s3.fake.test', { dns: ['s3.fake.test'], ips: [resolved.hosts.storage] }),
      ])
    : [undefined, undefined];

  const state = createState();
  const jwt = new JwtIssuer();
  const registry = new DeviceRegistry(state, jwt, {
    autoAccept: resolved.autoAcceptDevices,
    jwtLifetimeSeconds: resolved.deviceJwtLifetimeSeconds,
    tenantId: resolved.tenantId,
  });
  const catalog = new DeploymentCatalog(state);
  const management = new ManagementAuth(
    jwt,
    resolved.management,
    resolved.managementJwtLifetimeSeconds,
    resolved.tenantId,
  );
  const deviceConnect = new DeviceConnect(state, registry, resolved.wsPingIntervalMs);
  const interceptors = new Set<Interceptor>();
  const storageFaults: StorageFaults = {};
  const json = { gzip: resolved.gzip };
  let presigner: Presigner | undefined;
  let storageUrl = '';
  let apiUrl = '';
  const configurationLinks = new ConfigurationLinks(() => apiUrl, resolved.tenantId);

  const storageLink = (
    artifact: FakeArtifact,
    linkOptions: StorageLinkOptions = {},
  ): { uri: string; expire: Date } => {
    if (presigner === undefined) throw new Error('fake upstream: storage not started');
    // Object path = <bucket>/<tenant>/<image id> (docs/protocol.md §2.2).
    const path = ['', BUCKET, resolved.tenantId, artifact.id].filter((s, i) => i === 0 || s !== '').join('/');
    const signed = presigner.sign(path, {
      ...(linkOptions.method === undefined ? {} : { method: linkOptions.method }),
      ...(linkOptions.date === undefined ? {} : { date: linkOptions.date }),
      expiresSeconds: linkOptions.expiresSeconds ?? resolved.linkExpireSeconds,
      filename: `${artifact.name}.mender`,
      contentType: 'application/vnd.mender-artifact',
    });
    return { uri: `${storageUrl}${signed.pathAndQuery}`, expire: signed.expire };
  };

  const ctx: ApiContext = {
    state,
    registry,
    catalog,
    management,
    options: resolved,
    json,
    storageLink,
    configurationLinks,
  };

  const pipeline = (
    host: RequestRecord['host'],
    req: IncomingMessage,
    res: ServerResponse,
    handler: () => Promise<void>,
  ): void => {
    const entry = record(state, host, req, false);
    res.on('close', () => (entry.status = res.headersSent ? res.statusCode : 0));
    // Every Mender service answers with a request id (docs/protocol.md §2).
    if (host === 'api') res.setHeader('X-MEN-RequestID', requestId(req));
    const run = async (): Promise<void> => {
      for (const fn of [...interceptors]) if (await fn(req, res)) return;
      await handler();
    };
    run().catch((error: unknown) => {
      if (res.headersSent) res.destroy();
      else sendError(req, res, 500, `fake upstream: ${String(error)}`, json);
    });
  };
  const protocolError = (host: RequestRecord['host']) => (error: Error & { code?: string }) => {
    state.protocolErrors.push({
      at: new Date(),
      host,
      code: error.code ?? 'UNKNOWN',
      message: error.message,
    });
  };

  const listeners: Listener[] = [];
  try {
    const storage = await listen({
      host: resolved.hosts.storage,
      tls: storageCert === undefined ? undefined : { cert: storageCert.certPem, key: storageCert.keyPem },
      onRequest: (req, res) =>
        pipeline('storage', req, res, () =>
          handleStorage({ state, catalog, presigner: presigner!, faults: storageFaults }, req, res),
        ),
      onClientError: protocolError('storage'),
    });
    listeners.push(storage);
    storageUrl = storage.url;
    presigner = new Presigner(new URL(storage.url).host);
    const api = await listen({
      host: resolved.hosts.api,
      tls: apiCert === undefined ? undefined : { cert: apiCert.certPem, key: apiCert.keyPem },
      onRequest: (req, res) => pipeline('api', req, res, () => routeApi(ctx, req, res)),
      onUpgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => {
        const entry = record(state, 'api', req, true);
        entry.status = deviceConnect.handleUpgrade(req, socket, head);
      },
      onClientError: protocolError('api'),
    });
    listeners.push(api);
    apiUrl = api.url;
  } catch (error) {
    await Promise.all(listeners.map((l) => l.close()));
    if (ownsPki) await pki.cleanup();
    throw error;
  }
  const [storage, api] = listeners as [Listener, Listener];

  let closing: Promise<void> | undefined;
  const device = (idOrMac: string): FakeDevice | undefined => registry.find(idOrMac);

  return {
    url: api.url,
    storageUrl: storage.url,
    pki,
    state,
    options: resolved,
    storageFaults,
    addArtifact: (a) => catalog.addArtifact(a),
    createDeployment: (d) => catalog.createDeployment(d),
    abortDeployment: (id) => catalog.abort(id),
    acceptDevice: (idOrMac) => registry.accept(idOrMac),
    rejectDevice: (idOrMac) => registry.reject(idOrMac),
    preauthorizeDevice(identity, pubkeyPem) {
      const normalised = normalisePubkey(pubkeyPem);
      if (normalised === undefined)
        throw new Error('fake upstream: preauthorizeDevice needs a PEM public key');
      return registry.preauthorize(identity, normalised, true).device;
    },
    device,
    async waitForDevice(idOrMac, opts = {}) {
      const deadline = Date.now() + (opts.timeoutMs ?? 10_000);
      for (;;) {
        const found = device(idOrMac);
        if (found !== undefined && (opts.status === undefined || found.status === opts.status)) return found;
        if (Date.now() > deadline) {
          throw new Error(
            `fake upstream: device ${idOrMac} not ${opts.status ?? 'seen'} (now ${found?.status ?? 'unknown'})`,
          );
        }
        await sleep(20);
      }
    },
    revokeDeviceTokens: (idOrMac) => registry.revokeTokens(idOrMac),
    revokeManagementTokens: () => management.revokeAll(),
    storageLink(artifactId, linkOptions) {
      const artifact = catalog.artifact(artifactId);
      if (artifact === undefined) throw new Error(`fake upstream: no artifact ${artifactId}`);
      return storageLink(artifact, linkOptions);
    },
    setTunnelHandler(handler) {
      deviceConnect.handler = handler;
    },
    intercept(fn) {
      interceptors.add(fn);
      return () => {
        interceptors.delete(fn);
      };
    },
    close() {
      closing ??= (async () => {
        deviceConnect.close();
        await Promise.all([api.close(), storage.close()]);
        if (ownsPki) await pki.cleanup();
      })();
      return closing;
    },
  };
}
