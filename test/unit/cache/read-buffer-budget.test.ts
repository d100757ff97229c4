import { describe, expect, it } from 'vitest';
import {
  BUDGET_BYTES,
  MAX_CHUNK_BYTES,
  MIN_CHUNK_BYTES,
  ReadBufferBudget,
} from '../../../src/core/cache/read-buffer-budget.js';

const KiB = 1024;

describe('read buffer budget (memory with many devices downloading at once)', () => {
  it('gives 128 KiB chunks up to 128 concurrent downloads (every M1 benchmark case)', () => {
    const budget = new ReadBufferBudget();
    const leases = Array.from({ length: 128 }, () => budget.lease());
    expect(new Set(leases.map((l) => l.chunkBytes))).toEqual(new Set([MAX_CHUNK_BYTES]));
    expect(budget.active).toBe(128);
  });

  it('halves the chunk as the count doubles, never below one TLS record (16 KiB)', () => {
    const budget = new ReadBufferBudget();
    const sizes = new Map<number, number>();
    for (let n = 1; n <= 2048; n++) sizes.set(n, budget.lease().chunkBytes);
    expect(sizes.get(256)).toBe(64 * KiB);
    expect(sizes.get(512)).toBe(32 * KiB);
    expect(sizes.get(1024)).toBe(MIN_CHUNK_BYTES);
    expect(sizes.get(2048)).toBe(MIN_CHUNK_BYTES);
    // Always a whole number of TLS records, and never growing with more downloads.
    const ordered = [...sizes.values()];
    for (const size of ordered) expect(size % MIN_CHUNK_BYTES).toBe(0);
    for (let i = 1; i < ordered.length; i++) expect(ordered[i]!).toBeLessThanOrEqual(ordered[i - 1]!);
    // 500 devices at once hold ~32 KiB × 2 each (the budget), not 128 KiB × 2 (125 MiB).
    expect(2 * 500 * sizes.get(500)!).toBeLessThanOrEqual(BUDGET_BYTES);
  });

  it('gives the share back when a download ends, once however often release is called', () => {
    const budget = new ReadBufferBudget();
    const crowd = Array.from({ length: 1000 }, () => budget.lease());
    expect(budget.lease().chunkBytes).toBe(MIN_CHUNK_BYTES);
    for (const lease of crowd) {
      lease.release();
      lease.release();
    }
    expect(budget.active).toBe(1);
    expect(budget.lease().chunkBytes).toBe(MAX_CHUNK_BYTES);
  });
});
