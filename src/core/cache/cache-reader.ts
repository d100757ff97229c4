import { readdir, readFile, stat } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { join } from 'node:path';
import { GatewayError } from '../errors.js';
import { errnoCode } from '../file-errors.js';
import type { ArtifactEntry } from './artifact-store.js';
import { cacheIoError } from './cache-io-error.js';
import { classify, classifyPinMarker, entryDataName, entryMetaName, IN_USE_DIR } from './cache-layout.js';
import { isProcessAlive } from './process-alive.js';
import { key } from '../config-key.js';

/**
 * Reading a cache directory as `DiskArtifactStore` lays it out (`cache-layout.ts`), without
 * writing, renaming or deleting anything, so it is safe next to a running `serve`. `cache ls`
 * and `cache prune` (through `cache-inspect.ts`) and `cache verify` (`cache-verify.ts`) all
 * start from these readings, so they judge an entry the same way.
 */

/**
 * The names in the cache directory, sorted. Throws `MGW_CACHE_NOT_FOUND` when it does not
 * exist or is not a directory and `MGW_CACHE_IO` when it cannot be read.
 */
export async function listCacheDir(dir: string): Promise<string[]> {
  let isDir: boolean;
  try {
    isDir = (await stat(dir)).isDirectory();
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT' || code === 'ENOTDIR') throw notFound(dir, 'does not exist');
    throw cacheIoError(err, dir, { by: 'command' });
  }
  if (!isDir) throw notFound(dir, 'is not a directory');
  try {
    return (await readdir(dir)).sort();
  } catch (err) {
    throw cacheIoError(err, dir, { by: 'command' });
  }
}

function notFound(dir: string, what: string): GatewayError {
  return new GatewayError('MGW_CACHE_NOT_FOUND', `artifact cache directory ${dir} ${what}`, {
    hint: `check --path, or ${key('Features.ArtifactsProxy.ArtifactsCache.Path')} in the configuration given with --config; \`serve\` creates the directory when it starts with the cache enabled`,
  });
}

/** Keys of the entries in a directory listing: every `<key>.json`, in listing order. */
export function entryKeysIn(names: readonly string[]): string[] {
  return names.flatMap((name) => {
    const file = classify(name);
    return file.kind === 'entry-meta' ? [file.key] : [];
  });
}

/** Keys with a download in progress by a live process (a `.partial` file). */
export async function liveFillKeys(dir: string): Promise<Set<string>> {
  const keys = new Set<string>();
  const names = await readdir(dir).catch(() => [] as string[]);
  for (const name of names) {
    const file = classify(name);
    if (file.kind === 'fill' && isProcessAlive(file.pid)) keys.add(file.key);
  }
  return keys;
}

/** Keys pinned by a live process, from `<dir>/.in-use/<key>.<pid>`, without removing stale markers. */
export async function liveInUseKeys(dir: string): Promise<Set<string>> {
  const keys = new Set<string>();
  const names = await readdir(join(dir, IN_USE_DIR)).catch(() => [] as string[]);
  for (const name of names) {
    const marker = classifyPinMarker(name);
    if (marker.kind === 'pin-marker' && isProcessAlive(marker.pid)) keys.add(marker.key);
  }
  return keys;
}

/** The two files of one entry, `<key>.json` and `<key>.mender`, as found on disk. */
export type EntryFiles =
  /** Metadata usable and the bytes have the recorded size. */
  | { key: string; state: 'complete'; meta: ArtifactEntry; data: Stats }
  | { key: string; state: 'size-mismatch'; meta: ArtifactEntry; data: Stats }
  | { key: string; state: 'missing-bytes'; meta: ArtifactEntry; data: undefined }
  /** `reason` says why the metadata cannot be used; `data` is the bytes, if any. */
  | { key: string; state: 'unreadable-metadata'; reason: string; data: Stats | undefined };

/**
 * Read `<key>.json` and stat `<key>.mender` in `dir`. Undefined when the metadata is gone
 * (removed meanwhile by serve's eviction or a prune). Throws `MGW_CACHE_IO` when the
 * metadata exists but cannot be read. `statOf` lets a caller reuse the stats it has.
 */
export async function readEntryFiles(
  dir: string,
  key: string,
  statOf: (name: string) => Promise<Stats | undefined> = (name) =>
    stat(join(dir, name)).catch(() => undefined),
): Promise<EntryFiles | undefined> {
  // Bytes first: a publication in progress renames them after the metadata, never before.
  const data = await statOf(entryDataName(key));
  const meta = await readMetadata(join(dir, entryMetaName(key)), key);
  if (meta === undefined) return undefined;
  if (typeof meta === 'string') return { key, state: 'unreadable-metadata', reason: meta, data };
  if (data === undefined) return { key, state: 'missing-bytes', meta, data };
  return { key, state: data.size === meta.size ? 'complete' : 'size-mismatch', meta, data };
}

/** The entry's metadata, why it cannot be used, or undefined when the file is gone. */
async function readMetadata(path: string, key: string): Promise<ArtifactEntry | string | undefined> {
  let content: string;
  try {
    content = await readFile(path, 'utf8');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw cacheIoError(err, path, { by: 'command' });
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
