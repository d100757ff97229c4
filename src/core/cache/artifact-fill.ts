import { EventEmitter } from 'node:events';
import type {
  ArtifactEntry,
  ArtifactWriter,
  NewArtifactEntry,
  RandomAccessReader,
} from './artifact-store.js';

/**
 * One upstream download into the cache, shared by every device that asks for the artifact
 * while it runs (docs/protocol.md §4.6). Readers follow the growing file:
 * a byte is served as soon as it is written, so nobody waits for the whole download, and
 * a slow device never throttles the fill, since each reader reads the file at its own pace.
 */
export class ArtifactFill extends EventEmitter {
  #written = 0;
  #state: 'filling' | 'done' | 'failed' = 'filling';
  #error: Error | undefined;
  #entry: ArtifactEntry | undefined;
  readonly finished: Promise<ArtifactEntry>;
  #resolve!: (entry: ArtifactEntry) => void;
  #reject!: (err: Error) => void;

  constructor(
    readonly key: string,
    readonly info: NewArtifactEntry,
    private readonly writer: ArtifactWriter,
  ) {
    super();
    this.setMaxListeners(0); // hundreds of devices may wait on one fill
    this.finished = new Promise((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    // Nobody may be awaiting `finished` when a fill fails; the error reaches readers through waitFor().
    this.finished.catch(() => undefined);
  }

  get size(): number {
    return this.info.size;
  }

  get written(): number {
    return this.#written;
  }

  get state(): 'filling' | 'done' | 'failed' {
    return this.#state;
  }

  get entry(): ArtifactEntry | undefined {
    return this.#entry;
  }

  /** Readers see the partial file; on Linux their descriptor stays valid across the final rename. */
  openReader(): Promise<RandomAccessReader> {
    return this.writer.openReader();
  }

  /** @internal by the filler after each durable write. */
  progress(bytes: number): void {
    this.#written += bytes;
    this.emit('progress');
  }

  /** @internal */
  complete(entry: ArtifactEntry): void {
    this.#state = 'done';
    this.#entry = entry;
    this.emit('progress');
    this.#resolve(entry);
  }

  /** @internal */
  fail(error: Error): void {
    if (this.#state !== 'filling') return;
    this.#state = 'failed';
    this.#error = error;
    this.emit('progress');
    this.#reject(error);
  }

  /**
   * Resolve once at least `position + 1` bytes are written (or the fill is complete);
   * reject when the fill failed, so the device's response is cut and it resumes later.
   */
  waitFor(position: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        if (this.#state === 'failed') {
          reject(this.#error ?? new Error('fill failed'));
          return true;
        }
        if (this.#written > position || this.#state === 'done') {
          resolve();
          return true;
        }
        return false;
      };
      if (check()) return;
      const onProgress = (): void => {
        if (check()) this.off('progress', onProgress);
      };
      this.on('progress', onProgress);
    });
  }
}
