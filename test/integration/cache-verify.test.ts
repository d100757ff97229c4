import { createHash } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { QUARANTINE_DIR, verifyCache } from '../../src/core/cache/cache-verify.js';
import { DEVICE_TYPE, startCacheScenario } from '../support/cache-scenario.js';
import type { CacheScenario } from '../support/cache-scenario.js';
import { pollNext } from '../support/simulated-device.js';

/**
 * Disk and process faults end to end: an entry filled through a running gateway, altered on disk (one
 * byte, same size: what `serve`'s size check on open cannot see), found by `cache verify` and
 * quarantined; the gateway then downloads the artifact again from storage and devices get the
 * right bytes.
 */

const MiB = 1024 * 1024;
const provides = { device_type: DEVICE_TYPE, artifact_name: 'initial' };
const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

async function download(url: string): Promise<{ status: number; body: Buffer }> {
  const res = await request(url);
  const chunks: Buffer[] = [];
  for await (const chunk of res.body) chunks.push(chunk as Buffer);
  return { status: res.statusCode, body: Buffer.concat(chunks) };
}

/** Flip one byte in the middle of the only cached artifact; returns its file name. */
async function alterOneByte(cacheDir: string): Promise<string> {
  const [name] = (await readdir(cacheDir)).filter((n) => n.endsWith('.mender'));
  if (name === undefined) throw new Error(`no cached artifact in ${cacheDir}`);
  const bytes = await readFile(join(cacheDir, name));
  const at = Math.floor(bytes.length / 2);
  bytes[at] = bytes[at]! ^ 0x01;
  await writeFile(join(cacheDir, name), bytes);
  return name;
}

describe('cache verify with a gateway', () => {
  let s: CacheScenario;

  beforeEach(async () => {
    s = await startCacheScenario();
  });
  afterEach(async () => {
    await s.close();
  });

  /** A device downloads a fresh artifact through the gateway: one fill from storage. */
  async function fillOne(name: string): Promise<{ link: string; expected: string; artifactId: string }> {
    const device = await s.newDevice();
    const { artifact, sha256: expected } = s.addArtifact(name, 2 * MiB);
    const link = (await pollNext(s.gw.url, device, provides)).json!.artifact.source.uri;
    const first = await download(link);
    expect(first.status).toBe(200);
    expect(sha256(first.body)).toBe(expected);
    await s.gw.logs.waitFor((l) => l.msg === 'cache fill finished' && l.artifact === name);
    return { link, expected, artifactId: artifact.id };
  }

  const fullDownloads = (artifactId: string): number | undefined =>
    s.upstream.state.storage.perArtifact.get(artifactId)?.fullDownloadsStarted;

  it('altered while serve is stopped: quarantined, and the restarted gateway fetches the artifact again', async () => {
    const { link, expected, artifactId } = await fillOne('verify-stopped');
    await s.gw.close();
    const file = await alterOneByte(s.cacheDir);
    const key = file.slice(0, 64);

    const result = await verifyCache(s.cacheDir);
    expect(result.entries).toEqual([
      expect.objectContaining({
        key,
        artifactName: 'verify-stopped',
        status: 'hash-mismatch',
        action: 'quarantined',
        files: [`${key}.json`, `${key}.mender`],
      }),
    ]);
    const folder = join(s.cacheDir, result.entries[0]!.quarantinedTo!);

    await s.restartGateway();
    const again = await download(link);
    expect(again.status).toBe(200);
    expect(sha256(again.body)).toBe(expected);
    expect(fullDownloads(artifactId)).toBe(2);
    // Start-up left the quarantine alone; the new entry is intact.
    expect((await readdir(folder)).sort()).toEqual([`${key}.json`, `${key}.mender`, 'verify.json']);
    expect(await readdir(join(s.cacheDir, QUARANTINE_DIR))).toHaveLength(1);
    await s.gw.logs.waitFor((l) => l.msg === 'cache fill finished' && l.artifact === 'verify-stopped');
    expect((await verifyCache(s.cacheDir)).totals).toMatchObject({ checked: 1, ok: 1, bad: 0 });
  });

  it('altered while serve runs: serve alone hands out the bad bytes; after verify it fetches them again', async () => {
    const { link, expected, artifactId } = await fillOne('verify-running');
    await alterOneByte(s.cacheDir);
    // Same size: the check on open cannot see it (why `cache verify` exists).
    const bad = await download(link);
    expect(bad.status).toBe(200);
    expect(sha256(bad.body)).not.toBe(expected);
    expect(fullDownloads(artifactId)).toBe(1);

    const result = await verifyCache(s.cacheDir);
    expect(result.totals).toMatchObject({ checked: 1, bad: 1, quarantined: 1 });

    const good = await download(link);
    expect(good.status).toBe(200);
    expect(sha256(good.body)).toBe(expected);
    expect(fullDownloads(artifactId)).toBe(2);
  });
});
