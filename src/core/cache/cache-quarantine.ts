import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { GatewayError } from '../errors.js';
import { errnoCode } from '../file-errors.js';
import { classify, QUARANTINE_DIR, QUARANTINE_REPORT } from './cache-layout.js';

/**
 * The entries `cache verify` moved into `quarantine/<key>.<timestamp>/` (docs/cache.md,
 * "mender-gw cache verify"): listed by `cache ls`, because they still take space on the cache
 * volume, and removed by `cache prune --quarantine`. Only folders whose names the cache layout
 * recognises are touched; anything else an operator puts in `quarantine/` is left alone.
 */

export interface QuarantinedEntry {
  key: string;
  /** Relative to the cache directory: `quarantine/<key>.<timestamp>`. */
  folder: string;
  /** From the folder's `verify.json`; undefined when it is missing or unreadable. */
  artifactName: string | undefined;
  /** What verify found: `hash-mismatch`, `size-mismatch`, … */
  status: string | undefined;
  reason: string | undefined;
  quarantinedAt: string | undefined;
  /** Bytes of every file in the folder. */
  bytes: number;
}

/** The quarantined entries, oldest first; none when `quarantine/` does not exist. */
export async function listQuarantine(dir: string): Promise<QuarantinedEntry[]> {
  const base = join(dir, QUARANTINE_DIR);
  let names: string[];
  try {
    names = await readdir(base);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR') return [];
    throw quarantineReadError(base, err);
  }
  const entries: QuarantinedEntry[] = [];
  for (const name of names.sort()) {
    const folder = `${QUARANTINE_DIR}/${name}`;
    const file = classify(folder);
    if (file.kind !== 'quarantined-entry') continue;
    const path = join(dir, folder);
    let files: string[];
    try {
      if (!(await stat(path)).isDirectory()) continue;
      files = await readdir(path);
    } catch {
      continue; // removed meanwhile, or not ours to read
    }
    let bytes = 0;
    for (const inner of files)
      bytes += await stat(join(path, inner)).then(
        (s) => s.size,
        () => 0,
      );
    const report = await readReport(join(path, QUARANTINE_REPORT));
    entries.push({
      key: file.key,
      folder,
      artifactName: report.artifactName,
      status: report.status,
      reason: report.reason,
      quarantinedAt: report.verifiedAt,
      bytes,
    });
  }
  return entries;
}

/** Delete the quarantined entries' folders (not `quarantine/` itself); returns those removed. */
export async function removeQuarantined(
  dir: string,
  entries: readonly QuarantinedEntry[],
): Promise<QuarantinedEntry[]> {
  const removed: QuarantinedEntry[] = [];
  for (const entry of entries) {
    const path = join(dir, entry.folder);
    const existed = await stat(path).then(
      () => true,
      () => false,
    );
    if (!existed) continue;
    try {
      await rm(path, { recursive: true });
    } catch (err) {
      const code = errnoCode(err) ?? 'error';
      throw new GatewayError('MGW_CACHE_IO', `cannot remove ${path}: ${code}`, {
        cause: err,
        hint:
          code === 'EACCES' || code === 'EPERM'
            ? 'run the command as the user `serve` runs as (or root)'
            : 'check the cache volume; quarantined entries already removed stay removed',
      });
    }
    removed.push(entry);
  }
  return removed;
}

async function readReport(
  path: string,
): Promise<{ artifactName?: string; status?: string; reason?: string; verifiedAt?: string }> {
  try {
    const parsed = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
    const text = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);
    const report: { artifactName?: string; status?: string; reason?: string; verifiedAt?: string } = {};
    const artifactName = text(parsed.artifactName);
    const status = text(parsed.status);
    const reason = text(parsed.reason);
    const verifiedAt = text(parsed.verifiedAt);
    if (artifactName !== undefined) report.artifactName = artifactName;
    if (status !== undefined) report.status = status;
    if (reason !== undefined) report.reason = reason;
    if (verifiedAt !== undefined) report.verifiedAt = verifiedAt;
    return report;
  } catch {
    return {}; // the report is best effort (cache-verify.ts): a full volume may have refused it
  }
}

function quarantineReadError(path: string, err: unknown): GatewayError {
  const code = errnoCode(err) ?? 'error';
  return new GatewayError('MGW_CACHE_IO', `cannot read ${path}: ${code}`, {
    cause: err,
    hint:
      code === 'EACCES' || code === 'EPERM'
        ? 'run the command as the user `serve` runs as (or root)'
        : 'check the cache volume',
  });
}
