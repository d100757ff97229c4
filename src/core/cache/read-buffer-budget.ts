/**
 * How large each download's read buffers are. A cached download holds two buffers (one being
 * read into, one draining into TLS), and Node keeps about as much again encrypted until the
 * socket takes it, so a download in flight costs ~4 × its chunk size. 128 KiB chunks are the
 * cheapest per GiB (benchmark M1 in docs/performance.md), but 500 devices updating at once over a slow VLAN
 * would then
 * hold ~250 MiB. So the chunk is the device's share of a fixed budget: 128 KiB up to 128
 * concurrent downloads (every M1 case), halving as the count doubles, never below one TLS record
 * (16 KiB). The size is chosen when a download starts and kept for its life.
 */
export const MAX_CHUNK_BYTES = 128 * 1024;
export const MIN_CHUNK_BYTES = 16 * 1024;
/** Two buffers per download: 128 downloads at 128 KiB, 1,024 at 16 KiB. */
export const BUDGET_BYTES = 32 * 1024 * 1024;

export interface BufferLease {
  /** Bytes per buffer for this download. */
  readonly chunkBytes: number;
  /** The download is over; idempotent. */
  release(): void;
}

export class ReadBufferBudget {
  #active = 0;

  constructor(
    private readonly budgetBytes = BUDGET_BYTES,
    private readonly maxChunk = MAX_CHUNK_BYTES,
    private readonly minChunk = MIN_CHUNK_BYTES,
  ) {}

  /** Downloads holding a lease now. */
  get active(): number {
    return this.#active;
  }

  lease(): BufferLease {
    this.#active++;
    const share = Math.floor(this.budgetBytes / (2 * this.#active) / this.minChunk) * this.minChunk;
    const chunkBytes = Math.min(this.maxChunk, Math.max(this.minChunk, share));
    let released = false;
    return {
      chunkBytes,
      release: () => {
        if (released) return;
        released = true;
        this.#active--;
      },
    };
  }
}

/** The process-wide budget every cached download draws from. */
export const readBufferBudget = new ReadBufferBudget();
