import { stat, statfs } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { join } from 'node:path';
import { isGatewayError } from '../errors.js';
import { cacheIoError } from './cache-io-error.js';
import { classify, entryDataName, entryMetaName } from './cache-layout.js';
import { entryKeysIn, listCacheDir, liveInUseKeys, readEntryFiles } from './cache-reader.js';
import { readMenderArtifactHeader } from './mender-artifact-header.js';
import { listQuarantine } from './cache-quarantine.js';
import type { QuarantinedEntry } from './cache-quarantine.js';
import { isProcessAlive } from './process-alive.js';

/**
 * A read-only look at an artifact cache directory, for `mender-gw cache ls` and as the plan
 * of `cache prune`. It reads the layout `DiskArtifactStore` writes (`cache-layout.ts`, through
 * `cache-reader.ts`) and the in-use markers of `EntryPins`, and never writes, renames or deletes anything, so
 * it is safe next to a running `serve`; `DiskArtifactStore.open()` is not, since it removes
 * what it considers debris.
 *
 * What a running `serve` may be doing while we look, and how it is classified:
 * - a fill writes `<key>.<pid>.….partial`: a fill in progress while `pid` is alive;
 * - committing a fill publishes `<key>.json` first and renames the bytes a moment later:
 *   while a live fill for the key exists, neither half is debris;
 * - metadata updates go through `<key>.json.<random>.tmp` for milliseconds: only such
 *   temporaries older than {@link STALE_TEMP_MS} are debris.
 * Partially filled entries never count towards the totals.
 */

/** A metadata temporary this old was left by a crash, not by a write in progress. */
export const STALE_TEMP_MS = 10 * 60 * 1000;

/** How the artifact's own header was read (see `mender-artifact-header.ts`). */
export type ArtifactHeaderStatus =
  | { status: 'read'; formatVersion: number; compression: 'none' | 'gzip'; signed: boolean }
  /** xz/zstd header: Node 20 cannot inflate it; name from metadata, device types unknown. */
  | { status: 'compressed'; formatVersion: number; compression: 'xz' | 'zstd'; signed: boolean }
  | { status: 'unreadable'; reason: string }
  /** Headers were not read (`readHeaders: false`), or not yet written (a young fill). */
  | { status: 'skipped' };

/** A complete entry: metadata and bytes, sizes matching. */
export interface CachedArtifact {
  key: string;
  state: 'complete';
  /** From the artifact's header, else from the deployment recorded at download time. */
  artifactName: string | undefined;
  nameSource: 'header' | 'metadata' | 'none';
  /** Compatible device types from the header; undefined when it could not be read. */
  deviceTypes: string[] | undefined;
  header: ArtifactHeaderStatus;
  size: number;
  /** Pinned by a live `serve`: being sent to a device right now. `cache prune` skips it. */
  inUse: boolean;
  createdAt: string;
  lastAccessAt: string;
  hits: number;
  bytesServed: number;
  artifactId: string | undefined;
  /** Storage URL without its query (never a presigned signature). */
  origin: string;
  sha256: string;
}

/** A download into the cache by a live process; its final size is not on disk yet. */
export interface CacheFill {
  key: string;
  state: 'filling';
  pid: number;
  file: string;
  bytesOnDisk: number;
  /** Time of the last write, ISO 8601: a fill that stops moving is stuck upstream. */
  lastWriteAt: string;
  artifactName: string | undefined;
  deviceTypes: string[] | undefined;
  header: ArtifactHeaderStatus;
}

export type DebrisKind =
  | 'dead-fill'
  | 'stale-temp'
  | 'metadata-without-bytes'
  | 'bytes-without-metadata'
  | 'invalid-metadata'
  | 'size-mismatch';

/** A file left by a crash or kill -9 that `cache prune` (and `serve` at start) removes. */
export interface CacheDebris {
  /** File name inside the cache directory. */
  file: string;
  kind: DebrisKind;
  reason: string;
  bytes: number;
  key: string | undefined;
}

export interface CacheInspection {
  dir: string;
  inspectedAt: string;
  /** Complete entries, most recently accessed first. */
  entries: CachedArtifact[];
  fills: CacheFill[];
  debris: CacheDebris[];
  /** Entries `cache verify` moved to `quarantine/`; they still take space. */
  quarantined: QuarantinedEntry[];
  totals: {
    /** Complete entries only. */
    entries: number;
    bytes: number;
    fills: number;
    fillBytes: number;
    debrisFiles: number;
    debrisBytes: number;
    quarantined: number;
    quarantinedBytes: number;
  };
  volume: { freeBytes: number; totalBytes: number };
}

export interface InspectOptions {
  /** Read name and device types from each artifact's header (default true). */
  readHeaders?: boolean | undefined;
  /** Clock, for tests. */
  now?: Date | undefined;
}

/**
 * Scan `dir` without changing it. Throws `MGW_CACHE_NOT_FOUND` when it does not exist or is
 * not a directory and `MGW_CACHE_IO` when it cannot be read.
 */
export async function inspectCache(dir: string, options: InspectOptions = {}): Promise<CacheInspection> {
  const readHeaders = options.readHeaders ?? true;
  const now = options.now ?? new Date();
  const names = await listCacheDir(dir);
  const present = new Set(names);
  const stats = new Map<string, Stats>();
  const statOf = async (name: string): Promise<Stats | undefined> => {
    if (!stats.has(name)) {
      const s = await stat(join(dir, name)).catch(() => undefined);
      if (s === undefined) return undefined;
      stats.set(name, s);
    }
    return stats.get(name);
  };

  const fills: CacheFill[] = [];
  const debris: CacheDebris[] = [];
  const addDebris = async (
    file: string,
    kind: DebrisKind,
    reason: string,
    key: string | undefined,
  ): Promise<void> => {
    const s = await statOf(file);
    if (s !== undefined) debris.push({ file, kind, reason, bytes: s.size, key });
  };

  for (const name of names) {
    const file = classify(name);
    if (file.kind === 'fill') {
      const { key, pid } = file;
      if (!isProcessAlive(pid)) {
        await addDebris(name, 'dead-fill', `download interrupted: process ${pid} is gone`, key);
        continue;
      }
      const s = await statOf(name);
      if (s === undefined) continue; // committed or aborted meanwhile
      const header = readHeaders ? await headerOf(join(dir, name), true) : SKIPPED;
      fills.push({
        key,
        state: 'filling',
        pid,
        file: name,
        bytesOnDisk: s.size,
        lastWriteAt: s.mtime.toISOString(),
        artifactName: header.artifactName,
        deviceTypes: header.deviceTypes,
        header: header.status,
      });
      continue;
    }
    if (file.kind === 'meta-temp') {
      const s = await statOf(name);
      if (s !== undefined && now.getTime() - s.mtime.getTime() > STALE_TEMP_MS) {
        await addDebris(name, 'stale-temp', 'metadata update interrupted', file.key);
      }
    }
  }

  const filling = new Set(fills.map((fill) => fill.key));
  const inUse = await liveInUseKeys(dir);
  const entries: CachedArtifact[] = [];
  const complete = new Set<string>();
  for (const key of entryKeysIn(names)) {
    const name = entryMetaName(key);
    // A fill of this key may be publishing right now (metadata first, bytes a moment later).
    const committing = filling.has(key);
    const found = await readEntryFiles(dir, key, statOf);
    if (found === undefined) continue; // removed meanwhile (serve's eviction, another prune)
    if (found.state !== 'complete') {
      if (committing) continue;
      switch (found.state) {
        case 'unreadable-metadata':
          await addDebris(name, 'invalid-metadata', found.reason, key);
          break;
        case 'missing-bytes':
          await addDebris(name, 'metadata-without-bytes', 'the artifact bytes are missing', key);
          break;
        case 'size-mismatch': {
          const reason = `${found.data.size} bytes on disk, ${found.meta.size} recorded`;
          await addDebris(name, 'size-mismatch', reason, key);
          await addDebris(entryDataName(key), 'size-mismatch', reason, key);
          break;
        }
      }
      continue;
    }
    const { meta } = found;
    complete.add(key);
    const header = readHeaders ? await headerOf(join(dir, entryDataName(key)), false) : SKIPPED;
    const headerName = header.artifactName;
    entries.push({
      key,
      state: 'complete',
      artifactName: headerName ?? meta.artifactName,
      nameSource: headerName !== undefined ? 'header' : meta.artifactName !== undefined ? 'metadata' : 'none',
      deviceTypes: header.deviceTypes,
      header: header.status,
      size: meta.size,
      inUse: inUse.has(key),
      createdAt: meta.createdAt,
      lastAccessAt: meta.lastAccessAt,
      hits: meta.hits,
      bytesServed: meta.bytesServed,
      artifactId: meta.artifactId,
      origin: meta.origin,
      sha256: meta.sha256,
    });
  }
  for (const name of names) {
    const file = classify(name);
    if (file.kind !== 'entry-data') continue;
    const { key } = file;
    if (complete.has(key) || filling.has(key)) continue;
    if (debris.some((d) => d.file === name)) continue;
    const hasMeta = present.has(entryMetaName(key));
    const reason = hasMeta ? 'its metadata is unusable' : 'no metadata (removal or publication interrupted)';
    await addDebris(name, 'bytes-without-metadata', reason, key);
  }

  entries.sort(
    (a, b) => b.lastAccessAt.localeCompare(a.lastAccessAt) || b.createdAt.localeCompare(a.createdAt),
  );
  debris.sort((a, b) => a.file.localeCompare(b.file));
  const sum = (values: number[]): number => values.reduce((total, v) => total + v, 0);
  const quarantined = await listQuarantine(dir);
  const volume = await statfs(dir).then(
    (s) => ({ freeBytes: s.bavail * s.bsize, totalBytes: s.blocks * s.bsize }),
    (err: unknown) => {
      throw cacheIoError(err, dir, { by: 'command' });
    },
  );
  return {
    dir,
    inspectedAt: now.toISOString(),
    entries,
    fills,
    debris,
    quarantined,
    totals: {
      entries: entries.length,
      bytes: sum(entries.map((e) => e.size)),
      fills: fills.length,
      fillBytes: sum(fills.map((f) => f.bytesOnDisk)),
      debrisFiles: debris.length,
      debrisBytes: sum(debris.map((d) => d.bytes)),
      quarantined: quarantined.length,
      quarantinedBytes: sum(quarantined.map((q) => q.bytes)),
    },
    volume,
  };
}

const SKIPPED = { status: { status: 'skipped' }, artifactName: undefined, deviceTypes: undefined } as const;

async function headerOf(
  path: string,
  growing: boolean,
): Promise<{
  status: ArtifactHeaderStatus;
  artifactName: string | undefined;
  deviceTypes: string[] | undefined;
}> {
  try {
    const header = await readMenderArtifactHeader(path);
    if (!header.readable) {
      const { formatVersion, headerCompression: compression, signed } = header;
      return {
        status: { status: 'compressed', formatVersion, compression, signed },
        artifactName: undefined,
        deviceTypes: undefined,
      };
    }
    const { formatVersion, headerCompression: compression, signed, artifactName, deviceTypes } = header;
    return { status: { status: 'read', formatVersion, compression, signed }, artifactName, deviceTypes };
  } catch (err) {
    // A young fill has not received its header yet: not an error.
    if (growing) return SKIPPED;
    const reason = isGatewayError(err) || err instanceof Error ? err.message : String(err);
    return { status: { status: 'unreadable', reason }, artifactName: undefined, deviceTypes: undefined };
  }
}
