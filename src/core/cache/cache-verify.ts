import { createHash } from 'node:crypto';
import { mkdir, open, rename, rmdir, stat, writeFile } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { join } from 'node:path';
import { GatewayError, isGatewayError } from '../errors.js';
import { errnoCode } from '../file-errors.js';
import { cacheIoError } from './cache-io-error.js';
import {
  entryDataName,
  entryMetaName,
  QUARANTINE_DIR,
  QUARANTINE_REPORT,
  quarantineFolderName,
} from './cache-layout.js';
import { entryKeysIn, listCacheDir, liveFillKeys, readEntryFiles } from './cache-reader.js';
import type { EntryFiles } from './cache-reader.js';

/**
 * `mender-gw cache verify`: a cache file truncated or altered on disk while `serve` is stopped
 * must be detected (docs/cache.md, "mender-gw cache verify"). `serve` records each entry's size and SHA-256 at fill
 * time and checks the size on every open; this re-hashes every complete entry, compares size
 * and hash with the metadata, and moves bad entries aside into
 * `<cacheDir>/quarantine/<key>.<timestamp>/`.
 *
 * Entries are read exactly as `cache ls` reads them (`readEntryFiles` in `cache-reader.ts`).
 * Safe while `serve` runs on the same directory:
 * - quarantine is a `rename` inside the cache folder, so atomic on its volume; a device already
 *   reading the file keeps its open descriptor, and `serve` then finds the path gone, treats the
 *   entry as a miss and downloads it again from storage (the link carries the storage URL);
 * - nothing is ever deleted, so the operator can look at what went wrong;
 * - the metadata is moved first, then the bytes, the order of `DiskArtifactStore.remove()`;
 * - keys with a download in progress by a live process (a `.partial`) are never touched, and
 *   an entry `serve` replaced while it was being hashed is checked again before anything moves;
 * - `quarantine/` is a directory, which `DiskArtifactStore.open()` never looks into: it only
 *   knows `<key>.*` files at the top of the cache folder; `cache ls` lists it and
 *   `cache prune --quarantine` empties it (`cache-quarantine.ts`).
 */

export { QUARANTINE_DIR, QUARANTINE_REPORT } from './cache-layout.js';

/**
 * Large reads keep the syscall count low on multi-GiB artifacts; one buffer is reused for
 * every entry, so memory does not grow with artifact or cache size.
 */
const HASH_CHUNK = 1024 * 1024;

/** How often an entry that keeps changing under the check is looked at before giving up. */
const MAX_ATTEMPTS = 3;

export type VerifyStatus =
  | 'ok'
  /** The bytes on disk are not the recorded size (truncated, appended to). */
  | 'size-mismatch'
  /** The recorded size, another SHA-256: bytes altered in place (bit rot, a stray write). */
  | 'hash-mismatch'
  /** Metadata without its `<key>.mender`. */
  | 'missing-bytes'
  /** `<key>.json` cannot be read, is not JSON, belongs to another key, lacks size or SHA-256. */
  | 'unreadable-metadata'
  /** Reading the bytes failed (`EIO`: a failing volume). */
  | 'unreadable-bytes';

export interface VerifiedEntry {
  key: string;
  status: VerifyStatus;
  /** Why the entry is bad, for people; undefined when ok. */
  reason: string | undefined;
  /** As recorded at download (the header is not read: a damaged file's header proves nothing). */
  artifactName: string | undefined;
  /** Size and SHA-256 recorded at fill time; undefined when the metadata is unreadable. */
  recordedSize: number | undefined;
  recordedSha256: string | undefined;
  /** Bytes on disk; undefined when they are missing. */
  actualSize: number | undefined;
  /** SHA-256 of the bytes on disk, when they were hashed to the end. */
  actualSha256: string | undefined;
  /** `quarantined`: moved to `quarantinedTo`; `left`: bad, but quarantine was off or it kept changing. */
  action: 'none' | 'quarantined' | 'left';
  /** Relative to the cache directory: `quarantine/<key>.<timestamp>`. */
  quarantinedTo: string | undefined;
  /** The entry's files moved there. */
  files: string[];
}

/** Which entries to check; every entry when both are undefined. */
export interface VerifySelection {
  /** Lower-case hex start of the key, as the Key column of `cache ls` shows it. */
  keyPrefix: string | undefined;
  /** The artifact name recorded at download, exactly. */
  artifactName: string | undefined;
}

/** The selectors as typed on the command line. */
export interface VerifySelectionInput {
  key?: string | undefined;
  artifact?: string | undefined;
}

export interface VerifyOptions {
  /** Move bad entries to `quarantine/` (default true); false only reports. */
  quarantine?: boolean | undefined;
  selection?: VerifySelection | undefined;
  /** Clock, for tests: result time and quarantine folder names. */
  now?: Date | undefined;
  /**
   * Called as the work advances: after each entry, and while a large one is hashed. The
   * command draws it; the core never prints.
   */
  onProgress?: ((progress: VerifyProgress) => void) | undefined;
}

/** How far a verify is. `total`/`totalBytes` are counted before hashing starts. */
export interface VerifyProgress {
  /** Entries looked at (checked, or found gone or not selected). */
  done: number;
  total: number;
  /** Bytes hashed so far. */
  bytes: number;
  /** Bytes of the entries to look at, as listed at the start. */
  totalBytes: number;
}

export interface VerifyResult {
  dir: string;
  verifiedAt: string;
  /** Whether bad entries were moved (false with `--no-quarantine` or `--dry-run`). */
  quarantine: boolean;
  selection: VerifySelection;
  /** Bad entries first, then by artifact name and key. */
  entries: VerifiedEntry[];
  totals: {
    checked: number;
    ok: number;
    bad: number;
    quarantined: number;
    /** Bytes read and hashed. */
    bytesHashed: number;
  };
  /** Downloads in progress (`.partial` of a live process): left alone, not checked. */
  fillsInProgress: number;
  /** Absolute path of the quarantine folder. */
  quarantineDir: string;
}

/**
 * Turn the command line's strings into a {@link VerifySelection}. Throws
 * `MGW_CACHE_INVALID_INPUT` (exit 2) for a key prefix that is not hex or an empty name.
 */
export function parseVerifySelection(input: VerifySelectionInput): VerifySelection {
  let keyPrefix: string | undefined;
  if (input.key !== undefined) {
    keyPrefix = input.key.trim().toLowerCase();
    if (!/^[0-9a-f]{1,64}$/.test(keyPrefix)) {
      throw new GatewayError(
        'MGW_CACHE_INVALID_INPUT',
        `--key: "${input.key}" is not the start of a cache key (1 to 64 hexadecimal characters)`,
        { hint: 'copy the Key column of `mender-gw cache ls`, e.g. --key 33dee533fbd6' },
      );
    }
  }
  if (input.artifact?.trim() === '') {
    throw new GatewayError('MGW_CACHE_INVALID_INPUT', '--artifact: the artifact name is empty', {
      hint: 'give the name `mender-gw cache ls --json` shows, e.g. --artifact release-2.4',
    });
  }
  return { keyPrefix, artifactName: input.artifact };
}

/**
 * Check the complete entries of the cache in `dir` (all, or the selected ones) against their
 * recorded size and SHA-256 and, unless `quarantine` is false, move the bad ones to
 * `quarantine/`. A bad entry is a result, not an error. Throws `MGW_CACHE_NOT_FOUND`, and
 * `MGW_CACHE_IO` when the directory cannot be read, the files cannot be read for lack of
 * permission, or a move fails (entries moved before stay in `quarantine/`).
 */
export async function verifyCache(dir: string, options: VerifyOptions = {}): Promise<VerifyResult> {
  const now = options.now ?? new Date();
  const quarantine = options.quarantine ?? true;
  const selection = options.selection ?? { keyPrefix: undefined, artifactName: undefined };
  const names = await listCacheDir(dir);
  const filling = await liveFillKeys(dir);
  const keys = entryKeysIn(names).filter(
    // A key being filled may be published by serve right now.
    (key) => !filling.has(key) && (selection.keyPrefix === undefined || key.startsWith(selection.keyPrefix)),
  );
  const progress: VerifyProgress = { done: 0, total: keys.length, bytes: 0, totalBytes: 0 };
  if (options.onProgress !== undefined) {
    for (const key of keys) {
      progress.totalBytes += await stat(join(dir, entryDataName(key))).then(
        (s) => s.size,
        () => 0,
      );
    }
  }
  const report = (): void => options.onProgress?.({ ...progress });
  const verifier = new Verifier(dir, now, quarantine, selection, (bytes) => {
    progress.bytes += bytes;
    report();
  });
  const entries: VerifiedEntry[] = [];
  report();
  for (const key of keys) {
    const entry = await verifier.verify(key);
    if (entry !== undefined) entries.push(entry);
    progress.done++;
    report();
  }
  entries.sort(
    (a, b) =>
      Number(a.status === 'ok') - Number(b.status === 'ok') ||
      (a.artifactName ?? '').localeCompare(b.artifactName ?? '') ||
      a.key.localeCompare(b.key),
  );
  const ok = entries.filter((e) => e.status === 'ok').length;
  return {
    dir,
    verifiedAt: now.toISOString(),
    quarantine,
    selection,
    entries,
    totals: {
      checked: entries.length,
      ok,
      bad: entries.length - ok,
      quarantined: entries.filter((e) => e.action === 'quarantined').length,
      bytesHashed: verifier.bytesHashed,
    },
    fillsInProgress: filling.size,
    quarantineDir: join(dir, QUARANTINE_DIR),
  };
}

/** One entry's files as seen at one moment, or why its metadata could not even be read. */
type Observation =
  | { kind: 'files'; files: EntryFiles; metaStats: Stats | undefined }
  | { kind: 'metadata-io'; code: string; metaStats: Stats | undefined };

type Hashed =
  | { kind: 'hashed'; bytes: number; sha256: string; stats: Stats }
  | { kind: 'gone' }
  | { kind: 'failed'; code: string; position: number };

class Verifier {
  bytesHashed = 0;
  readonly #buffer = Buffer.allocUnsafe(HASH_CHUNK);

  constructor(
    private readonly dir: string,
    private readonly now: Date,
    private readonly quarantine: boolean,
    private readonly selection: VerifySelection,
    /** Bytes just hashed, for progress. */
    private readonly onHashed: (bytes: number) => void = () => undefined,
  ) {}

  /** Check one entry and quarantine it when bad; undefined when it is gone or not selected. */
  async verify(key: string): Promise<VerifiedEntry | undefined> {
    let last: VerifiedEntry | undefined;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const seen = await this.#observe(key);
      if (seen === undefined) return undefined; // removed meanwhile (serve's eviction, a prune)
      if (!this.#selected(seen)) return undefined;
      const checked = await this.#check(key, seen);
      if (checked === undefined) continue; // the bytes vanished under the hash: look again
      const { entry, fingerprint } = checked;
      if (entry.status === 'ok' || !this.quarantine) return entry;
      last = entry;
      // Only what was checked may be moved: serve may have evicted the entry and filled it
      // again, or published a fill of a size-mismatched entry it refused to serve.
      if ((await liveFillKeys(this.dir)).has(key)) return undefined;
      const current = await this.#observe(key);
      if (current === undefined) return undefined;
      if (fingerprintOf(current) !== fingerprint) continue;
      const moved = await this.#moveToQuarantine(key, entry);
      if (moved === undefined) return undefined; // removed between the check and the move
      return { ...entry, action: 'quarantined', quarantinedTo: moved.folder, files: moved.files };
    }
    if (last === undefined) return undefined;
    return { ...last, reason: `${last.reason ?? ''} (it kept changing while being checked: left in place)` };
  }

  #selected(seen: Observation): boolean {
    const wanted = this.selection.artifactName;
    if (wanted === undefined) return true;
    const files = seen.kind === 'files' ? seen.files : undefined;
    return files !== undefined && files.state !== 'unreadable-metadata' && files.meta.artifactName === wanted;
  }

  async #observe(key: string): Promise<Observation | undefined> {
    const metaStats = await stat(join(this.dir, entryMetaName(key))).catch(() => undefined);
    try {
      const files = await readEntryFiles(this.dir, key);
      return files === undefined ? undefined : { kind: 'files', files, metaStats };
    } catch (err) {
      // EIO on a metadata file is a damaged entry; a permission problem is the operator's.
      if (isPermissionProblem(err)) throw err;
      return { kind: 'metadata-io', code: causeCode(err), metaStats };
    }
  }

  /** The verdict on what `seen` found, hashing the bytes when size and metadata are fine. */
  async #check(
    key: string,
    seen: Observation,
  ): Promise<{ entry: VerifiedEntry; fingerprint: string } | undefined> {
    const fingerprint = fingerprintOf(seen);
    if (seen.kind === 'metadata-io') {
      const entry = bad(key, 'unreadable-metadata', `the metadata cannot be read: ${seen.code}`);
      return { entry, fingerprint };
    }
    const { files } = seen;
    switch (files.state) {
      case 'unreadable-metadata':
        return {
          entry: { ...bad(key, files.state, files.reason), actualSize: files.data?.size },
          fingerprint,
        };
      case 'missing-bytes':
        return { entry: recorded(files, files.state, 'the artifact bytes are missing'), fingerprint };
      case 'size-mismatch': {
        const reason = `${files.data.size} bytes on disk, ${files.meta.size} recorded`;
        return { entry: recorded(files, files.state, reason), fingerprint };
      }
      case 'complete':
        break;
    }
    // serve always records the SHA-256 (disk-artifact-store.ts): metadata without a valid one
    // was damaged, and nothing can vouch for the bytes.
    if (!/^[0-9a-f]{64}$/.test(files.meta.sha256)) {
      const entry = recorded(files, 'unreadable-metadata', 'the metadata has no valid SHA-256');
      return { entry: { ...entry, recordedSha256: undefined }, fingerprint };
    }
    const hashed = await this.#hash(join(this.dir, entryDataName(key)));
    if (hashed.kind === 'gone') return undefined;
    if (hashed.kind === 'failed') {
      this.bytesHashed += hashed.position;
      const reason = `reading the bytes failed at offset ${hashed.position}: ${hashed.code}`;
      return { entry: recorded(files, 'unreadable-bytes', reason), fingerprint };
    }
    this.bytesHashed += hashed.bytes;
    let status: VerifyStatus = 'ok';
    let reason: string | undefined;
    if (hashed.bytes !== files.meta.size) {
      status = 'size-mismatch'; // the file changed size after the stat
      reason = `${hashed.bytes} bytes on disk, ${files.meta.size} recorded`;
    } else if (hashed.sha256 !== files.meta.sha256) {
      status = 'hash-mismatch';
      reason = `SHA-256 ${hashed.sha256.slice(0, 12)}… on disk, ${files.meta.sha256.slice(0, 12)}… recorded`;
    }
    const entry = {
      ...recorded(files, status, reason),
      actualSize: hashed.bytes,
      actualSha256: hashed.sha256,
    };
    // The file actually hashed: if serve replaced it since the stat, the move is decided on it.
    return { entry, fingerprint: fingerprintOf({ ...seen, files: { ...files, data: hashed.stats } }) };
  }

  async #hash(path: string): Promise<Hashed> {
    let fh: FileHandle;
    try {
      fh = await open(path, 'r');
    } catch (err) {
      if (causeCode(err) === 'ENOENT') return { kind: 'gone' };
      if (isPermissionProblem(err)) throw cacheIoError(err, path, { by: 'command' });
      return { kind: 'failed', code: causeCode(err), position: 0 };
    }
    const hash = createHash('sha256');
    let position = 0;
    try {
      const stats = await fh.stat();
      for (;;) {
        const { bytesRead } = await fh.read(this.#buffer, 0, this.#buffer.length, position);
        if (bytesRead === 0) break;
        // update() consumes the bytes synchronously: the buffer can be reused at once.
        hash.update(this.#buffer.subarray(0, bytesRead));
        position += bytesRead;
        this.onHashed(bytesRead);
      }
      return { kind: 'hashed', bytes: position, sha256: hash.digest('hex'), stats };
    } catch (err) {
      if (isPermissionProblem(err)) throw cacheIoError(err, path, { by: 'command' });
      return { kind: 'failed', code: causeCode(err), position };
    } finally {
      await fh.close().catch(() => undefined);
    }
  }

  /**
   * Move `<key>.json`, then `<key>.mender`, into a new `quarantine/<key>.<timestamp>/` (0750),
   * with a report of what was found. Undefined when both files were gone already.
   */
  async #moveToQuarantine(
    key: string,
    entry: VerifiedEntry,
  ): Promise<{ folder: string; files: string[] } | undefined> {
    const base = join(this.dir, QUARANTINE_DIR);
    await mkdir(base, { mode: 0o750 }).catch((err: unknown) => {
      if (causeCode(err) !== 'EEXIST') throw quarantineError(base, err);
    });
    let quarantinedTo = quarantineFolderName(key, this.now);
    for (let n = 2; ; n++) {
      try {
        await mkdir(join(this.dir, quarantinedTo), { mode: 0o750 });
        break;
      } catch (err) {
        if (causeCode(err) !== 'EEXIST') throw quarantineError(join(this.dir, quarantinedTo), err);
        quarantinedTo = quarantineFolderName(key, this.now, n); // a second verify in the same millisecond
      }
    }
    const target = join(this.dir, quarantinedTo);
    const files: string[] = [];
    for (const name of [entryMetaName(key), entryDataName(key)]) {
      try {
        await rename(join(this.dir, name), join(target, name));
        files.push(name);
      } catch (err) {
        if (causeCode(err) !== 'ENOENT') throw quarantineError(join(this.dir, name), err);
      }
    }
    if (files.length === 0) {
      await rmdir(target).catch(() => undefined); // our own empty folder, nothing of the entry
      return undefined;
    }
    const report = {
      verifiedAt: this.now.toISOString(),
      ...entry,
      action: 'quarantined',
      quarantinedTo,
      files,
    };
    // Best effort: the move is what matters, and a full cache volume may refuse a new file.
    await writeFile(join(target, QUARANTINE_REPORT), `${JSON.stringify(report, null, 2)}\n`, {
      mode: 0o640,
    }).catch(() => undefined);
    return { folder: quarantinedTo, files };
  }
}

/**
 * What an entry's check depends on, to notice a replacement between the check and the move.
 * Parsed metadata counts by content (serve rewrites `<key>.json` to record downloads, which
 * changes nothing that matters); bytes and unreadable metadata by identity and size.
 */
function fingerprintOf(seen: Observation): string {
  const id = (s: Stats | undefined): string => (s === undefined ? '-' : `${s.dev}:${s.ino}:${s.size}`);
  if (seen.kind === 'metadata-io') return `io ${id(seen.metaStats)}`;
  const { files } = seen;
  const meta =
    files.state === 'unreadable-metadata'
      ? `json ${id(seen.metaStats)}:${seen.metaStats?.mtimeMs ?? '-'}`
      : `${files.meta.size}/${files.meta.sha256}/${files.meta.createdAt}`;
  return `${meta} ${id(files.data)}`;
}

function bad(key: string, status: VerifyStatus, reason: string): VerifiedEntry {
  return {
    key,
    status,
    reason,
    artifactName: undefined,
    recordedSize: undefined,
    recordedSha256: undefined,
    actualSize: undefined,
    actualSha256: undefined,
    action: 'left',
    quarantinedTo: undefined,
    files: [],
  };
}

function recorded(
  files: Exclude<EntryFiles, { state: 'unreadable-metadata' }>,
  status: VerifyStatus,
  reason: string | undefined,
): VerifiedEntry {
  return {
    key: files.key,
    status,
    reason,
    artifactName: files.meta.artifactName,
    recordedSize: files.meta.size,
    recordedSha256: files.meta.sha256,
    actualSize: files.data?.size,
    actualSha256: undefined,
    action: status === 'ok' ? 'none' : 'left',
    quarantinedTo: undefined,
    files: [],
  };
}

/** The errno code of `err`, or of the file-system error a `GatewayError` wraps. */
function causeCode(err: unknown): string {
  return errnoCode(isGatewayError(err) ? err.cause : err) ?? 'error';
}

function isPermissionProblem(err: unknown): boolean {
  const code = causeCode(err);
  return code === 'EACCES' || code === 'EPERM';
}

function quarantineError(path: string, err: unknown): GatewayError {
  const code = causeCode(err);
  const hint =
    code === 'EACCES' || code === 'EPERM'
      ? 'run the command as the user `serve` runs as (or root)'
      : code === 'EROFS'
        ? 'the cache volume is read-only: run with --no-quarantine to only report'
        : 'check the cache volume';
  return new GatewayError('MGW_CACHE_IO', `cannot move ${path} to ${QUARANTINE_DIR}/: ${code}`, {
    cause: err,
    hint: `${hint}; entries moved before stay in ${QUARANTINE_DIR}/`,
  });
}
