import type { ArtifactEntry, ArtifactStore } from '../cache/artifact-store.js';
import type { ReadinessReport } from '../server/readiness-probe.js';
import type { RecentActivity } from './recent-activity.js';

/** At most this many cache entries are listed (most recently used first); the total is given. */
export const ARTIFACTS_LISTED = 200;
/** A readiness report (an upstream probe and a statfs) is reused this long between snapshots. */
const REPORT_REUSE_MS = 5_000;

/** What `/status.json` and each `/status/events` message carry (docs/operator-guide.md). */
export interface StatusSnapshot {
  generatedAt: string;
  version: string;
  draining: boolean;
  upstream: {
    url: string;
    reachable: boolean;
    status: number | null;
    latencyMs: number | null;
    lastError: string | null;
    checkedAt: string;
  } | null;
  /** With mTLS only: the gateway's login to the management API. */
  management: { loggedIn: boolean; lastError: string | null } | null;
  cache: {
    path: string;
    entries: number;
    /** Bytes of complete entries plus the bytes fills wrote so far. */
    usedBytes: number;
    freeBytes: number | null;
    volumeBytes: number | null;
    fault: { code: string; message: string; at: string } | null;
    /** Hits and joined fills over every cache lookup; null before the first. */
    hitRatio: number | null;
    lookups: { hit: number; miss: number; coalesced: number; bypass: number };
    bytesFromCache: number;
    bytesFetched: number;
    bytesSaved: number;
  } | null;
  fills: {
    key: string;
    artifactName: string | null;
    artifactId: string | null;
    written: number;
    size: number;
    startedAt: string;
  }[];
  artifacts: {
    key: string;
    artifactName: string | null;
    artifactId: string | null;
    size: number;
    state: 'complete' | 'filling';
    written: number;
    lastUsedAt: string | null;
    hits: number;
  }[];
  artifactsTotal: number;
  devices: {
    identity: string | null;
    address: string;
    userAgent: string | null;
    lastCall: string;
    lastStatus: number | null;
    lastSeenAt: string;
    download: {
      artifactName: string | null;
      artifactId: string | null;
      cache: string;
      bytes: number;
      size: number | null;
      state: 'downloading' | 'complete' | 'incomplete';
    } | null;
  }[];
  errors: {
    at: string;
    status: number;
    code: string;
    message: string;
    method: string;
    path: string;
    identity: string | null;
    address: string;
  }[];
}

/** Where a snapshot comes from; the cache is absent when `ArtifactsCache` is off. */
export interface StatusSources {
  version: string;
  activity: RecentActivity;
  readiness: () => Promise<ReadinessReport>;
  draining: () => boolean;
  cache:
    | {
        store: Pick<ArtifactStore, 'location' | 'list' | 'freeSpace' | 'capacity'>;
        fault: () => { code: string; message: string; at: string } | undefined;
      }
    | undefined;
}

const iso = (ms: number): string => new Date(ms).toISOString();

/**
 * Builds snapshots of the gateway's state. The readiness report is reused for
 * {@link REPORT_REUSE_MS}, so a page open all day costs one upstream probe every few seconds,
 * never one per viewer or per second.
 */
export class StatusSnapshotBuilder {
  #report: { at: number; value: Promise<ReadinessReport> } | undefined;

  constructor(
    private readonly sources: StatusSources,
    private readonly now: () => number = Date.now,
  ) {}

  async build(): Promise<StatusSnapshot> {
    const { activity, cache } = this.sources;
    const report = await this.#readiness();
    const fills = [...activity.fills.values()].map(({ fill, artifact, startedAt }) => ({
      key: fill.key,
      artifactName: artifact?.artifactName ?? null,
      artifactId: artifact?.artifactId ?? null,
      written: fill.written,
      size: fill.size,
      startedAt: iso(startedAt),
    }));
    const filling = fills.reduce((sum, f) => sum + f.written, 0);
    let cachePart: StatusSnapshot['cache'] = null;
    let artifacts: StatusSnapshot['artifacts'] = [];
    let artifactsTotal = 0;
    if (cache !== undefined) {
      const entries = cache.store.list();
      const [freeBytes, volumeBytes] = await Promise.all([
        cache.store.freeSpace().catch(() => null),
        cache.store.capacity().catch(() => null),
      ]);
      const { lookups, served, saved, fetched } = activity.counters;
      const total = lookups.hit + lookups.miss + lookups.coalesced + lookups.bypass;
      cachePart = {
        path: cache.store.location,
        entries: entries.length,
        usedBytes: entries.reduce((sum, e) => sum + e.size, 0) + filling,
        freeBytes,
        volumeBytes,
        fault: cache.fault() ?? null,
        hitRatio: total === 0 ? null : (lookups.hit + lookups.coalesced) / total,
        lookups: { ...lookups },
        bytesFromCache: served.cache + served.fill,
        bytesFetched: fetched + filling,
        bytesSaved: saved,
      };
      artifactsTotal = entries.length + fills.length;
      artifacts = [
        ...fills.map((f) => ({
          key: f.key,
          artifactName: f.artifactName,
          artifactId: f.artifactId,
          size: f.size,
          state: 'filling' as const,
          written: f.written,
          lastUsedAt: null,
          hits: 0,
        })),
        ...recentlyUsed(entries).map((e) => ({
          key: e.key,
          artifactName: e.artifactName ?? null,
          artifactId: e.artifactId ?? null,
          size: e.size,
          state: 'complete' as const,
          written: e.size,
          lastUsedAt: e.lastAccessAt,
          hits: e.hits,
        })),
      ].slice(0, ARTIFACTS_LISTED);
    }
    return {
      generatedAt: iso(this.now()),
      version: this.sources.version,
      draining: this.sources.draining(),
      upstream: {
        url: report.upstream.url,
        reachable: report.upstream.reachable,
        status: report.upstream.status ?? null,
        latencyMs: report.upstream.latencyMs ?? null,
        lastError: report.upstream.lastError ?? null,
        checkedAt: report.upstream.checkedAt,
      },
      management:
        report.management === undefined
          ? null
          : { loggedIn: report.management.loggedIn, lastError: report.management.lastError ?? null },
      cache: cachePart,
      fills,
      artifacts,
      artifactsTotal,
      devices: activity.devices.recentFirst().map((d) => {
        const dl = d.download;
        return {
          identity: d.identity ?? null,
          address: d.address,
          userAgent: d.userAgent ?? null,
          lastCall: `${d.lastMethod} ${d.lastPath}`,
          lastStatus: d.lastStatus ?? null,
          lastSeenAt: iso(d.lastSeenAt),
          download:
            dl === undefined
              ? null
              : {
                  artifactName: dl.artifact.artifactName ?? null,
                  artifactId: dl.artifact.artifactId ?? null,
                  cache: dl.result,
                  bytes: dl.exchange?.bytesOut ?? dl.bytes,
                  size: dl.artifact.size ?? null,
                  state: !dl.finished ? 'downloading' : dl.complete ? 'complete' : 'incomplete',
                },
        };
      }),
      errors: activity.errors.map((e) => ({
        at: iso(e.at),
        status: e.status,
        code: e.code,
        message: e.message,
        method: e.method,
        path: e.path,
        identity: e.identity ?? null,
        address: e.address,
      })),
    };
  }

  #readiness(): Promise<ReadinessReport> {
    const now = this.now();
    if (this.#report === undefined || now - this.#report.at >= REPORT_REUSE_MS) {
      const value = this.sources.readiness();
      // A failed report is not kept: the next snapshot asks again.
      value.catch(() => (this.#report = undefined));
      this.#report = { at: now, value };
    }
    return this.#report.value;
  }
}

function recentlyUsed(entries: ArtifactEntry[]): ArtifactEntry[] {
  return [...entries].sort((a, b) => b.lastAccessAt.localeCompare(a.lastAccessAt)).slice(0, ARTIFACTS_LISTED);
}
