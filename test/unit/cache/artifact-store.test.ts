import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DiskArtifactStore } from '../../../src/core/cache/disk-artifact-store.js';
import { MemoryArtifactStore } from '../../../src/core/cache/memory-artifact-store.js';
import { describeArtifactStoreConformance } from './artifact-store-conformance.js';

describeArtifactStoreConformance(
  'MemoryArtifactStore',
  async () => {
    const store = new MemoryArtifactStore(10 * 1024 * 1024);
    await store.open();
    return { store, cleanup: () => store.close() };
  },
  { freeSpace: 'exact' },
);

describeArtifactStoreConformance(
  'DiskArtifactStore',
  async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mender-gw-store-'));
    const store = new DiskArtifactStore(join(dir, 'cache'));
    await store.open();
    return {
      store,
      cleanup: async () => {
        await store.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  },
  { freeSpace: 'volume', offline: { reopen: (location) => new DiskArtifactStore(location) } },
);
