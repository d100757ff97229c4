import { randomBytes } from 'node:crypto';
import { appendFile, mkdir, mkdtemp, readdir, readFile, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ArtifactEntry } from '../../../src/core/cache/artifact-store.js';
import { DiskArtifactStore } from '../../../src/core/cache/disk-artifact-store.js';
import { isProcessAlive } from '../../../src/core/cache/process-alive.js';
import { entryInfo, keyOf, putEntry, readRange } from './artifact-store-conformance.js';

/**
 * Above the largest PID Linux can hand out (PID_MAX_LIMIT is 2^22 on 64-bit), so no
 * process can have it, whatever /proc/sys/kernel/pid_max says.
 */
const DEAD_PID = 2 ** 22 + 1;

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

async function openStore(): Promise<DiskArtifactStore> {
  const store = new DiskArtifactStore(dir);
  stores.push(store);
  await store.open();
  return store;
}

async function files(): Promise<string[]> {
  // The lock of the open store (cache-lock.ts) is not part of the layout under test.
  return (await readdir(dir)).filter((name) => name !== '.serve.lock').sort();
}

async function readAll(store: DiskArtifactStore, name: string): Promise<Buffer | undefined> {
  const opened = await store.openReader(keyOf(name));
  if (opened === undefined) return undefined;
  try {
    return await readRange(opened.reader, 0, opened.entry.size + 1);
  } finally {
    await opened.reader.close();
  }
}

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'mender-gw-disk-store-'));
  dir = join(root, 'cache');
});

afterEach(async () => {
  for (const store of stores.splice(0)) await store.close();
  await rm(root, { recursive: true, force: true });
});

describe('DiskArtifactStore (docs/protocol.md §4.6)', () => {
  it('lays out <key>.mender and <key>.json, and nothing else, after a commit', async () => {
    const store = await openStore();
    const data = randomBytes(5_000);
    const entry = await putEntry(store, 'a', data);
    expect(await files()).toEqual([`${keyOf('a')}.json`, `${keyOf('a')}.mender`]);
    expect(await readFile(join(dir, `${keyOf('a')}.mender`))).toEqual(data);
    expect(JSON.parse(await readFile(join(dir, `${keyOf('a')}.json`), 'utf8'))).toEqual(entry);
    // The presigned query never reaches the disk: only what the filler gave as origin.
    expect(entry.origin).toBe('https://storage.example/bucket/a');
  });

  it('fills into <key>.<pid>.<random>.partial in the cache folder itself (atomic rename)', async () => {
    const store = await openStore();
    const writer = await store.beginWrite(keyOf('a'));
    await writer.write(Buffer.from('partial bytes'));
    const names = await files();
    expect(names).toHaveLength(1);
    expect(names[0]).toMatch(new RegExp(`^${keyOf('a')}\\.${process.pid}\\.[0-9a-f]+\\.partial$`));
    expect(await readFile(join(dir, names[0]!), 'utf8')).toBe('partial bytes');
    await writer.abort();
    expect(await files()).toEqual([]);
  });

  it('removes the partial file when a commit has the wrong size', async () => {
    const store = await openStore();
    const writer = await store.beginWrite(keyOf('a'));
    await writer.write(Buffer.from('short'));
    await expect(writer.commit(entryInfo('a', 10))).rejects.toMatchObject({
      code: 'MGW_UPSTREAM_BAD_RESPONSE',
    });
    expect(await files()).toEqual([]);
  });

  it('refuses keys that are not cache keys before touching the filesystem', async () => {
    const store = await openStore();
    await expect(store.beginWrite('../escape')).rejects.toThrow('not a cache key');
    expect(await store.remove('../escape')).toBe(0);
    expect(await files()).toEqual([]);
  });

  it('creates the cache folder 0750 and writes bytes and metadata 0640', async () => {
    const umask = await currentUmask();
    const store = await openStore();
    expect((await stat(dir)).mode & 0o777).toBe(0o750 & ~umask);
    const writer = await store.beginWrite(keyOf('a'));
    await writer.write(Buffer.from('x'));
    const partial = (await files())[0]!;
    expect((await stat(join(dir, partial))).mode & 0o777).toBe(0o640 & ~umask);
    await writer.commit(entryInfo('a', 1));
    expect((await stat(join(dir, `${keyOf('a')}.mender`))).mode & 0o777).toBe(0o640 & ~umask);
    expect((await stat(join(dir, `${keyOf('a')}.json`))).mode & 0o777).toBe(0o640 & ~umask);
  });

  describe('open() after a restart', () => {
    it('rebuilds the index from the folder', async () => {
      const first = await openStore();
      const a = randomBytes(3_000);
      const b = randomBytes(4_000);
      const entryA = await putEntry(first, 'a', a);
      const entryB = await putEntry(first, 'b', b);
      await first.close();

      const second = new DiskArtifactStore(dir);
      stores.push(second);
      expect(await second.open()).toEqual({ entries: 2, removed: [] });
      expect(second.get(keyOf('a'))).toEqual(entryA);
      expect(second.findByArtifactId('id-b')).toEqual(entryB);
      expect(second.list()).toHaveLength(2);
      expect(await readAll(second, 'a')).toEqual(a);
      expect(await readAll(second, 'b')).toEqual(b);
    });

    it('persists recordAccess metadata, at the latest on close()', async () => {
      const first = await openStore();
      await putEntry(first, 'a', randomBytes(100));
      await first.recordAccess(keyOf('a'), 100);
      await first.recordAccess(keyOf('a'), 40);
      const recorded = first.get(keyOf('a'))!;
      await first.close();
      const onDisk = JSON.parse(await readFile(join(dir, `${keyOf('a')}.json`), 'utf8')) as ArtifactEntry;
      expect(onDisk).toEqual(recorded);
      expect(onDisk.hits).toBe(2);
      expect(onDisk.bytesServed).toBe(140);

      const second = await openStore();
      expect(second.get(keyOf('a'))).toEqual(recorded);
    });

    it('does not resurrect metadata of an entry removed after an access', async () => {
      const store = await openStore();
      await putEntry(store, 'a', randomBytes(100));
      await store.recordAccess(keyOf('a'), 100);
      expect(await store.remove(keyOf('a'))).toBe(100);
      await store.close();
      expect(await files()).toEqual([]);
    });

    it('does not resurrect metadata when the bytes were deleted behind its back (cache prune)', async () => {
      const store = await openStore();
      await putEntry(store, 'a', randomBytes(100));
      await store.recordAccess(keyOf('a'), 100);
      await unlink(join(dir, `${keyOf('a')}.mender`));
      await unlink(join(dir, `${keyOf('a')}.json`));
      await store.close();
      expect(await files()).toEqual([]);
    });

    it('removes .partial files of dead processes and of its own PID, keeps those of other live processes', async () => {
      await mkdir(dir, { recursive: true });
      expect(isProcessAlive(DEAD_PID)).toBe(false);
      expect(isProcessAlive(process.ppid)).toBe(true);
      const dead = `${keyOf('a')}.${DEAD_PID}.abc123.partial`;
      const own = `${keyOf('b')}.${process.pid}.abc123.partial`;
      const live = `${keyOf('c')}.${process.ppid}.abc123.partial`;
      const tmp = `${keyOf('d')}.json.0a1b2c.tmp`;
      for (const name of [dead, own, live, tmp]) await writeFile(join(dir, name), 'x');

      const store = new DiskArtifactStore(dir);
      stores.push(store);
      const report = await store.open();
      expect(report.entries).toBe(0);
      expect([...report.removed].sort()).toEqual([dead, own, tmp].sort());
      expect(await files()).toEqual([live]);
      expect(store.list()).toEqual([]);
    });

    it('removes metadata without bytes, bytes without metadata, and entries whose size does not match', async () => {
      const first = await openStore();
      const keep = randomBytes(100);
      await putEntry(first, 'keep', keep);
      await putEntry(first, 'no-bytes', randomBytes(100));
      await putEntry(first, 'no-meta', randomBytes(100));
      await putEntry(first, 'grown', randomBytes(100));
      await putEntry(first, 'shrunk', randomBytes(100));
      await first.close();
      await unlink(join(dir, `${keyOf('no-bytes')}.mender`));
      await unlink(join(dir, `${keyOf('no-meta')}.json`));
      await appendFile(join(dir, `${keyOf('grown')}.mender`), 'x');
      await writeFile(join(dir, `${keyOf('shrunk')}.mender`), 'short');

      const second = new DiskArtifactStore(dir);
      stores.push(second);
      const report = await second.open();
      expect(report.entries).toBe(1);
      expect([...report.removed].sort()).toEqual(
        [
          `${keyOf('no-bytes')}.json`,
          `${keyOf('no-meta')}.mender`,
          `${keyOf('grown')}.json`,
          `${keyOf('grown')}.mender`,
          `${keyOf('shrunk')}.json`,
          `${keyOf('shrunk')}.mender`,
        ].sort(),
      );
      expect(await files()).toEqual([`${keyOf('keep')}.json`, `${keyOf('keep')}.mender`]);
      expect(second.list().map((e) => e.key)).toEqual([keyOf('keep')]);
      expect(await readAll(second, 'keep')).toEqual(keep);
    });

    it.each([
      ['unparseable', '{"key": '],
      ['for another key', (other: string) => JSON.stringify({ ...entryInfo('x', 3), key: other })],
      ['JSON null', 'null'],
      ['a JSON number', '42'],
    ])('removes %s metadata together with its bytes', async (_name, content) => {
      await mkdir(dir, { recursive: true });
      const key = keyOf('a');
      const text = typeof content === 'string' ? content : content(keyOf('other'));
      await writeFile(join(dir, `${key}.json`), text);
      await writeFile(join(dir, `${key}.mender`), 'abc');
      const store = new DiskArtifactStore(dir);
      stores.push(store);
      const report = await store.open();
      expect(report.entries).toBe(0);
      expect([...report.removed].sort()).toEqual([`${key}.json`, `${key}.mender`]);
      expect(await files()).toEqual([]);
    });

    it('leaves files it does not own alone', async () => {
      await mkdir(join(dir, '.in-use'), { recursive: true });
      await writeFile(join(dir, 'lost+found-note.txt'), 'x');
      await writeFile(join(dir, 'abc.partial'), 'x');
      await writeFile(join(dir, `${keyOf('a')}.mender.bak`), 'x');
      const store = new DiskArtifactStore(dir);
      stores.push(store);
      expect(await store.open()).toEqual({ entries: 0, removed: [] });
      expect(await files()).toEqual(
        ['.in-use', 'abc.partial', `${keyOf('a')}.mender.bak`, 'lost+found-note.txt'].sort(),
      );
    });
  });

  describe('entries changed behind its back', () => {
    it('treats deleted bytes as a miss and forgets the entry', async () => {
      const store = await openStore();
      await putEntry(store, 'a', randomBytes(100));
      await unlink(join(dir, `${keyOf('a')}.mender`));
      expect(await store.openReader(keyOf('a'))).toBeUndefined();
      expect(store.get(keyOf('a'))).toBeUndefined();
    });

    it('refuses bytes whose size no longer matches the metadata', async () => {
      const store = await openStore();
      await putEntry(store, 'a', randomBytes(100));
      await appendFile(join(dir, `${keyOf('a')}.mender`), 'x');
      expect(await store.openReader(keyOf('a'))).toBeUndefined();
      expect(store.get(keyOf('a'))).toBeUndefined();
    });

    it('reports 0 bytes freed when the bytes were already gone', async () => {
      const store = await openStore();
      await putEntry(store, 'a', randomBytes(100));
      await unlink(join(dir, `${keyOf('a')}.mender`));
      expect(await store.remove(keyOf('a'))).toBe(0);
      expect(await files()).toEqual([]);
    });
  });

  it('keeps a reader of a complete entry working after the entry is removed', async () => {
    const store = await openStore();
    const data = randomBytes(1_000);
    await putEntry(store, 'a', data);
    const opened = (await store.openReader(keyOf('a')))!;
    try {
      expect(await store.remove(keyOf('a'))).toBe(1_000);
      expect(await readRange(opened.reader, 0, 1_000)).toEqual(data);
    } finally {
      await opened.reader.close();
    }
  });
});
