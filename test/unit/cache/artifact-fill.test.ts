import { describe, expect, it } from 'vitest';
import { ArtifactFill } from '../../../src/core/cache/artifact-fill.js';
import { MemoryArtifactStore } from '../../../src/core/cache/memory-artifact-store.js';
import { entryInfo, keyOf } from './artifact-store-conformance.js';

async function newFill(size = 10) {
  const store = new MemoryArtifactStore();
  const writer = await store.beginWrite(keyOf('a'));
  return { store, writer, fill: new ArtifactFill(keyOf('a'), entryInfo('a', size), writer) };
}

/** Track whether a promise has settled; check after `drain()`. */
function track(promise: Promise<unknown>): { settled: boolean } {
  const state = { settled: false };
  promise.then(
    () => (state.settled = true),
    () => (state.settled = true),
  );
  return state;
}

/** Let every pending microtask run (a macrotask boundary). */
const drain = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('ArtifactFill', () => {
  it('starts filling with nothing written', async () => {
    const { fill } = await newFill(10);
    expect(fill.state).toBe('filling');
    expect(fill.written).toBe(0);
    expect(fill.size).toBe(10);
    expect(fill.key).toBe(keyOf('a'));
    expect(fill.entry).toBeUndefined();
  });

  it('wakes a waiter only once the byte it waits for is written', async () => {
    const { fill } = await newFill(10);
    const waiting = fill.waitFor(4);
    const state = track(waiting);
    fill.progress(3);
    await drain();
    expect(state.settled).toBe(false);
    fill.progress(1);
    await drain();
    expect(state.settled).toBe(false);
    fill.progress(1);
    await drain();
    expect(state.settled).toBe(true);
    await expect(waiting).resolves.toBeUndefined();
    expect(fill.written).toBe(5);
    // Already there: resolves at once.
    await expect(fill.waitFor(0)).resolves.toBeUndefined();
  });

  it('wakes every waiter on completion, and later waiters at once', async () => {
    const { fill, writer } = await newFill(3);
    const waiters = [fill.waitFor(0), fill.waitFor(2), fill.waitFor(100)];
    await writer.write(Buffer.from('abc'));
    fill.progress(3);
    const entry = await writer.commit(fill.info);
    fill.complete(entry);
    await expect(Promise.all(waiters)).resolves.toEqual([undefined, undefined, undefined]);
    await expect(fill.finished).resolves.toEqual(entry);
    expect(fill.state).toBe('done');
    expect(fill.entry).toEqual(entry);
    await expect(fill.waitFor(500)).resolves.toBeUndefined();
    expect(fill.listenerCount('progress')).toBe(0);
  });

  it('rejects waiters with the fill error, including later ones, and removes its listeners', async () => {
    const { fill } = await newFill(10);
    const waiting = fill.waitFor(5);
    fill.progress(2);
    const error = new Error('connection reset');
    fill.fail(error);
    await expect(waiting).rejects.toBe(error);
    await expect(fill.waitFor(0)).rejects.toBe(error);
    await expect(fill.finished).rejects.toBe(error);
    expect(fill.state).toBe('failed');
    expect(fill.listenerCount('progress')).toBe(0);
  });

  it('does not surface an unhandled rejection when nobody awaits a failed fill', async () => {
    const { fill } = await newFill(10);
    fill.fail(new Error('nobody listens'));
    // Vitest fails the run on an unhandled rejection; reaching the end of the test is the assertion.
    await drain();
    expect(fill.state).toBe('failed');
  });

  it('ignores a failure after completion', async () => {
    const { fill, writer } = await newFill(0);
    const entry = await writer.commit(fill.info);
    fill.complete(entry);
    fill.fail(new Error('late'));
    expect(fill.state).toBe('done');
    await expect(fill.finished).resolves.toEqual(entry);
  });

  it('serves hundreds of waiters without a max-listeners warning', async () => {
    const { fill } = await newFill(10);
    const warnings: Error[] = [];
    const onWarning = (w: Error): void => void warnings.push(w);
    process.on('warning', onWarning);
    try {
      const waiters = Array.from({ length: 500 }, () => fill.waitFor(5));
      fill.progress(10);
      await Promise.all(waiters);
      await drain();
      expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('opens readers on its writer that see bytes as they arrive', async () => {
    const { fill, writer } = await newFill(5);
    const reader = await fill.openReader();
    await writer.write(Buffer.from('hello'));
    const buffer = Buffer.alloc(5);
    expect(await reader.read(buffer, 0, 5, 0)).toBe(5);
    expect(buffer.toString()).toBe('hello');
    await reader.close();
  });
});
