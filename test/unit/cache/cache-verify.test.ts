import { randomBytes } from 'node:crypto';
import {
  chmod,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rm,
  stat,
  truncate,
  unlink,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ArtifactEntry } from '../../../src/core/cache/artifact-store.js';
import { inspectCache } from '../../../src/core/cache/cache-inspect.js';
import { pruneCache } from '../../../src/core/cache/cache-prune.js';
import {
  parseVerifySelection,
  QUARANTINE_DIR,
  QUARANTINE_REPORT,
  verifyCache,
} from '../../../src/core/cache/cache-verify.js';
import type { VerifiedEntry } from '../../../src/core/cache/cache-verify.js';
import { DiskArtifactStore } from '../../../src/core/cache/disk-artifact-store.js';
import { keyOf, putEntry, readRange } from './artifact-store-conformance.js';
import { skipBecause } from '../../support/skip-reason.js';
import { exitCodeOf } from '../../../src/cli/exit-codes.js';

/**
 * `cache verify` on a real disk store: entries written with
 * `DiskArtifactStore.beginWrite()/commit()`, then damaged the ways a disk or an operator
 * damages them while `serve` is stopped.
 */

const DEAD_PID = 2 ** 22 + 1; // above PID_MAX_LIMIT: never a live process
const NOW = new Date('2026-11-22T01:19:00.123Z');
const STAMP = '20261122T011900.123Z';

/** The process umask, read without changing it (process.umask() writes it twice). */
async function currentUmask(): Promise<number> {
  const status = await readFile('/proc/self/status', 'utf8');
  const match = /^Umask:\s*([0-7]+)$/m.exec(status);
  if (match?.[1] === undefined) throw new Error('no Umask in /proc/self/status');
  return parseInt(match[1], 8);
}

let root: string;
let dir: string;
const stores: DiskArtifactStore[] = [];
const data: Record<string, Buffer> = {};

/** A cache of entries a, b, c, d (sizes 300 KiB to 3 MiB: several hash reads), store closed. */
async function populate(names = ['a', 'b', 'c', 'd']): Promise<void> {
  const store = new DiskArtifactStore(dir);
  await store.open();
  for (const [i, name] of names.entries()) {
    data[name] = randomBytes(300 * 1024 + i * 900 * 1024);
    await putEntry(store, name, data[name], 256 * 1024);
  }
  await store.close();
}

async function openStore(): Promise<DiskArtifactStore> {
  const store = new DiskArtifactStore(dir);
  stores.push(store);
  await store.open();
  return store;
}

/** The cache folder's own files: without the lock of an open store, which cache-lock.ts owns. */
async function files(): Promise<string[]> {
  return (await readdir(dir)).filter((name) => name !== '.serve.lock').sort();
}

const pathOf = (name: string, ext: 'json' | 'mender'): string => join(dir, `${keyOf(name)}.${ext}`);

async function flipByte(path: string, offset: number): Promise<void> {
  const bytes = await readFile(path);
  bytes[offset] = bytes[offset]! ^ 0xff;
  await writeFile(path, bytes);
}

function byName(entries: VerifiedEntry[]): Map<string, VerifiedEntry> {
  return new Map(entries.map((e) => [e.artifactName ?? e.key, e]));
}

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'mender-gw-verify-'));
  dir = join(root, 'cache');
});

afterEach(async () => {
  for (const store of stores.splice(0)) await store.close();
  await rm(root, { recursive: true, force: true });
});

describe('verifyCache', () => {
  it('an intact cache: every entry ok, every byte hashed, nothing moved', async () => {
    await populate();
    const before = await files();
    const result = await verifyCache(dir, { now: NOW });
    expect(result.entries.map((e) => [e.artifactName, e.status, e.action])).toEqual([
      ['release-a', 'ok', 'none'],
      ['release-b', 'ok', 'none'],
      ['release-c', 'ok', 'none'],
      ['release-d', 'ok', 'none'],
    ]);
    const total = Object.values(data).reduce((sum, d) => sum + d.length, 0);
    expect(result.totals).toEqual({ checked: 4, ok: 4, bad: 0, quarantined: 0, bytesHashed: total });
    const a = result.entries[0]!;
    const meta = JSON.parse(await readFile(pathOf('a', 'json'), 'utf8')) as ArtifactEntry;
    expect(a).toMatchObject({
      key: keyOf('a'),
      recordedSize: data.a!.length,
      actualSize: data.a!.length,
      recordedSha256: meta.sha256,
      actualSha256: meta.sha256,
      reason: undefined,
    });
    expect(result.verifiedAt).toBe(NOW.toISOString());
    expect(result.quarantineDir).toBe(join(dir, QUARANTINE_DIR));
    expect(await files()).toEqual(before);
  });

  it('finds a truncated file, a flipped byte (same size), deleted bytes and corrupt metadata', async () => {
    await populate();
    await truncate(pathOf('a', 'mender'), 1000);
    await flipByte(pathOf('b', 'mender'), data.b!.length - 7); // near the end: every read counts
    await unlink(pathOf('c', 'mender'));
    await writeFile(pathOf('d', 'json'), '{"key": "');

    const result = await verifyCache(dir, { quarantine: false, now: NOW });
    const found = byName(result.entries);
    expect(found.get('release-a')).toMatchObject({
      status: 'size-mismatch',
      reason: `1000 bytes on disk, ${data.a!.length} recorded`,
      recordedSize: data.a!.length,
      actualSize: 1000,
      action: 'left',
    });
    expect(found.get('release-b')).toMatchObject({
      status: 'hash-mismatch',
      actualSize: data.b!.length,
      action: 'left',
    });
    expect(found.get('release-b')?.reason).toMatch(/^SHA-256 [0-9a-f]{12}… on disk, [0-9a-f]{12}… recorded$/);
    expect(found.get('release-b')?.actualSha256).not.toBe(found.get('release-b')?.recordedSha256);
    expect(found.get('release-c')).toMatchObject({
      status: 'missing-bytes',
      reason: 'the artifact bytes are missing',
      actualSize: undefined,
    });
    expect(found.get(keyOf('d'))).toMatchObject({
      status: 'unreadable-metadata',
      reason: 'metadata is not valid JSON',
      artifactName: undefined,
      actualSize: data.d!.length,
    });
    expect(result.totals).toMatchObject({ checked: 4, ok: 0, bad: 4, quarantined: 0 });
    // Only b was hashed: the others are judged from the metadata and the size alone.
    expect(result.totals.bytesHashed).toBe(data.b!.length);
  });

  it.each([
    [
      'for another key',
      (_meta: ArtifactEntry) => JSON.stringify({ key: keyOf('other'), size: 1 }),
      'metadata belongs to another key',
    ],
    ['JSON null', () => 'null', 'metadata is not a JSON object'],
    [
      'without a size',
      ({ size: _size, ...meta }: ArtifactEntry) => JSON.stringify(meta),
      'metadata has no valid size',
    ],
    [
      'without a SHA-256',
      ({ sha256: _sha256, ...meta }: ArtifactEntry) => JSON.stringify(meta),
      'the metadata has no valid SHA-256',
    ],
  ])(
    'metadata %s is unreadable-metadata',
    async (_name, content: (meta: ArtifactEntry) => string, reason) => {
      await populate(['a']);
      const meta = JSON.parse(await readFile(pathOf('a', 'json'), 'utf8')) as ArtifactEntry;
      await writeFile(pathOf('a', 'json'), content(meta));
      const result = await verifyCache(dir, { quarantine: false });
      expect(result.entries).toEqual([expect.objectContaining({ status: 'unreadable-metadata', reason })]);
    },
  );

  it('quarantines bad entries with rename into quarantine/<key>.<timestamp>/ (0750), deleting nothing', async () => {
    await populate();
    const flipped = await readFile(pathOf('b', 'mender')).then((b) => {
      b[0] = b[0]! ^ 1;
      return b;
    });
    await writeFile(pathOf('b', 'mender'), flipped);
    const metaB = await readFile(pathOf('b', 'json'), 'utf8');
    const inodeB = (await stat(pathOf('b', 'mender'))).ino;
    await unlink(pathOf('c', 'mender'));

    const result = await verifyCache(dir, { now: NOW });
    const b = byName(result.entries).get('release-b')!;
    const folderB = `${QUARANTINE_DIR}/${keyOf('b')}.${STAMP}`;
    expect(b).toMatchObject({
      status: 'hash-mismatch',
      action: 'quarantined',
      quarantinedTo: folderB,
      files: [`${keyOf('b')}.json`, `${keyOf('b')}.mender`],
    });
    expect(byName(result.entries).get('release-c')).toMatchObject({
      status: 'missing-bytes',
      action: 'quarantined',
      files: [`${keyOf('c')}.json`],
    });
    expect(result.totals).toMatchObject({ checked: 4, ok: 2, bad: 2, quarantined: 2 });
    // Bad entries first.
    expect(result.entries.map((e) => e.status)).toEqual(['hash-mismatch', 'missing-bytes', 'ok', 'ok']);

    // Moved, not copied: the same inode, byte for byte, metadata untouched.
    const moved = join(dir, folderB);
    expect((await readdir(moved)).sort()).toEqual(
      [`${keyOf('b')}.json`, `${keyOf('b')}.mender`, QUARANTINE_REPORT].sort(),
    );
    expect((await stat(join(moved, `${keyOf('b')}.mender`))).ino).toBe(inodeB);
    expect(await readFile(join(moved, `${keyOf('b')}.mender`))).toEqual(flipped);
    expect(await readFile(join(moved, `${keyOf('b')}.json`), 'utf8')).toBe(metaB);
    expect(JSON.parse(await readFile(join(moved, QUARANTINE_REPORT), 'utf8'))).toMatchObject({
      verifiedAt: NOW.toISOString(),
      key: keyOf('b'),
      status: 'hash-mismatch',
      action: 'quarantined',
      quarantinedTo: folderB,
      files: [`${keyOf('b')}.json`, `${keyOf('b')}.mender`],
    });
    const umask = await currentUmask();
    expect((await stat(join(dir, QUARANTINE_DIR))).mode & 0o777).toBe(0o750 & ~umask);
    expect((await stat(moved)).mode & 0o777).toBe(0o750 & ~umask);

    expect(await files()).toEqual(
      [
        `${keyOf('a')}.json`,
        `${keyOf('a')}.mender`,
        `${keyOf('d')}.json`,
        `${keyOf('d')}.mender`,
        QUARANTINE_DIR,
      ].sort(),
    );
    // Verified again: the cache is clean now.
    const again = await verifyCache(dir, { now: NOW });
    expect(again.totals).toMatchObject({ checked: 2, ok: 2, bad: 0 });
  });

  it('a later DiskArtifactStore.open() does not see quarantined entries and removes nothing of them', async () => {
    await populate();
    await truncate(pathOf('a', 'mender'), 10);
    await flipByte(pathOf('b', 'mender'), 5);
    await verifyCache(dir, { now: NOW });
    const quarantined = await readdir(join(dir, QUARANTINE_DIR));
    const before = await Promise.all(quarantined.map((f) => readdir(join(dir, QUARANTINE_DIR, f))));

    const store = await openStore();
    expect(
      store
        .list()
        .map((e) => e.artifactName)
        .sort(),
    ).toEqual(['release-c', 'release-d']);
    expect(store.get(keyOf('a'))).toBeUndefined();
    expect(await store.openReader(keyOf('b'))).toBeUndefined();
    expect(await readdir(join(dir, QUARANTINE_DIR))).toEqual(quarantined);
    expect(await Promise.all(quarantined.map((f) => readdir(join(dir, QUARANTINE_DIR, f))))).toEqual(before);
  });

  it('cache ls and cache prune ignore quarantine/: no entries, no debris, nothing removed there', async () => {
    await populate(['a', 'b']);
    await flipByte(pathOf('a', 'mender'), 5);
    await verifyCache(dir, { now: NOW });
    const inspection = await inspectCache(dir, { readHeaders: false });
    expect(inspection.entries.map((e) => e.key)).toEqual([keyOf('b')]);
    expect(inspection.debris).toEqual([]);
    const pruned = await pruneCache(dir, { all: true, olderThanMs: undefined, maxSizeBytes: undefined });
    expect(pruned.removed.map((e) => e.key)).toEqual([keyOf('b')]);
    expect(pruned.debris).toEqual([]);
    const folder = join(dir, QUARANTINE_DIR, `${keyOf('a')}.${STAMP}`);
    expect((await readdir(folder)).sort()).toEqual(
      [`${keyOf('a')}.json`, `${keyOf('a')}.mender`, QUARANTINE_REPORT].sort(),
    );
  });

  it('a serve reading an entry keeps its open file across the quarantine; its next open is a miss', async () => {
    await populate(['a']);
    await flipByte(pathOf('a', 'mender'), 0);
    const serving = await openStore();
    const opened = (await serving.openReader(keyOf('a')))!;
    try {
      const result = await verifyCache(dir, { now: NOW });
      expect(result.entries[0]).toMatchObject({ status: 'hash-mismatch', action: 'quarantined' });
      const read = await readRange(opened.reader, 0, data.a!.length);
      expect(read.length).toBe(data.a!.length);
      expect(read.subarray(1)).toEqual(data.a!.subarray(1));
    } finally {
      await opened.reader.close();
    }
    expect(await serving.openReader(keyOf('a'))).toBeUndefined();
  });

  it('leaves entries with a download in progress by a live process alone', async () => {
    await populate(['a', 'b']);
    await flipByte(pathOf('a', 'mender'), 0);
    // serve publishing a fill of a: metadata first, the bytes are renamed a moment later.
    const partial = `${keyOf('a')}.${process.pid}.abcdef.partial`;
    await writeFile(join(dir, partial), 'x');
    const result = await verifyCache(dir, { now: NOW });
    expect(result.entries.map((e) => e.key)).toEqual([keyOf('b')]);
    expect(result.fillsInProgress).toBe(1);
    expect(await files()).toContain(`${keyOf('a')}.mender`);
    expect(await files()).not.toContain(QUARANTINE_DIR);

    // A partial of a dead process is debris, not a fill: the bad entry is quarantined.
    await rm(join(dir, partial));
    await writeFile(join(dir, `${keyOf('a')}.${DEAD_PID}.abcdef.partial`), 'x');
    const later = await verifyCache(dir, { now: NOW });
    expect(later.entries.find((e) => e.key === keyOf('a'))).toMatchObject({ action: 'quarantined' });
  });

  it('--no-quarantine reports the same and moves nothing', async () => {
    await populate(['a', 'b']);
    await truncate(pathOf('a', 'mender'), 3);
    const before = await files();
    const result = await verifyCache(dir, { quarantine: false, now: NOW });
    expect(result.quarantine).toBe(false);
    expect(result.entries[0]).toMatchObject({
      status: 'size-mismatch',
      action: 'left',
      quarantinedTo: undefined,
    });
    expect(result.totals).toMatchObject({ bad: 1, quarantined: 0 });
    expect(await files()).toEqual(before);
  });

  it('a second run in the same millisecond gets its own quarantine folder', async () => {
    await populate(['a']);
    const bytes = await readFile(pathOf('a', 'mender'));
    const meta = await readFile(pathOf('a', 'json'));
    await flipByte(pathOf('a', 'mender'), 0);
    await verifyCache(dir, { now: NOW });
    await writeFile(pathOf('a', 'json'), meta);
    await writeFile(pathOf('a', 'mender'), Buffer.concat([bytes, Buffer.from('x')]));
    const second = await verifyCache(dir, { now: NOW });
    expect(second.entries[0]?.quarantinedTo).toBe(`${QUARANTINE_DIR}/${keyOf('a')}.${STAMP}-2`);
    expect((await readdir(join(dir, QUARANTINE_DIR))).sort()).toEqual([
      `${keyOf('a')}.${STAMP}`,
      `${keyOf('a')}.${STAMP}-2`,
    ]);
  });

  describe('selection', () => {
    it('--key prefix and --artifact pick entries; others are not read', async () => {
      await populate();
      await flipByte(pathOf('a', 'mender'), 0);
      const byKey = await verifyCache(dir, {
        quarantine: false,
        selection: parseVerifySelection({ key: keyOf('c').slice(0, 12).toUpperCase() }),
      });
      expect(byKey.entries.map((e) => e.artifactName)).toEqual(['release-c']);
      expect(byKey.totals.bytesHashed).toBe(data.c!.length);

      const byName = await verifyCache(dir, {
        quarantine: false,
        selection: parseVerifySelection({ artifact: 'release-a' }),
      });
      expect(byName.entries.map((e) => [e.artifactName, e.status])).toEqual([['release-a', 'hash-mismatch']]);

      const none = await verifyCache(dir, { selection: parseVerifySelection({ artifact: 'no-such' }) });
      expect(none.entries).toEqual([]);
      expect(none.totals.bad).toBe(0);
    });

    it.each([
      [{ key: 'xyz' }, /--key: "xyz" is not the start of a cache key/],
      [{ key: 'a'.repeat(65) }, /--key: .* is not the start of a cache key/],
      [{ artifact: ' ' }, /--artifact: the artifact name is empty/],
    ])('%j: MGW_CACHE_INVALID_INPUT', (input, message) => {
      expect(() => parseVerifySelection(input)).toThrow(message);
      try {
        parseVerifySelection(input);
      } catch (err) {
        expect(err).toMatchObject({ code: 'MGW_CACHE_INVALID_INPUT' });
        expect(exitCodeOf('MGW_CACHE_INVALID_INPUT')).toBe(2);
      }
    });
  });

  describe('errors', () => {
    // File modes do not bind root: these two cases cannot be provoked as root, so say so.
    const asRoot = (what: string): boolean =>
      skipBecause(
        process.getuid?.() === 0,
        `cache verify: ${what}`,
        'running as root, which file modes do not restrict',
      );

    it('a missing directory: MGW_CACHE_NOT_FOUND', async () => {
      await expect(verifyCache(join(root, 'nope'))).rejects.toMatchObject({ code: 'MGW_CACHE_NOT_FOUND' });
    });

    it.skipIf(asRoot('unreadable entry bytes'))(
      'bytes the user may not read: MGW_CACHE_IO with a permission hint, not a bad entry',
      async () => {
        await populate(['a']);
        await chmod(pathOf('a', 'mender'), 0o000);
        await expect(verifyCache(dir)).rejects.toMatchObject({
          code: 'MGW_CACHE_IO',
          hint: expect.stringMatching(/user `serve` runs as/) as unknown,
        });
        expect(await files()).toContain(`${keyOf('a')}.mender`);
      },
    );

    it.skipIf(asRoot('unwritable quarantine folder'))(
      'a cache folder it may not write: MGW_CACHE_IO naming the move, entry left in place',
      async () => {
        await populate(['a']);
        await flipByte(pathOf('a', 'mender'), 0);
        await mkdir(join(dir, QUARANTINE_DIR), { mode: 0o500 });
        try {
          await expect(verifyCache(dir, { now: NOW })).rejects.toMatchObject({
            code: 'MGW_CACHE_IO',
            message: expect.stringMatching(/cannot move .* to quarantine\/: EACCES/) as unknown,
          });
        } finally {
          await chmod(join(dir, QUARANTINE_DIR), 0o750);
        }
        expect(await files()).toContain(`${keyOf('a')}.mender`);
      },
    );
  });
});
