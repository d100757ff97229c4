/**
 * A map that keeps the `limit` most recently touched keys and forgets the least recently touched
 * one beyond that, so a device network sending endless distinct identities cannot grow memory.
 * A `Map` iterates in insertion order: touching is delete-then-set, the oldest is the first key.
 */
export class RecencyMap<K, V> {
  readonly #map = new Map<K, V>();

  constructor(readonly limit: number) {}

  get size(): number {
    return this.#map.size;
  }

  /** The value without making it recent. */
  peek(key: K): V | undefined {
    return this.#map.get(key);
  }

  /** Store (or refresh) `key` as the most recent, dropping the oldest beyond the limit. */
  touch(key: K, value: V): void {
    this.#map.delete(key);
    this.#map.set(key, value);
    while (this.#map.size > this.limit) {
      const oldest = this.#map.keys().next();
      if (oldest.done === true) break;
      this.#map.delete(oldest.value);
    }
  }

  /** Values, most recent first. */
  recentFirst(): V[] {
    return [...this.#map.values()].reverse();
  }
}
