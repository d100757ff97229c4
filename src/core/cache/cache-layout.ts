import { randomBytes } from 'node:crypto';

/**
 * Every name the artifact cache writes in its directory, built and parsed here and nowhere
 * else, so that `serve` (`disk-artifact-store.ts`, `entry-pins.ts`, `cache-lock.ts`) and the
 * offline commands (`cache ls`, `cache verify`, `cache prune`) cannot drift apart on what a
 * file is. The layout is described for operators in docs/cache.md ("Layout on disk"):
 *
 *   <key>.mender                        complete artifact bytes
 *   <key>.json                          its metadata
 *   <key>.<pid>.<random>.partial        a fill in progress by process <pid>
 *   <key>.json.<random>.tmp             metadata being replaced
 *   .in-use/<key>.<pid>                 process <pid> is sending or filling <key>
 *   .serve.lock                         the serve process that owns the folder
 *   .serve.lock.<random>.stale          a stale lock being replaced
 *   quarantine/<key>.<timestamp>[-n]/   an entry `cache verify` found bad
 *
 * Builders return names relative to the cache directory; callers join them to it.
 */

/** Keys are 64 lower-case hex characters; anything else never touches the file system. */
export function isCacheKey(value: string): boolean {
  return /^[0-9a-f]{64}$/.test(value);
}

/** The folder of in-use markers (`entry-pins.ts`). */
export const IN_USE_DIR = '.in-use';

/** The lock of the serve process that owns the folder (`cache-lock.ts`). */
export const LOCK_FILE = '.serve.lock';

/** The folder, inside the cache directory, `cache verify` moves bad entries to. */
export const QUARANTINE_DIR = 'quarantine';

/** Written next to a quarantined entry's files: what was found, for the operator. */
export const QUARANTINE_REPORT = 'verify.json';

/** The random part of temporary names: unique enough for one folder, always lower-case hex. */
export function randomPart(): string {
  return randomBytes(6).toString('hex');
}

/** A complete entry's bytes. */
export function entryDataName(key: string): string {
  return `${key}.mender`;
}

/** A complete entry's metadata. */
export function entryMetaName(key: string): string {
  return `${key}.json`;
}

/** Where process `pid` writes a fill of `key` before publishing it. */
export function fillName(key: string, pid: number = process.pid, random: string = randomPart()): string {
  return `${key}.${pid}.${random}.partial`;
}

/** Where new metadata of `key` is written before it replaces `<key>.json`. */
export function metaTempName(key: string, random: string = randomPart()): string {
  return `${entryMetaName(key)}.${random}.tmp`;
}

/** The marker saying that process `pid` uses `key`, relative to the cache directory. */
export function pinMarkerName(key: string, pid: number = process.pid): string {
  return `${IN_USE_DIR}/${pinMarkerFile(key, pid)}`;
}

/** The same marker, as a name inside {@link IN_USE_DIR}. */
export function pinMarkerFile(key: string, pid: number = process.pid): string {
  return `${key}.${pid}`;
}

/** Where a stale lock is moved aside before it is replaced. */
export function lockAsideName(random: string = randomPart()): string {
  return `${LOCK_FILE}.${random}.stale`;
}

/**
 * The folder a bad entry is moved to, relative to the cache directory; `attempt` > 1 when an
 * earlier `cache verify` used the same timestamp.
 */
export function quarantineFolderName(key: string, at: Date, attempt = 1): string {
  const stamp = at.toISOString().replace(/[-:]/g, '');
  return `${QUARANTINE_DIR}/${key}.${stamp}${attempt > 1 ? `-${attempt}` : ''}`;
}

/** What a name in the cache directory is; `other` for anything the cache did not write. */
export type CacheFileName =
  | { kind: 'entry-data'; key: string }
  | { kind: 'entry-meta'; key: string }
  | { kind: 'fill'; key: string; pid: number }
  | { kind: 'meta-temp'; key: string }
  | { kind: 'pins-dir' }
  | { kind: 'pin-marker'; key: string; pid: number }
  | { kind: 'lock' }
  | { kind: 'lock-aside' }
  | { kind: 'quarantine-dir' }
  | { kind: 'quarantined-entry'; key: string }
  | { kind: 'other' };

const KEY = '[0-9a-f]{64}';
const ENTRY_DATA = new RegExp(`^(${KEY})\\.mender$`);
const ENTRY_META = new RegExp(`^(${KEY})\\.json$`);
const FILL = new RegExp(`^(${KEY})\\.(\\d+)\\.[0-9a-f]+\\.partial$`);
const META_TEMP = new RegExp(`^(${KEY})\\.json\\.[0-9a-f]+\\.tmp$`);
const PIN_MARKER = new RegExp(`^${IN_USE_DIR.replace('.', '\\.')}/(${KEY})\\.(\\d+)$`);
const LOCK_ASIDE = new RegExp(`^${LOCK_FILE.replace('.', '\\.')}\\.[0-9a-f]+\\.stale$`);
const QUARANTINED = new RegExp(`^${QUARANTINE_DIR}/(${KEY})\\.[0-9TZ.]+(?:-\\d+)?$`);

/**
 * Classify `name`, relative to the cache directory with `/` between folders: a top-level
 * name from `readdir(cacheDir)`, `.in-use/<name>` for a marker, `quarantine/<name>` for a
 * quarantined entry's folder.
 */
export function classify(name: string): CacheFileName {
  let match = ENTRY_DATA.exec(name);
  if (match?.[1] !== undefined) return { kind: 'entry-data', key: match[1] };
  match = ENTRY_META.exec(name);
  if (match?.[1] !== undefined) return { kind: 'entry-meta', key: match[1] };
  match = FILL.exec(name);
  if (match?.[1] !== undefined) return { kind: 'fill', key: match[1], pid: Number(match[2]) };
  match = META_TEMP.exec(name);
  if (match?.[1] !== undefined) return { kind: 'meta-temp', key: match[1] };
  match = PIN_MARKER.exec(name);
  if (match?.[1] !== undefined) return { kind: 'pin-marker', key: match[1], pid: Number(match[2]) };
  match = QUARANTINED.exec(name);
  if (match?.[1] !== undefined) return { kind: 'quarantined-entry', key: match[1] };
  if (name === IN_USE_DIR) return { kind: 'pins-dir' };
  if (name === LOCK_FILE) return { kind: 'lock' };
  if (LOCK_ASIDE.test(name)) return { kind: 'lock-aside' };
  if (name === QUARANTINE_DIR) return { kind: 'quarantine-dir' };
  return { kind: 'other' };
}

/** {@link classify} for a name listed inside {@link IN_USE_DIR}. */
export function classifyPinMarker(file: string): CacheFileName {
  return classify(`${IN_USE_DIR}/${file}`);
}
