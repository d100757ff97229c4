import { stat, statfs, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { GatewayError } from '../errors.js';
import { parseByteSize } from './byte-size.js';
import { errnoCode } from '../file-errors.js';
import { inspectCache } from './cache-inspect.js';
import type { CachedArtifact, CacheDebris } from './cache-inspect.js';
import { entryDataName, entryMetaName } from './cache-layout.js';
import { liveFillKeys } from './cache-reader.js';
import { parseEntryAge } from './entry-age.js';
import { pinnedKeysOnDisk } from './entry-pins.js';
import { removeQuarantined } from './cache-quarantine.js';
import type { QuarantinedEntry } from './cache-quarantine.js';

/**
 * `mender-gw cache prune`: remove complete cache entries chosen by last access or by a size
 * limit, and the debris of crashes, from outside the gateway process (docs/cache.md,
 * "mender-gw cache prune").
 *
 * Safe while `serve` runs on the same directory:
 * - entries pinned by a live `serve` (`.in-use/<key>.<pid>`, see `entry-pins.ts`) are never
 *   removed; the pins are read again right before each removal;
 * - removal follows `DiskArtifactStore.remove()`: metadata first, then bytes, so an
 *   interruption leaves bytes without metadata, which is debris, never a wrong entry;
 * - `serve` treats a vanished entry as a miss and downloads it again, and a device already
 *   reading the file keeps its open descriptor (unlink semantics);
 * - fills in progress (`.partial` of a live process) are never touched, and neither is
 *   anything `cache-inspect.ts` does not recognise as the cache's own.
 * Last access is the gateway's own record in `<key>.json`, not the file's atime, which
 * `relatime`/`noatime` mounts make meaningless.
 */

/** Which complete entries to remove; at least one selector is required. */
export interface PruneSelection {
  /** Entries last accessed longer ago than this (ms). */
  olderThanMs: number | undefined;
  /** Then the least recently accessed entries until the complete entries total at most this. */
  maxSizeBytes: number | undefined;
  /** Every entry that is not in use. */
  all: boolean;
  /** The entries `cache verify` moved to `quarantine/` (default false). */
  quarantine?: boolean | undefined;
}

/** The selectors as typed on the command line. */
export interface PruneSelectionInput {
  olderThan?: string | undefined;
  maxSize?: string | undefined;
  all?: boolean | undefined;
  quarantine?: boolean | undefined;
}

export interface PruneOptions {
  /** Report the plan, remove nothing. */
  dryRun?: boolean | undefined;
  /** Clock, for tests. */
  now?: Date | undefined;
  /** Called after each entry, debris file or quarantined entry is removed (or planned, with `dryRun`). */
  onProgress?: ((progress: PruneProgress) => void) | undefined;
}

/** How far a prune is: items handled of those planned, and the bytes they freed. */
export interface PruneProgress {
  done: number;
  total: number;
  bytes: number;
}

export type PruneReason = 'older-than' | 'max-size' | 'all';

export interface PrunedEntry {
  key: string;
  artifactName: string | undefined;
  size: number;
  lastAccessAt: string;
  hits: number;
  reason: PruneReason;
}

export interface SkippedEntry {
  key: string;
  artifactName: string | undefined;
  size: number;
  lastAccessAt: string;
  /** Selected, but a live `serve` is sending it to a device. */
  reason: 'in-use';
}

export interface PruneResult {
  dir: string;
  dryRun: boolean;
  prunedAt: string;
  selection: PruneSelection;
  /** Entries removed (or, with `dryRun`, that would be), least recently accessed first. */
  removed: PrunedEntry[];
  skipped: SkippedEntry[];
  /** Crash debris removed (or that would be). */
  debris: CacheDebris[];
  /** Quarantined entries removed (or that would be), with `--quarantine`. */
  quarantined: QuarantinedEntry[];
  /** Bytes of entries and debris removed (or that would be). */
  freedBytes: number;
  /** Complete entries left. */
  remaining: { entries: number; bytes: number };
  /** With a size limit: whether the remaining entries fit it (false when entries in use prevent it). */
  maxSizeMet: boolean | undefined;
  /** Downloads in progress, left alone. */
  fillsInProgress: number;
  /** Space on the cache volume afterwards (now, with `dryRun`). */
  volume: { freeBytes: number; totalBytes: number };
}

const SELECTOR_FLAGS = '--older-than, --max-size, --all or --quarantine';

/**
 * Turn the command line's strings into a {@link PruneSelection}. Throws
 * `MGW_CACHE_INVALID_INPUT` (exit 2) naming the flag when a value is malformed or when no
 * selector is given.
 */
export function parsePruneSelection(input: PruneSelectionInput): PruneSelection {
  const parse = <T>(
    flag: string,
    value: string | undefined,
    parser: (text: string) => T,
    example: string,
  ) => {
    if (value === undefined) return undefined;
    try {
      return parser(value);
    } catch (err) {
      throw new GatewayError('MGW_CACHE_INVALID_INPUT', `${flag}: ${(err as Error).message}`, {
        hint: `for example ${flag} ${example}`,
      });
    }
  };
  const selection: PruneSelection = {
    olderThanMs: parse('--older-than', input.olderThan, parseEntryAge, '30d (or a Go duration such as 720h)'),
    maxSizeBytes: parse('--max-size', input.maxSize, parseByteSize, '10GiB (or 500M, 1.5G, 2TB, bytes)'),
    all: input.all ?? false,
    quarantine: input.quarantine ?? false,
  };
  assertSelection(selection);
  return selection;
}

function assertSelection(selection: PruneSelection): void {
  if (
    selection.olderThanMs === undefined &&
    selection.maxSizeBytes === undefined &&
    !selection.all &&
    selection.quarantine !== true
  ) {
    throw new GatewayError('MGW_CACHE_INVALID_INPUT', `nothing selected to prune: give ${SELECTOR_FLAGS}`, {
      hint: 'e.g. `mender-gw cache prune --older-than 30d`, `--max-size 10GiB`, or `--all --dry-run` to preview; debris of crashes is removed with any of them',
    });
  }
}

/**
 * Remove the selected complete entries of the cache in `dir` that no live process uses,
 * least recently accessed first, plus crash debris. Throws `MGW_CACHE_NOT_FOUND`,
 * `MGW_CACHE_INVALID_INPUT` (empty selection) or `MGW_CACHE_IO`.
 */
export async function pruneCache(
  dir: string,
  selection: PruneSelection,
  options: PruneOptions = {},
): Promise<PruneResult> {
  assertSelection(selection);
  const dryRun = options.dryRun ?? false;
  const now = options.now ?? new Date();
  const inspection = await inspectCache(dir, { now });
  // A real run also clears markers of dead processes; a dry run changes nothing.
  const pinned = dryRun
    ? new Set(inspection.entries.filter((e) => e.inUse).map((e) => e.key))
    : await pinnedKeysOnDisk(dir);

  const plan = planPrune(inspection.entries, selection, pinned, now.getTime());
  const removed: PrunedEntry[] = [];
  const skipped = [...plan.skipped];
  const gone = new Set<string>();
  let freedBytes = 0;
  const planned = selection.quarantine === true ? inspection.quarantined : [];
  const progress = { done: 0, total: plan.remove.length + inspection.debris.length + planned.length };
  const step = (): void => {
    progress.done++;
    options.onProgress?.({ ...progress, bytes: freedBytes });
  };

  for (const { entry, reason } of plan.remove) {
    if (dryRun) {
      removed.push(prunedEntry(entry, reason));
      freedBytes += entry.size;
      step();
      continue;
    }
    // serve may have started sending it since the scan.
    if ((await pinnedKeysOnDisk(dir)).has(entry.key)) {
      skipped.push(skippedEntry(entry));
      step();
      continue;
    }
    const freed = await removeEntryFiles(dir, entry.key);
    gone.add(entry.key);
    if (freed !== undefined) {
      removed.push(prunedEntry(entry, reason));
      freedBytes += freed;
    } // else removed meanwhile (serve's eviction)
    step();
  }

  const debris: CacheDebris[] = [];
  const fillsNow = dryRun ? new Set<string>() : await liveFillKeys(dir);
  for (const item of inspection.debris) {
    // Left alone when a fill published it meanwhile, or already gone.
    const leftAlone =
      !dryRun && ((await stillServes(dir, item, fillsNow)) || !(await removeFile(join(dir, item.file))));
    if (!leftAlone) {
      debris.push(item);
      freedBytes += item.bytes;
    }
    step();
  }

  const quarantined: QuarantinedEntry[] = [];
  for (const entry of planned) {
    const done = dryRun ? [entry] : await removeQuarantined(dir, [entry]);
    quarantined.push(...done);
    freedBytes += done.reduce((sum, q) => sum + q.bytes, 0);
    step();
  }

  const removedKeys = new Set(removed.map((r) => r.key));
  const left = inspection.entries.filter((e) => !removedKeys.has(e.key) && !gone.has(e.key));
  const remaining = { entries: left.length, bytes: left.reduce((total, e) => total + e.size, 0) };
  const volume = dryRun
    ? inspection.volume
    : await statfs(dir).then((s) => ({ freeBytes: s.bavail * s.bsize, totalBytes: s.blocks * s.bsize }));
  return {
    dir,
    dryRun,
    prunedAt: now.toISOString(),
    selection,
    removed,
    skipped,
    debris,
    quarantined,
    freedBytes,
    remaining,
    maxSizeMet: selection.maxSizeBytes === undefined ? undefined : remaining.bytes <= selection.maxSizeBytes,
    fillsInProgress: inspection.fills.length,
    volume,
  };
}

interface PrunePlan {
  remove: { entry: CachedArtifact; reason: PruneReason }[];
  skipped: SkippedEntry[];
}

/**
 * Order as eviction does (`cache-eviction.ts`): least recently accessed first, creation time
 * breaking ties. `--all` and `--older-than` pick by themselves; `--max-size` then continues
 * down the same order until the remaining entries fit, stepping over entries in use.
 */
function planPrune(
  entries: CachedArtifact[],
  selection: PruneSelection,
  pinned: ReadonlySet<string>,
  nowMs: number,
): PrunePlan {
  const ordered = [...entries].sort(
    (a, b) => a.lastAccessAt.localeCompare(b.lastAccessAt) || a.createdAt.localeCompare(b.createdAt),
  );
  const chosen = new Map<string, PruneReason>();
  const skipped = new Map<string, SkippedEntry>();
  const take = (entry: CachedArtifact, reason: PruneReason): void => {
    if (pinned.has(entry.key)) skipped.set(entry.key, skippedEntry(entry));
    else if (!chosen.has(entry.key)) chosen.set(entry.key, reason);
  };
  for (const entry of ordered) {
    if (selection.all) take(entry, 'all');
    else if (
      selection.olderThanMs !== undefined &&
      nowMs - Date.parse(entry.lastAccessAt) > selection.olderThanMs
    ) {
      take(entry, 'older-than');
    }
  }
  if (selection.maxSizeBytes !== undefined) {
    let total = ordered.filter((e) => !chosen.has(e.key)).reduce((sum, e) => sum + e.size, 0);
    for (const entry of ordered) {
      if (total <= selection.maxSizeBytes) break;
      if (chosen.has(entry.key) || skipped.has(entry.key)) continue;
      take(entry, 'max-size');
      if (chosen.has(entry.key)) total -= entry.size;
    }
  }
  return {
    remove: ordered.flatMap((entry) => {
      const reason = chosen.get(entry.key);
      return reason === undefined ? [] : [{ entry, reason }];
    }),
    skipped: ordered.flatMap((entry) => {
      const skip = skipped.get(entry.key);
      return skip === undefined ? [] : [skip];
    }),
  };
}

/**
 * Delete `<key>.json`, then `<key>.mender` (the order of `DiskArtifactStore.remove()`).
 * Returns the bytes freed, or undefined when the entry was already gone.
 */
async function removeEntryFiles(dir: string, key: string): Promise<number | undefined> {
  const meta = join(dir, entryMetaName(key));
  const data = join(dir, entryDataName(key));
  const size = await stat(data).then(
    (s) => s.size,
    () => 0,
  );
  const hadMeta = await removeFile(meta);
  const hadData = await removeFile(data);
  // A serve recording a download may have rewritten the metadata between the two unlinks.
  await removeFile(meta);
  return hadMeta || hadData ? size : undefined;
}

/** Whether debris became part of a live entry since the scan (a fill published meanwhile). */
async function stillServes(dir: string, item: CacheDebris, fills: ReadonlySet<string>): Promise<boolean> {
  if (item.key === undefined || item.kind === 'dead-fill' || item.kind === 'stale-temp') return false;
  if (fills.has(item.key)) return true;
  const exists = (name: string): Promise<boolean> =>
    stat(join(dir, name)).then(
      () => true,
      () => false,
    );
  if (item.kind === 'metadata-without-bytes') return exists(entryDataName(item.key));
  if (item.kind === 'bytes-without-metadata') return exists(entryMetaName(item.key));
  return false;
}

async function removeFile(path: string): Promise<boolean> {
  try {
    await unlink(path);
    return true;
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT') return false;
    const denied = code === 'EACCES' || code === 'EPERM';
    throw new GatewayError(
      'MGW_CACHE_IO',
      `cannot remove ${path}: ${denied ? 'permission denied' : (code ?? 'error')}`,
      {
        cause: err,
        hint: denied
          ? 'run the command as the user `serve` runs as (or root); nothing else was changed for this file'
          : 'check the cache volume; entries already removed stay removed',
      },
    );
  }
}

function prunedEntry(entry: CachedArtifact, reason: PruneReason): PrunedEntry {
  const { key, artifactName, size, lastAccessAt, hits } = entry;
  return { key, artifactName, size, lastAccessAt, hits, reason };
}

function skippedEntry(entry: CachedArtifact): SkippedEntry {
  const { key, artifactName, size, lastAccessAt } = entry;
  return { key, artifactName, size, lastAccessAt, reason: 'in-use' };
}
