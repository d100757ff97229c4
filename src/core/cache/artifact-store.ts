/**
 * The artifact cache store (docs/protocol.md §4.5, §4.6).
 *
 * An entry per artifact, keyed by `cacheKeyFor(storage URL)`, holding the bytes and the
 * metadata an operator and the gateway need. Bytes are read and written through a
 * random-access interface so that the same fan-out code streams from a complete entry
 * and from one still being filled, whatever the backing store. Every implementation
 * passes `test/unit/cache/artifact-store-conformance.ts`.
 */

/** Metadata of a complete entry, persisted next to its bytes. */
export interface ArtifactEntry {
  key: string;
  /** The storage URL without its query (presigned signatures never reach the disk). */
  origin: string;
  artifactId: string | undefined;
  artifactName: string | undefined;
  size: number;
  /** SHA-256 of the bytes, hex, computed while filling (detect altered entries). */
  sha256: string;
  etag: string | undefined;
  lastModified: string | undefined;
  contentType: string | undefined;
  createdAt: string;
  lastAccessAt: string;
  hits: number;
  bytesServed: number;
}

/** What the filler knows when it commits an entry. */
export type NewArtifactEntry = Pick<
  ArtifactEntry,
  'key' | 'origin' | 'artifactId' | 'artifactName' | 'size' | 'etag' | 'lastModified' | 'contentType'
>;

export interface RandomAccessReader {
  /** Like `FileHandle.read`: returns the number of bytes read (0 at the current end). */
  read(buffer: Buffer, offset: number, length: number, position: number): Promise<number>;
  close(): Promise<void>;
}

export interface ArtifactWriter {
  readonly key: string;
  readonly bytesWritten: number;
  /** Append; resolves when the bytes can be read back through `openReader()`. */
  write(chunk: Buffer): Promise<void>;
  /** A reader over the bytes written so far (and later ones, as they arrive). */
  openReader(): Promise<RandomAccessReader>;
  /**
   * Make the entry durable and visible: length checked against `entry.size`, data
   * flushed, then published atomically. Throws (and discards the bytes) on a mismatch.
   */
  commit(entry: NewArtifactEntry): Promise<ArtifactEntry>;
  /** Discard the bytes; readers already open may finish what they have. Idempotent. */
  abort(): Promise<void>;
}

export interface StoreOpenReport {
  entries: number;
  /** Stray temporaries and half-published files removed (left by a crash or kill -9). */
  removed: string[];
}

export interface ArtifactStore {
  /** Where the store lives, for messages. */
  readonly location: string;
  /** Rebuild the index from the backing store and remove leftovers of interrupted fills. */
  open(): Promise<StoreOpenReport>;
  list(): ArtifactEntry[];
  get(key: string): ArtifactEntry | undefined;
  findByArtifactId(artifactId: string): ArtifactEntry | undefined;
  /**
   * Open a complete entry for reading, or `undefined` when it is gone (e.g. removed by
   * `cache prune`) or its size on disk no longer matches its metadata.
   */
  openReader(key: string): Promise<{ entry: ArtifactEntry; reader: RandomAccessReader } | undefined>;
  beginWrite(key: string): Promise<ArtifactWriter>;
  /** Remove an entry; returns the bytes freed (0 when it was not there). */
  remove(key: string): Promise<number>;
  /** Record a download served from the entry (last access, hit count, bytes). */
  recordAccess(key: string, bytesServed: number): Promise<void>;
  /** Bytes available for new entries (free space on the volume for the disk store). */
  freeSpace(): Promise<number>;
  /** Total size of the backing volume, for the free-space margin. */
  capacity(): Promise<number>;
  /** Persist pending metadata and release resources. */
  close(): Promise<void>;
}
