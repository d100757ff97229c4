import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCommand } from '@oclif/test';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cacheKeyFor } from '../../src/core/artifacts/cache-key.js';
import type { CacheInspection } from '../../src/core/cache/cache-inspect.js';
import type { PruneResult } from '../../src/core/cache/cache-prune.js';
import { QUARANTINE_DIR } from '../../src/core/cache/cache-verify.js';
import type { VerifyResult } from '../../src/core/cache/cache-verify.js';
import { DiskArtifactStore } from '../../src/core/cache/disk-artifact-store.js';
import { ENV_OVERRIDES } from '../../src/core/config/env-overrides.js';

/**
 * `mender-gw cache verify` through oclif, on cache directories written the
 * way `serve` writes them (`DiskArtifactStore.beginWrite()/commit()`), then damaged. oclif
 * loads the compiled commands from dist/, so `npm run build` must have run (npm test does);
 * the manifest is ignored so a stale one cannot hide the command (docs/decisions.md §14).
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const LOAD = { root: ROOT, ignoreManifest: true };

const ENV_NAMES = ENV_OVERRIDES.flatMap((e) => [e.env, ...(e.aliases ?? []).map((a) => a.env)]);
const savedEnv = new Map<string, string | undefined>();
let root: string;
let savedColumns: string | undefined;

const keyOf = (id: string): string =>
  cacheKeyFor(new URL(`https://s3.example.test/mender-artifacts/tenant/${id}`));

interface Cache {
  dir: string;
  key: (id: string) => string;
  bytes: Record<string, Buffer>;
}

/** Entries release-a, release-b, release-c, complete and intact, written as serve does. */
async function populate(ids = ['a', 'b', 'c']): Promise<Cache> {
  const dir = join(await mkdtemp(join(root, 'cache-')), 'artifacts');
  const store = new DiskArtifactStore(dir);
  await store.open();
  const bytes: Record<string, Buffer> = {};
  for (const id of ids) {
    bytes[id] = randomBytes(64 * 1024);
    const writer = await store.beginWrite(keyOf(id));
    await writer.write(bytes[id]);
    await writer.commit({
      key: keyOf(id),
      origin: `https://s3.example.test/mender-artifacts/tenant/${id}`,
      artifactId: `artifact-${id}`,
      artifactName: `release-${id}`,
      size: bytes[id].length,
      etag: `"${id}"`,
      lastModified: undefined,
      contentType: 'application/vnd.mender-artifact',
    });
  }
  await store.close();
  return { dir, key: keyOf, bytes };
}

const dataPath = (cache: Cache, id: string): string => join(cache.dir, `${keyOf(id)}.mender`);

async function flipByte(path: string, offset: number): Promise<void> {
  const bytes = await readFile(path);
  bytes[offset] = bytes[offset]! ^ 0xff;
  await writeFile(path, bytes);
}

beforeAll(async () => {
  if (!existsSync(join(ROOT, 'dist/commands/cache/verify.js'))) {
    throw new Error('dist/ is missing or stale: run `npm run build` before these tests (npm test does)');
  }
  root = await mkdtemp(join(tmpdir(), 'mgw-cache-verify-cmd-'));
  // Wide enough for every column in full; fitting narrow terminals is cache-tables.test.ts's.
  savedColumns = process.env.COLUMNS;
  process.env.COLUMNS = '200';
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
  await rm(root, { recursive: true, force: true });
});
afterEach(() => {
  // oclif's error path sets process.exitCode; it must not leak into the test runner.
  process.exitCode = undefined;
});

describe('mender-gw cache verify', () => {
  it('an intact cache: no table, a summary line on stderr; --verbose: every entry; exit 0, nothing moved', async () => {
    const cache = await populate();
    const before = (await readdir(cache.dir)).sort();
    const quiet = await runCommand(['cache', 'verify', '--path', cache.dir], LOAD);
    expect(quiet.error).toBeUndefined();
    expect(quiet.stdout).toBe('');
    expect(quiet.stderr).toMatch(/^verified 3 entries \(192\.0 KiB\) in \d+\.\d s: all ok\n$/);
    const { stdout, stderr, error } = await runCommand(
      ['cache', 'verify', '--path', cache.dir, '--verbose'],
      LOAD,
    );
    expect(error).toBeUndefined();
    expect(stderr).toMatch(/^verified 3 entries /);
    for (const id of ['a', 'b', 'c']) {
      expect(stdout).toMatch(
        new RegExp(`│ release-${id} +│ +64\\.0 KiB │ ok +│ +│ +│ ${keyOf(id).slice(0, 12)} │`),
      );
    }
    expect((await readdir(cache.dir)).sort()).toEqual(before);
  });

  it('bad entries: quarantined, reported in the table and the summary, exit 1', async () => {
    const cache = await populate();
    await flipByte(dataPath(cache, 'b'), 1000);
    await truncate(dataPath(cache, 'c'), 100);
    const { stdout, stderr, error } = await runCommand(['cache', 'verify', '--path', cache.dir], LOAD);
    expect(error?.oclif?.exit).toBe(1);
    expect(stdout).not.toMatch(/release-a/); // only problems without --verbose
    expect(stdout).toMatch(
      new RegExp(
        `│ release-b +│ +64\\.0 KiB │ hash mismatch +│ SHA-256 [0-9a-f]{12}… on disk, [0-9a-f]{12}… recorded │ quarantined +│ ${keyOf('b').slice(0, 12)} │`,
      ),
    );
    expect(stdout).toMatch(
      /│ release-c +│ +64\.0 KiB │ size mismatch +│ 100 bytes on disk, 65536 recorded +│ quarantined +│/,
    );
    expect(stderr).toMatch(/^verified 3 entries \(128\.0 KiB\) in \d+\.\d s: 1 ok, 2 quarantined$/m);
    expect(stderr).toContain(
      `Quarantined 2 entries in ${join(cache.dir, QUARANTINE_DIR)}; serve downloads them again when a device asks.`,
    );
    const folders = (await readdir(join(cache.dir, QUARANTINE_DIR))).sort();
    expect(folders.map((f) => f.slice(0, 64)).sort()).toEqual([keyOf('b'), keyOf('c')].sort());
    expect(folders.every((f) => /^[0-9a-f]{64}\.\d{8}T\d{6}\.\d{3}Z$/.test(f))).toBe(true);
    expect(await readdir(cache.dir)).not.toContain(`${keyOf('b')}.mender`);

    // ls lists the quarantine apart from the entries, and prune --all leaves it alone.
    const ls = await runCommand<CacheInspection>(['cache', 'ls', '--path', cache.dir, '--json'], LOAD);
    expect(ls.result?.entries.map((e) => e.key)).toEqual([keyOf('a')]);
    expect(ls.result?.quarantined.map((q) => [q.key, q.status]).sort()).toEqual(
      [
        [keyOf('b'), 'hash-mismatch'],
        [keyOf('c'), 'size-mismatch'],
      ].sort(),
    );
    expect(ls.result?.debris).toEqual([]);
    const prune = await runCommand<PruneResult>(
      ['cache', 'prune', '--path', cache.dir, '--all', '--yes', '--json'],
      LOAD,
    );
    expect(prune.result?.removed.map((e) => e.key)).toEqual([keyOf('a')]);
    expect(prune.result?.debris).toEqual([]);
    expect((await readdir(join(cache.dir, QUARANTINE_DIR))).sort()).toEqual(folders);

    // Verified again: clean.
    const again = await runCommand(['cache', 'verify', '--path', cache.dir], LOAD);
    expect(again.error).toBeUndefined();
    expect(again.stderr).toMatch(/^No cached artifacts in .*\.$/m);
  });

  it('--dry-run and --no-quarantine: the same verdict, nothing moved, still exit 1', async () => {
    const cache = await populate(['a', 'b']);
    await flipByte(dataPath(cache, 'a'), 0);
    const before = (await readdir(cache.dir)).sort();
    const dry = await runCommand(['cache', 'verify', '-p', cache.dir, '--dry-run'], LOAD);
    expect(dry.error?.oclif?.exit).toBe(1);
    expect(dry.stdout).toMatch(/│ release-a .*│ hash mismatch .*│ would quarantine +│/);
    expect(dry.stderr).toMatch(/^1 bad entry left in place \(run without --dry-run to quarantine\)\.$/m);
    const report = await runCommand(['cache', 'verify', '-p', cache.dir, '--no-quarantine'], LOAD);
    expect(report.error?.oclif?.exit).toBe(1);
    expect(report.stdout).toMatch(/│ release-a .*│ hash mismatch .*│ left in place +│/);
    expect(report.stderr).toMatch(
      /^1 bad entry left in place \(run without --no-quarantine to quarantine\)\.$/m,
    );
    expect((await readdir(cache.dir)).sort()).toEqual(before);
  });

  it('--json: the result document on stdout with exit 1 when bad, exit 0 when all ok', async () => {
    const cache = await populate(['a', 'b']);
    await truncate(dataPath(cache, 'a'), 0);
    const { stdout, error } = await runCommand<VerifyResult>(
      ['cache', 'verify', '--path', cache.dir, '--json'],
      LOAD,
    );
    expect(error?.oclif?.exit).toBe(1);
    const parsed = JSON.parse(stdout) as VerifyResult; // exactly one document
    expect(parsed).toMatchObject({
      dir: cache.dir,
      quarantine: true,
      selection: {},
      totals: { checked: 2, ok: 1, bad: 1, quarantined: 1 },
      fillsInProgress: 0,
      quarantineDir: join(cache.dir, QUARANTINE_DIR),
    });
    expect(parsed.entries[0]).toMatchObject({
      key: keyOf('a'),
      status: 'size-mismatch',
      action: 'quarantined',
      recordedSize: 64 * 1024,
      actualSize: 0,
      files: [`${keyOf('a')}.json`, `${keyOf('a')}.mender`],
    });
    expect(parsed.entries[0]?.quarantinedTo).toMatch(new RegExp(`^${QUARANTINE_DIR}/${keyOf('a')}\\.`));

    const ok = await runCommand<VerifyResult>(['cache', 'verify', '--path', cache.dir, '--json'], LOAD);
    expect(ok.error).toBeUndefined();
    expect(JSON.parse(ok.stdout)).toEqual(JSON.parse(JSON.stringify(ok.result)));
    expect(ok.result?.totals).toMatchObject({ checked: 1, ok: 1, bad: 0 });
  });

  it('--key and --artifact select entries', async () => {
    const cache = await populate();
    await flipByte(dataPath(cache, 'a'), 0);
    const byKey = await runCommand<VerifyResult>(
      ['cache', 'verify', '--path', cache.dir, '--key', keyOf('b').slice(0, 8), '--json'],
      LOAD,
    );
    expect(byKey.error).toBeUndefined();
    expect(byKey.result?.entries.map((e) => e.artifactName)).toEqual(['release-b']);
    const byName = await runCommand(
      ['cache', 'verify', '--path', cache.dir, '--artifact', 'release-a', '--no-quarantine'],
      LOAD,
    );
    expect(byName.error?.oclif?.exit).toBe(1);
    expect(byName.stderr).toMatch(
      /^verified 1 entry \(64\.0 KiB\) in \d+\.\d s: 0 ok, 1 bad left in place$/m,
    );
    const none = await runCommand(['cache', 'verify', '--path', cache.dir, '--artifact', 'no-such'], LOAD);
    expect(none.error).toBeUndefined();
    expect(none.stderr).toMatch(/^No cache entries match the selection in /m);
  });

  it('--config: ArtifactsCache.Path of the configuration', async () => {
    const cache = await populate(['a']);
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
    const { result, error, stderr } = await runCommand<VerifyResult>(
      ['cache', 'verify', '--config', conf, '--json'],
      LOAD,
    );
    expect(error).toBeUndefined();
    expect(stderr).toBe('');
    expect(result?.dir).toBe(cache.dir);
    expect(result?.totals.ok).toBe(1);
  });

  describe('errors', () => {
    it('a missing cache directory: MGW_CACHE_NOT_FOUND with a hint, exit 1', async () => {
      const missing = join(root, 'no-such-cache');
      const { stderr, stdout, error } = await runCommand(['cache', 'verify', '--path', missing], LOAD);
      expect(error?.oclif?.exit).toBe(1);
      expect(stdout).toBe('');
      expect(stderr).toContain(`MGW_CACHE_NOT_FOUND: artifact cache directory ${missing} does not exist\n`);
      expect(stderr).toMatch(/^hint: check --path/m);
      const json = await runCommand(['cache', 'verify', '--path', missing, '--json'], LOAD);
      expect(JSON.parse(json.stdout)).toMatchObject({ error: { code: 'MGW_CACHE_NOT_FOUND' } });
    });

    it('a malformed --key: MGW_CACHE_INVALID_INPUT, exit 2', async () => {
      const cache = await populate(['a']);
      const { stderr, error } = await runCommand(
        ['cache', 'verify', '--path', cache.dir, '--key', 'not-hex'],
        LOAD,
      );
      expect(error?.oclif?.exit).toBe(2);
      expect(stderr).toContain('MGW_CACHE_INVALID_INPUT: --key: "not-hex" is not the start of a cache key');
      expect(stderr).toMatch(/^hint: copy the Key column of `mender-gw cache ls`/m);
    });

    it.each([
      [['--config', 'x.conf', '--path', '/tmp'], /cannot also be provided when using/],
      [['--bogus'], /Nonexistent flag: --bogus/],
    ])('%j: a usage error (MGW_USAGE), exit 2', async (args, pattern) => {
      const { error, stderr } = await runCommand(['cache', 'verify', ...args], LOAD);
      expect(error?.oclif?.exit).toBe(2);
      expect(stderr).toMatch(/^MGW_USAGE: /m);
      expect(stderr).toMatch(pattern);
    });
  });
});
