import { readdir, readFile, stat, statfs } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { join } from 'node:path';
import { GatewayError, isGatewayError } from '../errors.js';
import type { ArtifactEntry } from './artifact-store.js';
import { IN_USE_DIR } from './entry-pins.js';
import { readMenderArtifactHeader } from './mender-artifact-header.js';
import { isProcessAlive } from './process-alive.js';

/**
 * A read-only look at an artifact cache directory, for `mender-gw cache ls` and as the plan
 * of `cache prune` (protocol doc §4.6). It reads the layout `DiskArtifactStore` writes
 * (`<key>.mender`, `<key>.json`, `<key>.<pid>.<random>.partial`, `<key>.json.<random>.tmp`)
 * and the in-use markers of `EntryPins`, and never writes, renames or deletes anything, so
 * it is safe next to a running `serve`; `DiskArtifactStore.open()` is not, since it removes
 * what it considers debris.
 *
 * What a running `serve` may be doing while we look, and how it is classified:
 * - a fill writes `<key>.<pid>.….partial`: a fill in progress while `pid` is alive;
 * - committing a fill publishes `<key>.json` first and renames the bytes a moment later:
 *   while a live fill for the key exists, neither half is debris;
 * - metadata updates go through `<key>.json.<random>.tmp` for milliseconds: only such
 *   temporaries older than {@link STALE_TEMP_MS} are debris.
 * Partially filled entries never count towards the totals (style doc C11).
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
  totals: {
    /** Complete entries only. */
    entries: number;
    bytes: number;
    fills: number;
    fillBytes: number;
    debrisFiles: number;
    debrisBytes: number;
  };
  volume: { freeBytes: number; totalBytes: number };
}

export interface InspectOptions {
  /** Read name and device types from each artifact's header (default true). */
  readHeaders?: boolean | undefined;
  /** Clock, for tests. */
  now?: Date | undefined;
}

const KEY = '[0-9a-f]{64}';
const PARTIAL = new RegExp(`^(${KEY})\\.(\\d+)\\.[0-9a-f]+\\.partial$`);
const META_TEMP = new RegExp(`^(${KEY})\\.json\\.[0-9a-f]+\\.tmp$`);
const META = new RegExp(`^(${KEY})\\.json$`);
const DATA = new RegExp(`^(${KEY})\\.mender$`);
const MARKER = new RegExp(`^(${KEY})\\.(\\d+)$`);

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
    const partial = PARTIAL.exec(name);
    if (partial?.[1] !== undefined) {
      const pid = Number(partial[2]);
      if (!isProcessAlive(pid)) {
        await addDebris(name, 'dead-fill', `download interrupted: process ${pid} is gone`, partial[1]);
        continue;
      }
      const s = await statOf(name);
      if (s === undefined) continue; // committed or aborted meanwhile
      const header = readHeaders ? await headerOf(join(dir, name), true) : SKIPPED;
      fills.push({
        key: partial[1],
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
    const temp = META_TEMP.exec(name);
    if (temp?.[1] !== undefined) {
      const s = await statOf(name);
      if (s !== undefined && now.getTime() - s.mtime.getTime() > STALE_TEMP_MS) {
        await addDebris(name, 'stale-temp', 'metadata update interrupted', temp[1]);
      }
    }
  }

  const filling = new Set(fills.map((fill) => fill.key));
  const inUse = await liveInUseKeys(dir);
  const entries: CachedArtifact[] = [];
  const complete = new Set<string>();
  for (const key of entryKeysIn(names)) {
    const name = `${key}.json`;
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
          await addDebris(`${key}.mender`, 'size-mismatch', reason, key);
          break;
        }
      }
      continue;
    }
    const { meta } = found;
    complete.add(key);
    const header = readHeaders ? await headerOf(join(dir, `${key}.mender`), false) : SKIPPED;
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
    const key = DATA.exec(name)?.[1];
    if (key === undefined || complete.has(key) || filling.has(key)) continue;
    if (debris.some((d) => d.file === name)) continue;
    const hasMeta = present.has(`${key}.json`);
    const reason = hasMeta ? 'its metadata is unusable' : 'no metadata (removal or publication interrupted)';
    await addDebris(name, 'bytes-without-metadata', reason, key);
  }

  entries.sort(
    (a, b) => b.lastAccessAt.localeCompare(a.lastAccessAt) || b.createdAt.localeCompare(a.createdAt),
  );
  debris.sort((a, b) => a.file.localeCompare(b.file));
  const sum = (values: number[]): number => values.reduce((total, v) => total + v, 0);
  const volume = await statfs(dir).then(
    (s) => ({ freeBytes: s.bavail * s.bsize, totalBytes: s.blocks * s.bsize }),
    (err: unknown) => {
      throw cacheIoError(dir, err);
    },
  );
  return {
    dir,
    inspectedAt: now.toISOString(),
    entries,
    fills,
    debris,
    totals: {
      entries: entries.length,
      bytes: sum(entries.map((e) => e.size)),
      fills: fills.length,
      fillBytes: sum(fills.map((f) => f.bytesOnDisk)),
      debrisFiles: debris.length,
      debrisBytes: sum(debris.map((d) => d.bytes)),
    },
    volume,
  };
}

/** Keys with a download in progress by a live process (a `.partial` file). */
export async function liveFillKeys(dir: string): Promise<Set<string>> {
  const keys = new Set<string>();
  const names = await readdir(dir).catch(() => [] as string[]);
  for (const name of names) {
    const match = PARTIAL.exec(name);
    if (match?.[1] !== undefined && isProcessAlive(Number(match[2]))) keys.add(match[1]);
  }
  return keys;
}

/**
 * The two files of one entry, `<key>.json` and `<key>.mender`, as found on disk. `cache ls`
 * and `cache prune` (through {@link inspectCache}) and `cache verify` (`cache-verify.ts`) all
 * start from this one reading, so they judge an entry the same way (issue #7 item 2).
 */
export type EntryFiles =
  /** Metadata usable and the bytes have the recorded size. */
  | { key: string; state: 'complete'; meta: ArtifactEntry; data: Stats }
  | { key: string; state: 'size-mismatch'; meta: ArtifactEntry; data: Stats }
  | { key: string; state: 'missing-bytes'; meta: ArtifactEntry; data: undefined }
  /** `reason` says why the metadata cannot be used; `data` is the bytes, if any. */
  | { key: string; state: 'unreadable-metadata'; reason: string; data: Stats | undefined };

/** Keys of the entries in a directory listing: every `<key>.json`, in listing order. */
export function entryKeysIn(names: readonly string[]): string[] {
  return names.flatMap((name) => {
    const key = META.exec(name)?.[1];
    return key === undefined ? [] : [key];
  });
}

/**
 * Read `<key>.json` and stat `<key>.mender` in `dir`. Undefined when the metadata is gone
 * (removed meanwhile by serve's eviction or a prune). Throws `MGW_CACHE_IO` when the
 * metadata exists but cannot be read. `statOf` lets {@link inspectCache} reuse its stats.
 */
export async function readEntryFiles(
  dir: string,
  key: string,
  statOf: (name: string) => Promise<Stats | undefined> = (name) =>
    stat(join(dir, name)).catch(() => undefined),
): Promise<EntryFiles | undefined> {
  // Bytes first: a publication in progress renames them after the metadata, never before.
  const data = await statOf(`${key}.mender`);
  const meta = await readMetadata(join(dir, `${key}.json`), key);
  if (meta === undefined) return undefined;
  if (typeof meta === 'string') return { key, state: 'unreadable-metadata', reason: meta, data };
  if (data === undefined) return { key, state: 'missing-bytes', meta, data };
  return { key, state: data.size === meta.size ? 'complete' : 'size-mismatch', meta, data };
}

/** Keys pinned by a live process, from `<dir>/.in-use/<key>.<pid>`, without removing stale markers. */
async function liveInUseKeys(dir: string): Promise<Set<string>> {
  const keys = new Set<string>();
  const names = await readdir(join(dir, IN_USE_DIR)).catch(() => [] as string[]);
  for (const name of names) {
    const match = MARKER.exec(name);
    if (match?.[1] !== undefined && isProcessAlive(Number(match[2]))) keys.add(match[1]);
  }
  return keys;
}

/**
 * The names in the cache directory, sorted. Throws `MGW_CACHE_NOT_FOUND` when it does not
 * exist or is not a directory and `MGW_CACHE_IO` when it cannot be read.
 */
export async function listCacheDir(dir: string): Promise<string[]> {
  let isDir: boolean;
  try {
    isDir = (await stat(dir)).isDirectory();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw notFound(dir, 'does not exist');
    throw cacheIoError(dir, err);
  }
  if (!isDir) throw notFound(dir, 'is not a directory');
  try {
    return (await readdir(dir)).sort();
  } catch (err) {
    throw cacheIoError(dir, err);
  }
}

function notFound(dir: string, what: string): GatewayError {
  return new GatewayError('MGW_CACHE_NOT_FOUND', `artifact cache directory ${dir} ${what}`, {
    hint: 'check --path, or Features.ArtifactsProxy.ArtifactsCache.Path in the configuration given with --config; `serve` creates the directory when it starts with the cache enabled',
  });
}

/** `MGW_CACHE_IO` for a failed read of `path`, with a hint that tells permissions from a failing volume. */
export function cacheIoError(path: string, err: unknown): GatewayError {
  const code = (err as NodeJS.ErrnoException).code ?? 'error';
  const denied = code === 'EACCES' || code === 'EPERM';
  return new GatewayError(
    'MGW_CACHE_IO',
    `cannot read the artifact cache at ${path}: ${denied ? 'permission denied' : code}`,
    {
      cause: err,
      hint: denied
        ? 'run the command as the user `serve` runs as (or root)'
        : 'check the directory and the volume it is on',
    },
  );
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

/** The entry's metadata, why it cannot be used, or undefined when the file is gone. */
async function readMetadata(path: string, key: string): Promise<ArtifactEntry | string | undefined> {
  let content: string;
  try {
    content = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw cacheIoError(path, err);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(content);
  } catch {
    return 'metadata is not valid JSON';
  }
  if (typeof raw !== 'object' || raw === null) return 'metadata is not a JSON object';
  const entry = raw as Partial<ArtifactEntry>;
  if (entry.key !== key) return 'metadata belongs to another key';
  if (typeof entry.size !== 'number' || !Number.isSafeInteger(entry.size) || entry.size < 0) {
    return 'metadata has no valid size';
  }
  const text = (value: unknown, fallback: string): string => (typeof value === 'string' ? value : fallback);
  const optional = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);
  const count = (value: unknown): number => (typeof value === 'number' && Number.isFinite(value) ? value : 0);
  const createdAt = text(entry.createdAt, '');
  return {
    key,
    origin: text(entry.origin, ''),
    artifactId: optional(entry.artifactId),
    artifactName: optional(entry.artifactName),
    size: entry.size,
    sha256: text(entry.sha256, ''),
    etag: optional(entry.etag),
    lastModified: optional(entry.lastModified),
    contentType: optional(entry.contentType),
    createdAt,
    lastAccessAt: text(entry.lastAccessAt, createdAt),
    hits: count(entry.hits),
    bytesServed: count(entry.bytesServed),
  };
}
