import type { ArtifactEntry, ArtifactStore } from './artifact-store.js';
import type { EntryPins } from './entry-pins.js';

/**
 * Make room for `needBytes` (docs/protocol.md §4.6): evict entries that are
 * not in use, least recently accessed first (creation time breaks ties), until the store
 * reports enough free space. Last access is our own record, not the file's atime, which
 * `relatime`/`noatime` mounts make meaningless (docs/decisions.md §13).
 */
export async function evictFor(
  store: ArtifactStore,
  pins: Pick<EntryPins, 'isPinned'>,
  needBytes: number,
  extraPinned: ReadonlySet<string> = new Set(),
): Promise<{ evicted: ArtifactEntry[]; freeBytes: number }> {
  let freeBytes = await store.freeSpace();
  const evicted: ArtifactEntry[] = [];
  if (freeBytes >= needBytes) return { evicted, freeBytes };
  const candidates = store
    .list()
    .filter((entry) => !pins.isPinned(entry.key) && !extraPinned.has(entry.key))
    .sort((a, b) => a.lastAccessAt.localeCompare(b.lastAccessAt) || a.createdAt.localeCompare(b.createdAt));
  // Evicting everything evictable would still not make room: keep the entries (the caller bypasses).
  if (candidates.reduce((sum, entry) => sum + entry.size, freeBytes) < needBytes)
    return { evicted, freeBytes };
  for (const entry of candidates) {
    if (freeBytes >= needBytes) break;
    await store.remove(entry.key);
    evicted.push(entry);
    freeBytes = await store.freeSpace();
  }
  return { evicted, freeBytes };
}
