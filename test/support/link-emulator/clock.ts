/**
 * Time as the link emulator (and anything else under test that waits) sees it. The real clock
 * for runs against real processes; {@link ManualClock} where a test must cover minutes or hours
 * of link behaviour in milliseconds, deterministically.
 */
export interface Clock {
  now(): number;
  /** Run `fn` once `ms` have passed on this clock. Returns a cancel function. */
  after(ms: number, fn: () => void): () => void;
}

export const realClock: Clock = {
  now: () => performance.now(),
  after(ms, fn) {
    const timer = setTimeout(fn, Math.max(0, ms));
    return () => clearTimeout(timer);
  },
};

interface Pending {
  at: number;
  seq: number;
  fn: () => void;
}

/** A clock that moves only when the test says so. */
export class ManualClock implements Clock {
  #now = 0;
  #seq = 0;
  #pending: Pending[] = [];

  now(): number {
    return this.#now;
  }

  after(ms: number, fn: () => void): () => void {
    const entry = { at: this.#now + Math.max(0, ms), seq: this.#seq++, fn };
    this.#pending.push(entry);
    return () => {
      this.#pending = this.#pending.filter((p) => p !== entry);
    };
  }

  /** Move time forward by `ms`, running everything that falls due, in order. */
  advance(ms: number): void {
    const target = this.#now + ms;
    for (;;) {
      this.#pending.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const next = this.#pending[0];
      if (next === undefined || next.at > target) break;
      this.#pending.shift();
      this.#now = next.at;
      next.fn();
    }
    this.#now = target;
  }

  /** When the earliest pending callback falls due, if any. */
  get nextDue(): number | undefined {
    return this.#pending.reduce<number | undefined>(
      (min, p) => (min === undefined || p.at < min ? p.at : min),
      undefined,
    );
  }
}
