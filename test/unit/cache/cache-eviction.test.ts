import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { evictFor } from '../../../src/core/cache/cache-eviction.js';
import { EntryPins } from '../../../src/core/cache/entry-pins.js';
import { MemoryArtifactStore } from '../../../src/core/cache/memory-artifact-store.js';
import { keyOf, putEntry } from './artifact-store-conformance.js';

const T0 = Date.parse('2024-05-01T12:00:00.000Z');
const at = (minutes: number): void => void vi.setSystemTime(T0 + minutes * 60_000);

let store: MemoryArtifactStore;
let pins: EntryPins;

const names = (entries: { key: string }[]): string[] =>
  entries.map((e) => ['a', 'b', 'c', 'd'].find((n) => keyOf(n) === e.key) ?? e.key);

describe('evictFor (docs/protocol.md §4.6, docs/decisions.md §13)', () => {
  /** Entries a, b, c, d of 100 bytes in a 1000-byte store: created in order, then accessed d, b, a (c never). */
  beforeEach(async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    store = new MemoryArtifactStore(1_000);
    pins = new EntryPins(undefined);
    for (const [i, name] of ['a', 'b', 'c', 'd'].entries()) {
      at(i);
      await putEntry(store, name, randomBytes(100));
    }
    at(10);
    await store.recordAccess(keyOf('d'), 1);
    at(11);
    await store.recordAccess(keyOf('b'), 1);
    at(12);
    await store.recordAccess(keyOf('a'), 1);
  });

  afterEach(() => {
    vi.useRealTimers();
  });

  it('evicts nothing when there is room already', async () => {
    expect(await evictFor(store, pins, 600)).toEqual({ evicted: [], freeBytes: 600 });
    expect(store.list()).toHaveLength(4);
  });

  it('evicts least recently accessed first and stops as soon as there is room', async () => {
    const result = await evictFor(store, pins, 750);
    // c was never accessed (last access = creation, minute 2), then d (10), b (11), a (12).
    expect(names(result.evicted)).toEqual(['c', 'd']);
    expect(result.freeBytes).toBe(800);
    expect(names(store.list()).sort()).toEqual(['a', 'b']);
  });

  it('breaks last-access ties by creation time', async () => {
    at(20);
    await store.recordAccess(keyOf('d'), 1);
    await store.recordAccess(keyOf('c'), 1);
    await store.recordAccess(keyOf('b'), 1);
    await store.recordAccess(keyOf('a'), 1);
    const result = await evictFor(store, pins, 800);
    expect(names(result.evicted)).toEqual(['a', 'b']);
  });

  it('never evicts pinned entries, nor those in extraPinned', async () => {
    await pins.pin(keyOf('c'));
    const result = await evictFor(store, pins, 800, new Set([keyOf('d')]));
    expect(names(result.evicted)).toEqual(['b', 'a']);
    expect(names(store.list()).sort()).toEqual(['c', 'd']);
    expect(result.freeBytes).toBe(800);
  });

  it('considers an entry unpinned again once every pin is released', async () => {
    await pins.pin(keyOf('c'));
    await pins.pin(keyOf('c'));
    pins.unpin(keyOf('c'));
    expect(names((await evictFor(store, pins, 700)).evicted)).toEqual(['d']);
    pins.unpin(keyOf('c'));
    expect(names((await evictFor(store, pins, 800)).evicted)).toEqual(['c']);
  });
});

describe('evictFor when eviction cannot help', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  beforeEach(async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    store = new MemoryArtifactStore(1_000);
    pins = new EntryPins(undefined);
    for (const [i, name] of ['a', 'b', 'c'].entries()) {
      at(i);
      await putEntry(store, name, randomBytes(100));
    }
  });

  it('evicts nothing when even every unpinned entry would not free enough', async () => {
    // 700 free + 300 evictable = 1000 < 1001.
    expect(await evictFor(store, pins, 1_001)).toEqual({ evicted: [], freeBytes: 700 });
    expect(store.list()).toHaveLength(3);
  });

  it('does not count pinned entries as room it could make', async () => {
    await pins.pin(keyOf('c'));
    expect(await evictFor(store, pins, 950)).toEqual({ evicted: [], freeBytes: 700 });
    expect(store.list()).toHaveLength(3);
    pins.unpin(keyOf('c'));
    expect(names((await evictFor(store, pins, 950)).evicted)).toEqual(['a', 'b', 'c']);
  });
});
