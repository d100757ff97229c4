import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { runCommand } from '@oclif/test';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cacheKeyFor } from '../../src/core/artifacts/cache-key.js';
import type { ArtifactEntry, ArtifactWriter } from '../../src/core/cache/artifact-store.js';
import { formatByteSize, parseByteSize } from '../../src/core/cache/byte-size.js';
import type { CacheInspection } from '../../src/core/cache/cache-inspect.js';
import type { PruneResult } from '../../src/core/cache/cache-prune.js';
import { DiskArtifactStore } from '../../src/core/cache/disk-artifact-store.js';
import { IN_USE_DIR } from '../../src/core/cache/entry-pins.js';
import { formatEntryAge, parseEntryAge } from '../../src/core/cache/entry-age.js';
import { ENV_OVERRIDES } from '../../src/core/config/env-overrides.js';

/**
 * `mender-gw cache ls` and `cache prune` through oclif, on cache directories populated the
 * way `serve` populates them: real artifacts written by `mender-artifact`, stored with
 * `DiskArtifactStore.beginWrite()/commit()`, usage recorded in the metadata, a download in
 * progress by a live process, entries pinned by a live process, and the debris a crash
 * leaves. oclif loads the compiled commands from dist/, so `npm run build` must have run
 * (npm test does); the manifest is ignored so a stale one cannot hide them (docs/decisions.md §14).
 */

const execFileAsync = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const LOAD = { root: ROOT, ignoreManifest: true };
const MENDER_ARTIFACT = '/usr/bin/mender-artifact';
const DEAD_PID = 2 ** 22 + 1; // above PID_MAX_LIMIT: never a live process
const HOUR = 60 * 60 * 1000;
const DAY = 24 * HOUR;

interface Fixture {
  file: string;
  bytes: Buffer;
}

/** Artifacts built once; each test gets its own cache directory holding them. */
const fixtures: Record<'a' | 'b' | 'c' | 'd' | 'e', Fixture> = {} as never;
let root: string;
const openWriters: ArtifactWriter[] = [];

const ENV_NAMES = ENV_OVERRIDES.flatMap((e) => [e.env, ...(e.aliases ?? []).map((a) => a.env)]);
const savedEnv = new Map<string, string | undefined>();

async function buildArtifact(
  name: string,
  deviceTypes: string[],
  compression: string[],
  payloadBytes: number,
): Promise<Fixture> {
  const payload = join(root, `${name}.payload`);
  await writeFile(payload, randomBytes(payloadBytes));
  const file = join(root, `${name}.mender`);
  await execFileAsync(MENDER_ARTIFACT, [
    'write',
    'module-image',
    '-T',
    'mgw-test',
    '-n',
    name,
    ...deviceTypes.flatMap((t) => ['-t', t]),
    '-f',
    payload,
    ...compression,
    '-o',
    file,
  ]);
  return { file, bytes: await readFile(file) };
}

const keyOf = (id: string): string =>
  cacheKeyFor(new URL(`https://s3.example.test/mender-artifacts/tenant/${id}`));

interface Cache {
  dir: string;
  keys: { a: string; b: string; c: string; d: string; e: string };
  size: (id: 'a' | 'b' | 'c' | 'd') => number;
  debrisFiles: string[];
  keptFiles: string[];
  fill: ArtifactWriter;
}

/**
 * A cache as serve leaves it:
 *   a  release-a  gzip header, metadata name differs   last access 60 d ago, 12 hits
 *   b  release-b  uncompressed header                  1 h ago, 3 hits
 *   c  release-c  xz header (name from metadata)       45 d ago, 1 hit
 *   d  release-d  gzip header                          10 d ago, 0 hits
 *   e  release-e  download in progress by this (live) process, first 8 KiB written
 * plus debris: a partial of a dead process, metadata without bytes, bytes without
 * metadata, a stale metadata temporary; and files that are not debris: a fresh metadata
 * temporary, lost+found, an operator's note.
 */
async function populate(): Promise<Cache> {
  const dir = join(await mkdtemp(join(root, 'cache-')), 'artifacts');
  const store = new DiskArtifactStore(dir);
  await store.open();
  const now = Date.now();
  const usage = {
    a: { name: 'deployment name of a', age: 60 * DAY, hits: 12 },
    b: { name: 'release-b', age: HOUR, hits: 3 },
    c: { name: 'release-c', age: 45 * DAY, hits: 1 },
    d: { name: 'release-d', age: 10 * DAY, hits: 0 },
  } as const;
  const keys = { a: keyOf('a'), b: keyOf('b'), c: keyOf('c'), d: keyOf('d'), e: keyOf('e') };
  for (const id of ['a', 'b', 'c', 'd'] as const) {
    const { bytes } = fixtures[id];
    const writer = await store.beginWrite(keys[id]);
    await writer.write(bytes);
    const entry = await writer.commit({
      key: keys[id],
      origin: `https://s3.example.test/mender-artifacts/tenant/${id}`,
      artifactId: `artifact-${id}`,
      artifactName: usage[id].name,
      size: bytes.length,
      etag: `"${id}"`,
      lastModified: undefined,
      contentType: 'application/vnd.mender-artifact',
    });
    // What serve's recordAccess() persists after devices downloaded the artifact.
    const used: ArtifactEntry = {
      ...entry,
      createdAt: new Date(now - usage[id].age - HOUR).toISOString(),
      lastAccessAt: new Date(now - usage[id].age).toISOString(),
      hits: usage[id].hits,
      bytesServed: usage[id].hits * bytes.length,
    };
    await writeFile(join(dir, `${keys[id]}.json`), `${JSON.stringify(used, null, 2)}\n`);
  }

  const fill = await store.beginWrite(keys.e);
  openWriters.push(fill);
  await fill.write(fixtures.e.bytes.subarray(0, 8192));

  const gone = keyOf('gone');
  const orphanMeta = keyOf('orphan-meta');
  const orphanBytes = keyOf('orphan-bytes');
  const debrisFiles = [
    `${gone}.${DEAD_PID}.0a1b2c.partial`,
    `${orphanMeta}.json`,
    `${orphanBytes}.mender`,
    `${keys.b}.json.0123abcd.tmp`,
  ].sort();
  await writeFile(
    join(
      dir,
      debrisFiles.find((f) => f.endsWith('.partial'))!,
    ),
    randomBytes(5000),
  );
  const meta = JSON.parse(await readFile(join(dir, `${keys.d}.json`), 'utf8')) as ArtifactEntry;
  await writeFile(join(dir, `${orphanMeta}.json`), JSON.stringify({ ...meta, key: orphanMeta }));
  await writeFile(join(dir, `${orphanBytes}.mender`), randomBytes(3000));
  const staleTemp = join(dir, `${keys.b}.json.0123abcd.tmp`);
  await writeFile(staleTemp, '{"half": ');
  const old = new Date(now - DAY);
  await utimes(staleTemp, old, old);

  const keptFiles = [`${keys.d}.json.89abcdef.tmp`, 'lost+found', 'NOTES.txt'];
  await writeFile(join(dir, keptFiles[0]!), '{"being": "written"}');
  await mkdir(join(dir, 'lost+found'));
  await writeFile(join(dir, 'NOTES.txt'), 'the operator keeps notes here\n');

  return {
    dir,
    keys,
    size: (id) => fixtures[id].bytes.length,
    debrisFiles,
    keptFiles,
    fill,
  };
}

async function files(dir: string): Promise<string[]> {
  return (await readdir(dir)).sort();
}

async function debrisBytes(cache: Cache): Promise<number> {
  const sizes = await Promise.all(cache.debrisFiles.map(async (f) => (await stat(join(cache.dir, f))).size));
  return sizes.reduce((a, b) => a + b, 0);
}

async function pin(cache: Cache, key: string, pid = process.pid): Promise<void> {
  await mkdir(join(cache.dir, IN_USE_DIR), { recursive: true });
  await writeFile(join(cache.dir, IN_USE_DIR, `${key}.${pid}`), '');
}

let savedColumns: string | undefined;

beforeAll(async () => {
  // Wide enough for every column in full; fitting narrow terminals is cache-tables.test.ts's.
  savedColumns = process.env.COLUMNS;
  process.env.COLUMNS = '200';
  if (!existsSync(join(ROOT, 'dist/commands/cache/prune.js'))) {
    throw new Error('dist/ is missing or stale: run `npm run build` before these tests (npm test does)');
  }
  if (!existsSync(MENDER_ARTIFACT)) throw new Error(`${MENDER_ARTIFACT} is required for these tests`);
  root = await mkdtemp(join(tmpdir(), 'mgw-cache-cmd-'));
  fixtures.a = await buildArtifact('release-a', ['raspberrypi4', 'raspberrypi5'], [], 96 * 1024);
  fixtures.b = await buildArtifact('release-b', ['qemux86-64'], ['--compression', 'none'], 64 * 1024);
  fixtures.c = await buildArtifact('release-c', ['raspberrypi4'], ['--compression', 'lzma'], 32 * 1024);
  fixtures.d = await buildArtifact('release-d', ['raspberrypi4'], [], 48 * 1024);
  fixtures.e = await buildArtifact('release-e', ['raspberrypi5'], [], 128 * 1024);
  for (const name of ENV_NAMES) {
    savedEnv.set(name, process.env[name]);
    // eslint-disable-next-line @typescript-eslint/no-dynamic-delete -- a clean environment for --config
    delete process.env[name];
  }
});
afterAll(async () => {
  for (const [name, value] of savedEnv) if (value !== undefined) process.env[name] = value;
  if (savedColumns === undefined) delete process.env.COLUMNS;
  else process.env.COLUMNS = savedColumns;
  await Promise.all(openWriters.map((w) => w.abort()));
  await rm(root, { recursive: true, force: true });
});
afterEach(() => {
  // oclif's error path sets process.exitCode; it must not leak into the test runner.
  process.exitCode = undefined;
});

describe('mender-gw cache ls', () => {
  it('prints a table of entries and the download in progress, totals and free space; changes nothing', async () => {
    const cache = await populate();
    await pin(cache, cache.keys.b);
    const before = await files(cache.dir);
    const { stdout, stderr, error } = await runCommand(['cache', 'ls', '--path', cache.dir], LOAD);
    expect(error).toBeUndefined();
    expect(stderr).toBe('');
    const lines = stdout.split('\n');
    const row = (text: string): string => {
      const found = lines.find((line) => line.includes(text));
      expect(found, `a row with ${text}`).toBeDefined();
      return found!;
    };
    expect(row('Artifact')).toMatch(/Artifact.*Device types.*Size.*Status.*Accessed.*Hits.*Served.*Key/);
    expect(row('release-a')).toMatch(
      new RegExp(
        `release-a .*raspberrypi4, raspberrypi5 .*${formatByteSize(cache.size('a'))} .*complete .* 60d ago .* 12 .*${cache.keys.a.slice(0, 12)}`,
      ),
    );
    expect(row('release-b')).toMatch(/qemux86-64 .*complete, in use .* 1h ago .* 3 /);
    // xz header: the name comes from the metadata, the device types are unknown.
    expect(row('release-c')).toMatch(/release-c .*unknown \(compressed header: xz\)/);
    expect(row('release-e')).toMatch(
      new RegExp(`release-e .*raspberrypi5 .*8\\.0 KiB so far .*filling \\(pid ${process.pid}\\)`),
    );
    const total = cache.size('a') + cache.size('b') + cache.size('c') + cache.size('d');
    expect(row('Total:')).toBe(`Total: 4 entries, ${formatByteSize(total)}`);
    expect(row('in progress')).toBe('  1 download in progress, 8.0 KiB so far');
    expect(row('debris')).toBe(
      `  4 debris files, ${formatByteSize(await debrisBytes(cache))} (cache prune removes them)`,
    );
    expect(row('Volume:')).toMatch(
      new RegExp(`^Volume: [\\d.]+ [KMGT]iB free of [\\d.]+ [KMGT]iB \\(${cache.dir}\\)$`),
    );
    expect(await files(cache.dir)).toEqual(before);
  });

  it('--json: the typed inspection', async () => {
    const cache = await populate();
    const { result, stdout, error } = await runCommand<CacheInspection>(
      ['cache', 'ls', '--path', cache.dir, '--json'],
      LOAD,
    );
    expect(error).toBeUndefined();
    expect(JSON.parse(stdout)).toEqual(JSON.parse(JSON.stringify(result)));
    const inspection = result!;
    expect(inspection.dir).toBe(cache.dir);
    // Most recently accessed first.
    expect(inspection.entries.map((e) => e.artifactName)).toEqual([
      'release-b',
      'release-d',
      'release-c',
      'release-a',
    ]);
    const byName = new Map(inspection.entries.map((e) => [e.artifactName, e]));
    expect(byName.get('release-a')).toMatchObject({
      key: cache.keys.a,
      state: 'complete',
      nameSource: 'header', // the metadata says "deployment name of a"
      deviceTypes: ['raspberrypi4', 'raspberrypi5'],
      header: { status: 'read', formatVersion: 3, compression: 'gzip', signed: false },
      size: cache.size('a'),
      hits: 12,
      bytesServed: 12 * cache.size('a'),
      inUse: false,
      artifactId: 'artifact-a',
      origin: 'https://s3.example.test/mender-artifacts/tenant/a',
    });
    expect(byName.get('release-b')).toMatchObject({ header: { status: 'read', compression: 'none' } });
    expect(byName.get('release-c')).toMatchObject({
      nameSource: 'metadata',
      header: { status: 'compressed', compression: 'xz' },
    });
    expect(byName.get('release-c')?.deviceTypes).toBeUndefined();
    expect(inspection.fills).toEqual([
      expect.objectContaining({
        key: cache.keys.e,
        state: 'filling',
        pid: process.pid,
        bytesOnDisk: 8192,
        artifactName: 'release-e',
        deviceTypes: ['raspberrypi5'],
      }),
    ]);
    expect(inspection.debris.map((d) => [d.file, d.kind])).toEqual(
      [
        [cache.debrisFiles.find((f) => f.endsWith('.partial')), 'dead-fill'],
        [`${keyOf('orphan-meta')}.json`, 'metadata-without-bytes'],
        [`${keyOf('orphan-bytes')}.mender`, 'bytes-without-metadata'],
        [`${cache.keys.b}.json.0123abcd.tmp`, 'stale-temp'],
      ].sort((x, y) => String(x[0]).localeCompare(String(y[0]))),
    );
    expect(inspection.totals).toMatchObject({
      entries: 4,
      bytes: cache.size('a') + cache.size('b') + cache.size('c') + cache.size('d'),
      fills: 1,
      fillBytes: 8192,
      debrisFiles: 4,
    });
    expect(inspection.volume.freeBytes).toBeGreaterThan(0);
    expect(inspection.volume.totalBytes).toBeGreaterThanOrEqual(inspection.volume.freeBytes);
  });

  it('--config: ArtifactsCache.Path of the configuration, relative to the file', async () => {
    const cache = await populate();
    const conf = join(cache.dir, '..', 'mender-gateway.conf');
    await writeFile(
      conf,
      JSON.stringify({
        HTTP: { Enabled: true, Listen: '127.0.0.1:8080' },
        HTTPS: { Enabled: false },
        UpstreamServer: { URL: 'https://hosted.mender.io' },
        Features: {
          ArtifactsProxy: {
            Enabled: true,
            GatewayURL: 'http://127.0.0.1:8080',
            DomainWhitelist: ['s3.example.test'],
            ArtifactsCache: {
              Enabled: true,
              Path: 'artifacts',
              SignatureSecret: randomBytes(32).toString('base64'),
            },
          },
        },
      }),
    );
    const { result, error, stderr } = await runCommand<CacheInspection>(
      ['cache', 'ls', '--config', conf, '--json'],
      LOAD,
    );
    expect(error).toBeUndefined();
    expect(stderr).toBe('');
    expect(result?.dir).toBe(cache.dir);
    expect(result?.totals.entries).toBe(4);
  });

  it('--config that serve would refuse for another reason still finds the cache, with a warning', async () => {
    const cache = await populate();
    const conf = join(cache.dir, '..', 'broken-gateway.conf');
    const write = (path: unknown): Promise<void> =>
      writeFile(
        conf,
        JSON.stringify({
          // HTTPS on without its certificate and key: serve refuses this configuration.
          HTTPS: { Enabled: true, Listen: ':443' },
          UpstreamServer: { URL: 'https://hosted.mender.io' },
          Features: {
            ArtifactsProxy: {
              Enabled: true,
              DomainWhitelist: ['s3.example.test'],
              ArtifactsCache: { Enabled: true, Path: path },
            },
          },
        }),
      );
    await write('artifacts');
    const { result, error } = await runCommand<CacheInspection>(
      ['cache', 'ls', '--config', conf, '--json'],
      LOAD,
    );
    expect(error).toBeUndefined();
    expect(result?.dir).toBe(cache.dir);
    expect(result?.totals.entries).toBe(4);
    const { stderr } = await runCommand(['cache', 'ls', '--config', conf], LOAD);
    expect(stderr).toMatch(
      /broken-gateway\.conf has \d+ error\(s\), so serve would refuse it \(mender-gw config validate lists them\); its cache path was used anyway/,
    );

    // When the cache path itself is what is wrong, there is nothing to go on.
    await write(42);
    const refused = await runCommand(['cache', 'ls', '--config', conf], LOAD);
    expect(refused.error?.oclif?.exit).toBe(1);
    expect(refused.stderr).toMatch(/^MGW_CONFIG_INVALID: /);
    expect(refused.stderr).toMatch(/or name the cache directory itself with --path/);
  });

  it('a missing cache directory: MGW_CACHE_NOT_FOUND with a hint, exit 1', async () => {
    const missing = join(root, 'no-such-cache');
    const { stderr, stdout, error } = await runCommand(['cache', 'ls', '--path', missing], LOAD);
    expect(error?.oclif?.exit).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toContain(`MGW_CACHE_NOT_FOUND: artifact cache directory ${missing} does not exist\n`);
    expect(stderr).toMatch(/^hint: check --path, or Features\.ArtifactsProxy\.ArtifactsCache\.Path/m);

    const json = await runCommand(['cache', 'ls', '--path', missing, '--json'], LOAD);
    expect(JSON.parse(json.stdout)).toMatchObject({ error: { code: 'MGW_CACHE_NOT_FOUND' } });
  });
});

describe('mender-gw cache prune', () => {
  it('--older-than --dry-run: reports the plan, removes nothing', async () => {
    const cache = await populate();
    const before = await files(cache.dir);
    const { result, error } = await runCommand<PruneResult>(
      ['cache', 'prune', '--path', cache.dir, '--older-than', '30d', '--dry-run', '--json'],
      LOAD,
    );
    expect(error).toBeUndefined();
    expect(await files(cache.dir)).toEqual(before);
    expect(result?.dryRun).toBe(true);
    // Least recently accessed first.
    expect(result?.removed.map((r) => [r.artifactName, r.reason])).toEqual([
      ['release-a', 'older-than'],
      ['release-c', 'older-than'],
    ]);
    expect(result?.debris.map((d) => d.file)).toEqual(cache.debrisFiles);
    expect(result?.remaining).toEqual({ entries: 2, bytes: cache.size('b') + cache.size('d') });

    const text = await runCommand(
      ['cache', 'prune', '-p', cache.dir, '--older-than', '720h', '--dry-run'],
      LOAD,
    );
    // A dry run lists every item on stdout; the summary is on stderr.
    expect(text.stdout).toMatch(
      /^would remove release-a \(.*last access 60d ago, 12 hits.*\): not accessed for more than 720h$/m,
    );
    expect(text.stdout).toMatch(
      /^would remove debris .*\.partial \(4\.9 KiB\): download interrupted: process \d+ is gone$/m,
    );
    expect(text.stderr).toMatch(
      /^would remove 2 entries, 4 debris files: would free .*; 2 entries \(.*\) would remain in \d+\.\d s$/m,
    );
    expect(await files(cache.dir)).toEqual(before);
  });

  it('--older-than: removes old entries and debris; keeps recent entries, live downloads and foreign files', async () => {
    const cache = await populate();
    const debris = await debrisBytes(cache);
    const { result, stdout, stderr, error } = await runCommand<PruneResult>(
      ['cache', 'prune', '--path', cache.dir, '--older-than', '30d', '--verbose'],
      LOAD,
    );
    expect(error).toBeUndefined();
    expect(stdout).toMatch(/^removed release-a .*: not accessed for more than 30d$/m);
    expect(stdout).toMatch(/^removed release-c .*: not accessed for more than 30d$/m);
    expect(stderr).toMatch(/^removed 2 entries, 4 debris files: freed .*; 2 entries \(.*\) remain in /m);
    expect(stderr).toMatch(/^1 download in progress left alone\.$/m);
    expect(result?.freedBytes).toBe(cache.size('a') + cache.size('c') + debris);

    const left = await files(cache.dir);
    for (const id of ['a', 'c'] as const) {
      expect(left).not.toContain(`${cache.keys[id]}.json`);
      expect(left).not.toContain(`${cache.keys[id]}.mender`);
    }
    for (const id of ['b', 'd'] as const) {
      expect(left).toContain(`${cache.keys[id]}.json`);
      expect(left).toContain(`${cache.keys[id]}.mender`);
    }
    for (const file of cache.debrisFiles) expect(left).not.toContain(file);
    for (const file of cache.keptFiles) expect(left).toContain(file);
    expect(left.filter((f) => f.startsWith(`${cache.keys.e}.${process.pid}.`))).toHaveLength(1);

    const after = await runCommand<CacheInspection>(['cache', 'ls', '--path', cache.dir, '--json'], LOAD);
    expect(after.result?.entries.map((e) => e.artifactName)).toEqual(['release-b', 'release-d']);
    expect(after.result?.debris).toEqual([]);
  });

  it('--max-size: least recently accessed first until the cache fits', async () => {
    const cache = await populate();
    const limit = cache.size('b') + cache.size('d') + 100;
    const { result, error } = await runCommand<PruneResult>(
      ['cache', 'prune', '--path', cache.dir, '--max-size', String(limit), '--json'],
      LOAD,
    );
    expect(error).toBeUndefined();
    expect(result?.removed.map((r) => [r.artifactName, r.reason])).toEqual([
      ['release-a', 'max-size'],
      ['release-c', 'max-size'],
    ]);
    expect(result?.remaining.bytes).toBeLessThanOrEqual(limit);
    expect(result?.maxSizeMet).toBe(true);

    // A unit: 1 KiB leaves nothing but what is in use.
    await pin(cache, cache.keys.d);
    const tight = await runCommand(
      ['cache', 'prune', '--path', cache.dir, '--max-size', '1KiB', '--verbose'],
      LOAD,
    );
    expect(tight.error).toBeUndefined();
    expect(tight.stdout).toMatch(
      /^removed release-b .*: least recently accessed while the cache exceeds 1KiB$/m,
    );
    expect(tight.stdout).toMatch(/^skipped release-d .*: in use by a running serve$/m);
    expect(tight.stderr).toMatch(/; 1 entry in use skipped in \d+\.\d s$/m);
    expect(tight.stderr).toMatch(
      /^The cache still exceeds --max-size 1KiB because entries in use were skipped/m,
    );
    expect(await files(cache.dir)).toContain(`${cache.keys.d}.mender`);
  });

  it('--all: skips an entry pinned by a live serve, removes the rest', async () => {
    const cache = await populate();
    await pin(cache, cache.keys.a);
    await pin(cache, cache.keys.c, DEAD_PID); // a marker left by a crashed serve pins nothing
    const { result, stdout, error } = await runCommand<PruneResult>(
      ['cache', 'prune', '--path', cache.dir, '--all', '--yes', '--json'],
      LOAD,
    );
    expect(error).toBeUndefined();
    expect(result?.skipped).toEqual([
      expect.objectContaining({ key: cache.keys.a, artifactName: 'release-a', reason: 'in-use' }),
    ]);
    expect(result?.removed.map((r) => r.artifactName).sort()).toEqual([
      'release-b',
      'release-c',
      'release-d',
    ]);
    expect(result?.remaining).toEqual({ entries: 1, bytes: cache.size('a') });
    expect(JSON.parse(stdout)).toEqual(JSON.parse(JSON.stringify(result)));
    const left = await files(cache.dir);
    expect(left).toContain(`${cache.keys.a}.json`);
    expect(left).toContain(`${cache.keys.a}.mender`);
    expect(await readdir(join(cache.dir, IN_USE_DIR))).toEqual([`${cache.keys.a}.${process.pid}`]);
  });

  it('is safe next to a running serve: an open download keeps reading, a later request is a miss', async () => {
    const cache = await populate();
    const serving = new DiskArtifactStore(cache.dir);
    await serving.open();
    const opened = await serving.openReader(cache.keys.b);
    expect(opened).toBeDefined();
    const { error } = await runCommand(['cache', 'prune', '--path', cache.dir, '--all', '--yes'], LOAD);
    expect(error).toBeUndefined();
    expect(existsSync(join(cache.dir, `${cache.keys.b}.mender`))).toBe(false);
    const buffer = Buffer.alloc(cache.size('b'));
    let position = 0;
    while (position < buffer.length) {
      const n = await opened!.reader.read(buffer, position, buffer.length - position, position);
      if (n === 0) break;
      position += n;
    }
    await opened!.reader.close();
    expect(buffer.equals(fixtures.b.bytes)).toBe(true);
    expect(await serving.openReader(cache.keys.b)).toBeUndefined();
    await serving.close();
  });

  it('removes only debris when no entry is selected', async () => {
    const cache = await populate();
    const { result, stdout } = await runCommand<PruneResult>(
      ['cache', 'prune', '--path', cache.dir, '--older-than', '3650d', '--verbose'],
      LOAD,
    );
    expect(result?.removed).toEqual([]);
    expect(result?.debris.map((d) => d.kind).sort()).toEqual([
      'bytes-without-metadata',
      'dead-fill',
      'metadata-without-bytes',
      'stale-temp',
    ]);
    expect(stdout).toMatch(/^removed debris .*\.mender \(2\.9 KiB\): no metadata/m);
    const left = await files(cache.dir);
    for (const file of cache.debrisFiles) expect(left).not.toContain(file);
    for (const file of cache.keptFiles) expect(left).toContain(file);
    expect(result?.remaining.entries).toBe(4);
  });

  describe('bad input', () => {
    it('no selector: exit 2 naming the flags', async () => {
      const cache = await populate();
      const { stderr, error } = await runCommand(['cache', 'prune', '--path', cache.dir], LOAD);
      expect(error?.oclif?.exit).toBe(2);
      expect(stderr).toContain(
        'MGW_CACHE_INVALID_INPUT: nothing selected to prune: give --older-than, --max-size, --all or --quarantine',
      );
      process.exitCode = undefined;
      const json = await runCommand(['cache', 'prune', '--path', cache.dir, '--json'], LOAD);
      expect(JSON.parse(json.stdout)).toMatchObject({ error: { code: 'MGW_CACHE_INVALID_INPUT' } });
      expect(json.error?.oclif?.exit).toBe(2);
    });

    it.each([
      [['--max-size', '10XB'], '--max-size: invalid size "10XB": unknown unit "XB"'],
      [['--max-size', '-5G'], '--max-size: invalid size "-5G": a size cannot be negative'],
      [['--older-than', '1y'], '--older-than: invalid duration "1y": unknown unit "y"'],
      [['--older-than', '30'], '--older-than: invalid duration "30": missing unit'],
    ])('%j: exit 2 with the reason', async (args, message) => {
      const cache = await populate();
      const { stderr, error } = await runCommand(['cache', 'prune', '--path', cache.dir, ...args], LOAD);
      expect(error?.oclif?.exit).toBe(2);
      expect(stderr).toContain(`MGW_CACHE_INVALID_INPUT: ${message}`);
      expect(stderr).toMatch(/^hint: for example --/m);
    });

    it.each([
      [['--all', '--older-than', '1d'], /--older-than=1d cannot also be provided when using --all/],
      [['--config', 'x.conf', '--path', '/tmp'], /cannot also be provided when using/],
      [['--older-than', '1d', '--bogus'], /Nonexistent flag: --bogus/],
    ])('%j: usage error, exit 2', async (args, pattern) => {
      const { error, stderr } = await runCommand(['cache', 'prune', ...args], LOAD);
      expect(error?.oclif?.exit).toBe(2);
      expect(stderr).toMatch(/^MGW_USAGE: /);
      expect(stderr).toMatch(pattern);
    });
  });
});

describe('size and age syntax', () => {
  it.each([
    ['1048576', 1048576],
    ['500M', 500 * 1024 ** 2],
    ['500MiB', 500 * 1024 ** 2],
    ['500MB', 500e6],
    ['10GiB', 10 * 1024 ** 3],
    ['1.5G', 1.5 * 1024 ** 3],
    ['2tb', 2e12],
    ['512 B', 512],
    ['64k', 65536],
  ])('parseByteSize(%j) = %d', (text, bytes) => {
    expect(parseByteSize(text)).toBe(bytes);
  });

  it.each([
    ['', /empty/],
    ['G', /expected a number/],
    ['1.5', /whole number/],
    ['10 XB', /unknown unit "XB"/],
    ['1e3', /expected a number and an optional unit/],
    ['99999999999999T', /too large/],
  ])('parseByteSize(%j) fails: %s', (text, pattern) => {
    expect(() => parseByteSize(text)).toThrow(pattern);
  });

  it.each([
    ['30d', 30 * DAY],
    ['1.5d', 36 * HOUR],
    ['720h', 30 * DAY],
    ['1h30m', 90 * 60 * 1000],
    ['0', 0],
  ])('parseEntryAge(%j) = %d ms', (text, ms) => {
    expect(parseEntryAge(text)).toBe(ms);
  });

  it.each([
    ['1d12h', /unknown unit "d"/],
    ['-1h', /cannot be negative/],
    ['2w', /unknown unit "w"/],
  ])('parseEntryAge(%j) fails', (text, pattern) => {
    expect(() => parseEntryAge(text)).toThrow(pattern);
  });

  it('formats sizes and ages for tables', () => {
    expect([0, 1023, 1536, 10 * 1024 ** 3, 1024 ** 2 - 1].map(formatByteSize)).toEqual([
      '0 B',
      '1023 B',
      '1.5 KiB',
      '10.0 GiB',
      '1.0 MiB',
    ]);
    expect([30_000, 5 * 60_000, 3 * HOUR + 60_000, 2 * DAY, 60 * DAY + 5 * HOUR].map(formatEntryAge)).toEqual(
      ['30s', '5m', '3h 1m', '2d', '60d 5h'],
    );
  });
});
