import { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { Agent, request } from 'undici';
import type { Dispatcher } from 'undici';
import { generateDeviceKeys } from './device-keys.js';
import { summarizeLatencies } from './latency-summary.js';
import type { LatencySummary } from './latency-summary.js';
import { resumableDownload } from './resumable-download.js';
import { SimulatedDevice } from './simulated-device.js';

/** One device of a simulated fleet; kept between runs so a soak re-uses identities and keys. */
export interface FleetDevice {
  index: number;
  device: SimulatedDevice;
  /** `artifact_name` it reports; becomes the deployed artifact's name after a `success`. */
  installed: string;
}

/** The steps of one update cycle (docs/protocol.md §8.1). */
export type FleetPhase = 'auth' | 'inventory' | 'next' | 'download' | 'status' | 'reauth';

export interface FleetOptions {
  /** Gateway (or server) base URL the devices are configured with (`ServerURL`). */
  baseUrl: string;
  /** How many new devices, or devices from an earlier run (see `createFleet`). */
  devices: number | FleetDevice[];
  deviceType: string;
  /** Devices cycling at the same time; default 200. */
  concurrency?: number;
  /** `artifact_name` new devices report; default `initial`. */
  artifactName?: string;
  /**
   * One shared connection pool for every device. Default: each device opens its own keep-alive
   * connection for API calls and a new one for the download, and closes both at the end of its
   * cycle, as separate 3.x clients do.
   */
  dispatcher?: Dispatcher;
  /** CA certificate (PEM) to trust for an `https://` base URL when no dispatcher is given. */
  ca?: string;
  /** SHA-256 the artifact must have, by artifact name; a mismatch is a device error. */
  expectedSha256?: (artifactName: string) => string | undefined;
  /** Every n-th device drops its download connection once, halfway, and resumes with Range. */
  interruptEvery?: number;
  /** Resumes allowed per download; default 3, as 3.x (docs/protocol.md §8). */
  maxResumes?: number;
  /** First three MAC octets of new devices; default `02:00:0f` (locally administered). */
  macPrefix?: string;
  /** How many error messages to keep; default 10. */
  keepErrors?: number;
}

export interface FleetCounts {
  authenticated: number;
  inventoried: number;
  polled: number;
  /** deployments/next answered 200. */
  updates: number;
  /** deployments/next answered 204. */
  noUpdate: number;
  downloaded: number;
  /** Range requests after cut connections. */
  resumes: number;
  statusReports: number;
  /** Re-authentications after a 401 on an ordinary call (the client retries once). */
  reauthOn401: number;
  /** Devices that reported `success`. */
  succeeded: number;
  /** Status reports answered 409: the deployment was aborted and the device stopped. */
  aborted: number;
  /** Devices whose cycle failed (see `errors`). */
  failed: number;
}

export interface FleetResult {
  devices: number;
  concurrency: number;
  wallMs: number;
  counts: FleetCounts;
  errors: { total: number; byPhase: Partial<Record<FleetPhase, number>>; first: string[] };
  /** Per-device latency of the whole cycle and of each phase (status = one PUT). */
  latencyMs: Record<'cycle' | FleetPhase, LatencySummary>;
  /** SHA-256 of each downloaded artifact → how many devices got it. */
  sha256s: Record<string, number>;
  bytesDownloaded: number;
  /** The devices, with `installed` updated: pass them to the next run. */
  fleet: FleetDevice[];
}

const PHASES: readonly FleetPhase[] = ['auth', 'inventory', 'next', 'download', 'status', 'reauth'];
const INVENTORY_PATH = '/api/devices/v1/inventory/device/attributes';
const NEXT_PATH = '/api/devices/v2/deployments/device/deployments/next';
const STATUS_PATH = (id: string): string =>
  `/api/devices/v1/deployments/device/deployments/${encodeURIComponent(id)}/status`;
/** What the Go 3.x client puts on every call (docs/protocol.md §8). */
const GO_HEADERS = { 'user-agent': 'Go-http-client/1.1', 'accept-encoding': 'gzip' } as const;

/** A device-side failure, tagged with the phase it happened in. */
class PhaseError extends Error {
  constructor(
    readonly phase: FleetPhase,
    message: string,
  ) {
    super(message);
  }
}

function macFor(prefix: string, index: number): string {
  const bytes = [(index >> 16) & 0xff, (index >> 8) & 0xff, index & 0xff];
  return `${prefix}:${bytes.map((b) => b.toString(16).padStart(2, '0')).join(':')}`;
}

/** New devices with keys made up front (see `generateDeviceKeys`); `keyMs` is what that cost. */
export async function createFleet(
  count: number,
  options: { macPrefix?: string; artifactName?: string; firstIndex?: number } = {},
): Promise<{ fleet: FleetDevice[]; keyMs: number }> {
  const { keys, elapsedMs } = await generateDeviceKeys(count);
  const first = options.firstIndex ?? 0;
  const fleet = keys.map((key, i) => ({
    index: first + i,
    device: new SimulatedDevice(macFor(options.macPrefix ?? '02:00:0f', first + i), key),
    installed: options.artifactName ?? 'initial',
  }));
  return { fleet, keyMs: elapsedMs };
}

/**
 * 3.x sends every body after the auth request with `Transfer-Encoding: chunked` (docs/protocol.md §8):
 * a stream without a length makes undici do the same, so the gateway sees what it will see.
 */
function chunkedJson(value: unknown): Readable {
  return Readable.from([Buffer.from(JSON.stringify(value))]);
}

interface Answer {
  status: number;
  body: Buffer;
}

interface RunContext {
  options: FleetOptions;
  counts: FleetCounts;
  latencies: Record<'cycle' | FleetPhase, number[]>;
  sha256s: Map<string, number>;
  errors: FleetResult['errors'];
  bytes: number;
}

function newDispatcher(ctx: RunContext): { dispatcher: Dispatcher; own: Agent | undefined } {
  if (ctx.options.dispatcher !== undefined) return { dispatcher: ctx.options.dispatcher, own: undefined };
  const agent = new Agent({
    connections: 1,
    ...(ctx.options.ca === undefined ? {} : { connect: { ca: ctx.options.ca } }),
  });
  return { dispatcher: agent, own: agent };
}

async function timed<T>(ctx: RunContext, phase: FleetPhase, fn: () => Promise<T>): Promise<T> {
  const started = performance.now();
  try {
    return await fn();
  } catch (error) {
    throw error instanceof PhaseError ? error : new PhaseError(phase, String(error));
  } finally {
    ctx.latencies[phase].push(performance.now() - started);
  }
}

/** One device's update cycle: auth → inventory → next → (status, download, status…) → done. */
async function cycle(ctx: RunContext, d: FleetDevice): Promise<void> {
  const { options, counts } = ctx;
  const started = performance.now();
  const api = newDispatcher(ctx);
  let deploymentId: string | undefined;

  const authenticate = async (phase: FleetPhase): Promise<void> => {
    const status = await d.device.authenticate(options.baseUrl, api.dispatcher);
    if (status !== 200) throw new PhaseError(phase, `auth_requests answered ${status}`);
  };
  const call = async (method: string, path: string, body: unknown, phase: FleetPhase): Promise<Answer> => {
    const send = async (): Promise<Answer> => {
      const res = await request(`${options.baseUrl}${path}`, {
        method: method,
        headers: {
          ...GO_HEADERS,
          authorization: `Bearer ${d.device.jwt ?? ''}`,
          'content-type': 'application/json',
        },
        body: chunkedJson(body),
        dispatcher: api.dispatcher,
      });
      let data = Buffer.from(await res.body.arrayBuffer());
      // Go's transport asked for gzip, so it undoes it transparently (docs/protocol.md §2).
      if (res.headers['content-encoding'] === 'gzip') data = gunzipSync(data);
      return { status: res.statusCode, body: data };
    };
    let answer = await send();
    if (answer.status === 401) {
      // Any 401 on an ordinary call: authenticate once and retry once (docs/protocol.md §8).
      counts.reauthOn401++;
      await authenticate(phase);
      answer = await send();
    }
    return answer;
  };
  const report = async (status: string): Promise<'ok' | 'aborted'> => {
    const answer = await timed(ctx, 'status', () =>
      call('PUT', STATUS_PATH(deploymentId!), { status }, 'status'),
    );
    if (answer.status === 409) return 'aborted';
    if (answer.status !== 204) throw new PhaseError('status', `status ${status} answered ${answer.status}`);
    counts.statusReports++;
    return 'ok';
  };

  try {
    await timed(ctx, 'auth', () => authenticate('auth'));
    counts.authenticated++;

    const inventory = await timed(ctx, 'inventory', () =>
      call(
        'PATCH',
        INVENTORY_PATH,
        [
          { name: 'device_type', value: options.deviceType },
          { name: 'artifact_name', value: d.installed },
          { name: 'mac_eth0', value: d.device.mac },
          { name: 'mender_client_version', value: '3.4.0' },
          { name: 'hostname', value: `sim-${d.index}` },
        ],
        'inventory',
      ),
    );
    if (inventory.status !== 200)
      throw new PhaseError('inventory', `inventory PATCH answered ${inventory.status}`);
    counts.inventoried++;

    const next = await timed(ctx, 'next', () =>
      call(
        'POST',
        NEXT_PATH,
        {
          device_provides: { device_type: options.deviceType, artifact_name: d.installed },
          update_control_map: true,
        },
        'next',
      ),
    );
    counts.polled++;
    if (next.status === 204) {
      counts.noUpdate++;
      return;
    }
    if (next.status !== 200) throw new PhaseError('next', `deployments/next answered ${next.status}`);
    counts.updates++;
    let instructions: { id: string; artifact: { artifact_name: string; source: { uri: string } } };
    try {
      instructions = JSON.parse(next.body.toString('utf8')) as typeof instructions;
    } catch {
      throw new PhaseError('next', `deployments/next 200 with a body that is not JSON`);
    }
    deploymentId = instructions.id;
    const artifactName = instructions.artifact.artifact_name;

    // The 3.x client reports `downloading` before it fetches, then installs, reboots, and
    // authenticates afresh before the final report: its commit step clears the token on purpose
    // (docs/protocol.md §8.1 steps 4 and 6; docs/protocol.md §2.2 status values).
    if ((await report('downloading')) === 'aborted') {
      counts.aborted++;
      return;
    }
    const download = newDispatcher(ctx);
    const got = await timed(ctx, 'download', async () => {
      try {
        return await resumableDownload(instructions.artifact.source.uri, {
          dispatcher: download.dispatcher,
          ...(options.maxResumes === undefined ? {} : { maxResumes: options.maxResumes }),
          ...(options.interruptEvery !== undefined && d.index % options.interruptEvery === 0
            ? { cutAtFraction: 0.5 }
            : {}),
        });
      } finally {
        await download.own?.close();
      }
    });
    counts.downloaded++;
    counts.resumes += got.resumes;
    ctx.bytes += got.bytes;
    ctx.sha256s.set(got.sha256, (ctx.sha256s.get(got.sha256) ?? 0) + 1);
    const expected = options.expectedSha256?.(artifactName);
    if (expected !== undefined && expected !== got.sha256)
      throw new PhaseError('download', `${artifactName}: SHA-256 ${got.sha256}, expected ${expected}`);

    for (const status of ['installing', 'rebooting'] as const) {
      if ((await report(status)) === 'aborted') {
        counts.aborted++;
        return;
      }
    }
    d.device.jwt = undefined;
    await timed(ctx, 'reauth', () => authenticate('reauth'));
    if ((await report('success')) === 'aborted') {
      counts.aborted++;
      return;
    }
    counts.succeeded++;
    d.installed = artifactName;
  } catch (error) {
    counts.failed++;
    // Everything that can throw runs inside `timed`, which tags it with its phase.
    const phase = error instanceof PhaseError ? error.phase : 'next';
    const { errors } = ctx;
    errors.total++;
    errors.byPhase[phase] = (errors.byPhase[phase] ?? 0) + 1;
    if (errors.first.length < (options.keepErrors ?? 10))
      errors.first.push(
        `${d.device.mac} ${phase}: ${error instanceof Error ? error.message : String(error)}`,
      );
    // Like the client, tell the server the update failed, so the deployment does not hang on
    // this device; best effort, the failure is already counted.
    if (deploymentId !== undefined)
      await call('PUT', STATUS_PATH(deploymentId), { status: 'failure' }, 'status').catch(() => undefined);
  } finally {
    ctx.latencies.cycle.push(performance.now() - started);
    await api.own?.close();
  }
}

/**
 * Drive a fleet of simulated devices through one full Mender update cycle each, `concurrency`
 * at a time, the way mender-client 3.x does it (docs/protocol.md §8.1; docs/protocol.md §2):
 * signed auth request → inventory PATCH → v2 deployments/next → `downloading` → artifact
 * download, resumed with `Range` after a cut connection and checked by SHA-256 → `installing`,
 * `rebooting` → fresh auth → `success`. Device failures never throw: they are counted, with the
 * first few messages, so a load test can assert on zero and a soak can report them.
 * The load test and the soak use it, and so does the Fleet benchmark.
 */
export async function runFleet(options: FleetOptions): Promise<FleetResult> {
  const fleet =
    typeof options.devices === 'number'
      ? (
          await createFleet(options.devices, {
            ...(options.macPrefix === undefined ? {} : { macPrefix: options.macPrefix }),
            ...(options.artifactName === undefined ? {} : { artifactName: options.artifactName }),
          })
        ).fleet
      : options.devices;
  const concurrency = Math.max(1, Math.min(options.concurrency ?? 200, fleet.length));
  const ctx: RunContext = {
    options,
    counts: {
      authenticated: 0,
      inventoried: 0,
      polled: 0,
      updates: 0,
      noUpdate: 0,
      downloaded: 0,
      resumes: 0,
      statusReports: 0,
      reauthOn401: 0,
      succeeded: 0,
      aborted: 0,
      failed: 0,
    },
    latencies: { cycle: [], auth: [], inventory: [], next: [], download: [], status: [], reauth: [] },
    sha256s: new Map(),
    errors: { total: 0, byPhase: {}, first: [] },
    bytes: 0,
  };
  const started = performance.now();
  let nextIndex = 0;
  const worker = async (): Promise<void> => {
    while (nextIndex < fleet.length) await cycle(ctx, fleet[nextIndex++]!);
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const wallMs = performance.now() - started;

  const latencyMs = { cycle: summarizeLatencies(ctx.latencies.cycle) } as FleetResult['latencyMs'];
  for (const phase of PHASES) latencyMs[phase] = summarizeLatencies(ctx.latencies[phase]);
  return {
    devices: fleet.length,
    concurrency,
    wallMs: Math.round(wallMs),
    counts: ctx.counts,
    errors: ctx.errors,
    latencyMs,
    sha256s: Object.fromEntries(ctx.sha256s),
    bytesDownloaded: ctx.bytes,
    fleet,
  };
}
