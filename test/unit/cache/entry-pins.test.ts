import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EntryPins, IN_USE_DIR, pinnedKeysOnDisk } from '../../../src/core/cache/entry-pins.js';
import { keyOf } from './artifact-store-conformance.js';

const DEAD_PID = 2 ** 22 + 1; // above PID_MAX_LIMIT: never a live process

describe('EntryPins in memory', () => {
  it('counts pins per key', async () => {
    const pins = new EntryPins(undefined);
    expect(pins.isPinned(keyOf('a'))).toBe(false);
    await pins.pin(keyOf('a'));
    await pins.pin(keyOf('a'));
    expect(pins.isPinned(keyOf('a'))).toBe(true);
    expect(pins.isPinned(keyOf('b'))).toBe(false);
    pins.unpin(keyOf('a'));
    expect(pins.isPinned(keyOf('a'))).toBe(true);
    pins.unpin(keyOf('a'));
    expect(pins.isPinned(keyOf('a'))).toBe(false);
  });

  it('does not go negative on an extra unpin', async () => {
    const pins = new EntryPins(undefined);
    pins.unpin(keyOf('a'));
    await pins.pin(keyOf('a'));
    expect(pins.isPinned(keyOf('a'))).toBe(true);
  });

  it('clears every pin', async () => {
    const pins = new EntryPins(undefined);
    await pins.pin(keyOf('a'));
    await pins.pin(keyOf('b'));
    await pins.clear();
    expect(pins.isPinned(keyOf('a'))).toBe(false);
    expect(pins.isPinned(keyOf('b'))).toBe(false);
  });
});

describe('EntryPins mirrored on disk (for cache prune)', () => {
  let dir: string;
  const markers = async (): Promise<string[]> =>
    (await readdir(join(dir, IN_USE_DIR)).catch(() => [])).sort();

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mender-gw-pins-'));
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps one marker <key>.<pid> while a key is pinned, however often', async () => {
    const pins = new EntryPins(dir);
    await pins.pin(keyOf('a'));
    await pins.pin(keyOf('a'));
    expect(await markers()).toEqual([`${keyOf('a')}.${process.pid}`]);
    expect(await pinnedKeysOnDisk(dir)).toEqual(new Set([keyOf('a')]));
    await pins.clear();
    expect(await markers()).toEqual([]);
  });

  it('clears this process’s markers on shutdown', async () => {
    const pins = new EntryPins(dir);
    await pins.pin(keyOf('a'));
    await pins.pin(keyOf('b'));
    await pins.clear();
    expect(await markers()).toEqual([]);
    expect(await pinnedKeysOnDisk(dir)).toEqual(new Set());
  });

  it('sees pins of other live processes and drops markers of dead ones', async () => {
    await mkdir(join(dir, IN_USE_DIR), { recursive: true });
    await writeFile(join(dir, IN_USE_DIR, `${keyOf('live')}.${process.ppid}`), '');
    await writeFile(join(dir, IN_USE_DIR, `${keyOf('dead')}.${DEAD_PID}`), '');
    await writeFile(join(dir, IN_USE_DIR, 'not-a-marker'), '');
    expect(await pinnedKeysOnDisk(dir)).toEqual(new Set([keyOf('live')]));
    expect(await markers()).toEqual([`${keyOf('live')}.${process.ppid}`, 'not-a-marker'].sort());
  });

  it('reports no pins when the marker folder does not exist', async () => {
    expect(await pinnedKeysOnDisk(join(dir, 'nowhere'))).toEqual(new Set());
  });
});
