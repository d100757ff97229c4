import type { ArtifactInfo, FillProgress, Instrumentation } from '../diagnostics.js';
import type { Exchange } from '../server/exchange.js';
import { ARTIFACT_ROUTE, DEVICE_API_PREFIX } from '../http/device-path.js';
import { loggablePath } from '../http/loggable-path.js';
import { displayText } from './display-text.js';
import { jwtSubject } from './jwt-subject.js';
import { RecencyMap } from './recency-map.js';

const CONFIGURATION_DOWNLOAD = '/api/devices/v1/deployments/download/configuration/';

function isDownload(path: string): boolean {
  return path.startsWith(ARTIFACT_ROUTE) || path.startsWith(CONFIGURATION_DOWNLOAD);
}

/** Bounds of the model (docs/operator-guide.md, status page): memory stays flat whatever devices send. */
export const ACTIVITY_LIMITS = { devices: 1_000, errors: 100 } as const;

/** A download a device is making or made last; `exchange` only while it runs (its bytes are live). */
export interface DeviceDownload {
  artifact: ArtifactInfo;
  result: 'hit' | 'miss' | 'coalesced' | 'bypass';
  exchange: Exchange | undefined;
  bytes: number;
  finished: boolean;
  /** Ended with every byte sent (false: cut, failed or the device hung up). */
  complete: boolean;
}

export interface DeviceActivity {
  /** The unverified `sub` of the device's JWT; undefined for calls without one (downloads). */
  identity: string | undefined;
  address: string;
  userAgent: string | undefined;
  lastMethod: string;
  lastPath: string;
  /** Status of the last call; undefined while it runs. */
  lastStatus: number | undefined;
  lastSeenAt: number;
  download: DeviceDownload | undefined;
}

export interface RecentError {
  at: number;
  status: number;
  code: string;
  kind: string;
  message: string;
  method: string;
  path: string;
  identity: string | undefined;
  address: string;
}

export interface ActiveFill {
  fill: FillProgress;
  artifact: ArtifactInfo | undefined;
  startedAt: number;
}

export interface TrafficCounters {
  lookups: { hit: number; miss: number; coalesced: number; bypass: number };
  /** Artifact bytes sent to devices, by where they came from (as `mender_gw_cache_bytes_served_total`). */
  served: { cache: number; fill: number; upstream: number };
  /** Bytes sent to devices that did not cross the uplink (as `mender_gw_cache_bytes_saved_total`). */
  saved: number;
  /** Artifact bytes that crossed the uplink: finished fills and uncached pass-throughs. */
  fetched: number;
}

/**
 * What the gateway did recently, for the status page: devices seen (least recently seen dropped
 * beyond {@link ACTIVITY_LIMITS}), their downloads, fills running, the last errors and the cache
 * counters. Fed by the diagnostics channels only; never throws inside a publish.
 */
export class RecentActivity {
  readonly devices = new RecencyMap<string, DeviceActivity>(ACTIVITY_LIMITS.devices);
  /** Address → the device last seen there with a token, to name downloads (they carry none). */
  readonly #byAddress = new RecencyMap<string, string>(ACTIVITY_LIMITS.devices);
  /** Which device record an exchange belongs to; weak, so an exchange never outlives its end. */
  readonly #deviceOf = new WeakMap<Exchange, string>();
  readonly #errors: RecentError[] = [];
  readonly fills = new Map<string, ActiveFill>();
  readonly counters: TrafficCounters = {
    lookups: { hit: 0, miss: 0, coalesced: 0, bypass: 0 },
    served: { cache: 0, fill: 0, upstream: 0 },
    saved: 0,
    fetched: 0,
  };

  constructor(private readonly now: () => number = Date.now) {}

  /** The last errors, newest first. */
  get errors(): readonly RecentError[] {
    return [...this.#errors].reverse();
  }

  subscribe(instrumentation: Instrumentation): () => void {
    const off = [
      instrumentation.on('exchangeStart', ({ exchange }) => this.exchangeStarted(exchange)),
      instrumentation.on('exchangeEnd', ({ exchange }) => this.exchangeEnded(exchange)),
      instrumentation.on('cacheLookup', ({ result, exchange, artifact }) => {
        this.counters.lookups[result]++;
        if (exchange !== undefined && artifact !== undefined)
          this.downloadStarted(exchange, result, artifact);
      }),
      instrumentation.on('fillStarted', ({ fill, artifact }) => {
        if (fill !== undefined) this.fills.set(fill.key, { fill, artifact, startedAt: this.now() });
      }),
      instrumentation.on('fillFinished', ({ size, key }) => {
        this.counters.fetched += size;
        if (key !== undefined) this.fills.delete(key);
      }),
      instrumentation.on('fillFailed', ({ key }) => {
        if (key === undefined) return;
        // The bytes of a failed fill crossed the uplink all the same.
        this.counters.fetched += this.fills.get(key)?.fill.written ?? 0;
        this.fills.delete(key);
      }),
    ];
    return () => {
      for (const unsubscribe of off) unsubscribe();
    };
  }

  exchangeStarted(exchange: Exchange): void {
    // Health checks and scanners are no devices; their failures still show as errors.
    if (!exchange.path.startsWith(DEVICE_API_PREFIX)) return;
    const header = exchange.req.headers.authorization;
    const identity = jwtSubject(typeof header === 'string' ? header : undefined);
    const address = exchange.clientIp;
    let key: string;
    if (identity !== undefined) {
      key = `sub:${identity}`;
      this.#byAddress.touch(address, key);
    } else {
      // Downloads carry no token (the link is the credential): they belong to the device that
      // last called from that address with one. Other calls without a token (auth requests) do not.
      const fromDevice = isDownload(exchange.path) ? this.#byAddress.peek(address) : undefined;
      key = fromDevice ?? `address:${address}`;
    }
    const known = this.devices.peek(key);
    const userAgent = exchange.req.headers['user-agent'];
    this.devices.touch(key, {
      identity: known?.identity ?? identity,
      address,
      userAgent: userAgent === undefined ? known?.userAgent : displayText(userAgent),
      lastMethod: displayText(exchange.req.method ?? '?', 16),
      lastPath: displayText(loggablePath(exchange.req.url ?? '/'), 300),
      lastStatus: undefined,
      lastSeenAt: this.now(),
      download: known?.download,
    });
    this.#deviceOf.set(exchange, key);
  }

  downloadStarted(exchange: Exchange, result: DeviceDownload['result'], artifact: ArtifactInfo): void {
    const key = this.#deviceOf.get(exchange);
    const device = key === undefined ? undefined : this.devices.peek(key);
    if (device === undefined) return;
    device.download = {
      artifact: {
        key: displayText(artifact.key, 100),
        artifactId: artifact.artifactId === undefined ? undefined : displayText(artifact.artifactId, 100),
        artifactName: artifact.artifactName === undefined ? undefined : displayText(artifact.artifactName),
        size: artifact.size,
      },
      result,
      exchange,
      bytes: 0,
      finished: false,
      complete: false,
    };
  }

  exchangeEnded(exchange: Exchange): void {
    const { cacheLookup, outcome } = exchange;
    if (cacheLookup !== undefined) {
      this.counters.served[cacheLookup.source] += exchange.bytesOut;
      // The download that started a fill paid for its bytes on the uplink; every other one did not.
      if (cacheLookup.result === 'hit' || cacheLookup.result === 'coalesced')
        this.counters.saved += exchange.bytesOut;
      if (cacheLookup.source === 'upstream') this.counters.fetched += exchange.bytesOut;
    }
    const key = this.#deviceOf.get(exchange);
    const device = key === undefined ? undefined : this.devices.peek(key);
    if (device !== undefined) {
      device.lastStatus = exchange.status;
      const download = device.download;
      if (download?.exchange === exchange) {
        download.exchange = undefined;
        download.bytes = exchange.bytesOut;
        download.finished = true;
        download.complete = outcome.kind === 'completed' && exchange.res.writableFinished;
      }
    }
    if (outcome.kind === 'completed') return;
    this.#errors.push({
      at: this.now(),
      status: exchange.status,
      code: outcome.error.code,
      kind: outcome.kind,
      message: displayText(outcome.error.message, 300),
      method: displayText(exchange.req.method ?? '?', 16),
      path: displayText(loggablePath(exchange.req.url ?? '/'), 300),
      identity: device?.identity,
      address: exchange.clientIp,
    });
    if (this.#errors.length > ACTIVITY_LIMITS.errors) this.#errors.shift();
  }
}
