import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cacheKeyFor } from '../../src/core/artifacts/cache-key.js';
import type { CacheInspection } from '../../src/core/cache/cache-inspect.js';
import { QUARANTINE_DIR } from '../../src/core/cache/cache-layout.js';
import type { PruneResult } from '../../src/core/cache/cache-prune.js';
import type { VerifyResult } from '../../src/core/cache/cache-verify.js';
import { DiskArtifactStore } from '../../src/core/cache/disk-artifact-store.js';
import { ENV_OVERRIDES } from '../../src/core/config/env-overrides.js';
import { BIN, DRAWING, ptyUnavailable, runInPty, screenLines } from '../support/pty.js';
import { skipBecause } from '../support/skip-reason.js';

/**
 * `cache ls`, `cache verify` and `cache prune` as an operator sees them, through the built
 * binary: tables that fit 80 columns (COLUMNS=80, and a real 80-column pseudo-terminal),
 * --columns, --sort, --csv, quiet and --verbose verify, the quarantine in ls and in
 * prune --quarantine, confirmation of prune --all, and progress drawn on a terminal only
 * (docs/cache.md, "Tables, columns and CSV" and "Progress and summaries"). Needs `npm run build`.
 */

const NO_PTY = ptyUnavailable();
let root: string;

const keyOf = (id: string): string => cacheKeyFor(new URL(`https://s3.example.test/mender-artifacts/${id}`));
const longName = (id: string): string =>
  `release-2026.12.07-factory-image-for-the-raspberrypi4-64-with-a-long-suffix-${id}`;

/** Entries with long names, `sizes` KiB each, written as serve writes them. */
async function populate(sizes: Record<string, number>): Promise<string> {
  const dir = join(await mkdtemp(join(root, 'cache-')), 'artifacts');
  const store = new DiskArtifactStore(dir);
  await store.open();
  for (const [id, kib] of Object.entries(sizes)) {
    const bytes = randomBytes(kib * 1024);
    const writer = await store.beginWrite(keyOf(id));
    await writer.write(bytes);
    await writer.commit({
      key: keyOf(id),
      origin: `https://s3.example.test/mender-artifacts/${id}`,
      artifactId: `artifact-${id}`,
      artifactName: longName(id),
      size: bytes.length,
      etag: `"${id}"`,
      lastModified: undefined,
      contentType: 'application/vnd.mender-artifact',
    });
  }
  await store.close();
  return dir;
}

async function damage(dir: string, id: string): Promise<void> {
  const path = join(dir, `${keyOf(id)}.mender`);
  const bytes = await readFile(path);
  bytes[10] = bytes[10]! ^ 0xff;
  await writeFile(path, bytes);
}

/** The binary with pipes: no terminal anywhere. */
function cli(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): { code: number | null; stdout: string; stderr: string } {
  const run = spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8',
    env: { ...cleanEnv(), ...env },
  });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

/** No cache settings from the environment, no CI (so nothing but the terminal test decides). */
function cleanEnv(): NodeJS.ProcessEnv {
  const drop = new Set([
    ...ENV_OVERRIDES.flatMap((e) => [e.env, ...(e.aliases ?? []).map((a) => a.env)]),
    'CI',
    'COLUMNS',
  ]);
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => !drop.has(name)));
}

/** RFC 4180 records back into fields (quoted fields, doubled quotes, CRLF). */
function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let field = '';
  let record: string[] = [];
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      record.push(field);
      field = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      record.push(field);
      records.push(record);
      record = [];
      field = '';
      i++;
    } else field += c;
  }
  return records;
}

const width = (line: string): number => Array.from(line).length;

beforeAll(async () => {
  if (!existsSync(join(BIN, '../../dist/commands/cache/ls.js'))) {
    throw new Error('dist/ is missing or stale: run `npm run build` before these tests (npm test does)');
  }
  root = await mkdtemp(join(tmpdir(), 'mgw-cache-tables-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('tables that fit', () => {
  it('COLUMNS=80: every line of cache ls and cache verify --verbose is at most 80 characters', async () => {
    const dir = await populate({ a: 8, b: 16, c: 24 });
    const ls = cli(['cache', 'ls', '--path', dir], { COLUMNS: '80' });
    expect(ls.code, ls.stderr).toBe(0);
    const lines = ls.stdout.trimEnd().split('\n');
    for (const line of lines) expect(width(line), line).toBeLessThanOrEqual(80);
    // The long name is shortened in the middle: its start and its distinguishing end stay.
    expect(ls.stdout).toMatch(/│ release-2026\.[^│]*…[^│]*suffix-a │/);
    expect(ls.stdout).not.toContain(longName('a'));

    const verify = cli(['cache', 'verify', '--path', dir, '--verbose'], { COLUMNS: '80' });
    expect(verify.code, verify.stderr).toBe(0);
    for (const line of verify.stdout.trimEnd().split('\n')) expect(width(line), line).toBeLessThanOrEqual(80);
    expect(verify.stdout.split('\n').filter((l) => / ok /.test(l))).toHaveLength(3);

    // Wide enough, nothing is shortened; --json keeps every full value whatever the width.
    const wide = cli(['cache', 'ls', '--path', dir], { COLUMNS: '250' });
    expect(wide.stdout).toContain(longName('a'));
    const json = cli(['cache', 'ls', '--path', dir, '--json'], { COLUMNS: '40' });
    const inspection = JSON.parse(json.stdout) as CacheInspection;
    expect(inspection.entries.map((e) => e.artifactName).sort()).toEqual(['a', 'b', 'c'].map(longName));
  });

  it.skipIf(skipBecause(NO_PTY !== undefined, 'an 80-column terminal', NO_PTY ?? ''))(
    'an 80-column pseudo-terminal: every line of cache ls is at most 80 characters',
    async () => {
      const dir = await populate({ a: 8, b: 16 });
      const run = await runInPty(['cache', 'ls', '--path', dir], { columns: 80 });
      expect(run.code, run.output).toBe(0);
      const lines = screenLines(run.output).filter((l) => l !== '');
      expect(lines.some((l) => l.startsWith('│ release-2026'))).toBe(true);
      for (const line of lines) expect(width(line), line).toBeLessThanOrEqual(80);
    },
  );

  it('--columns chooses and orders, --sort and --reverse order the rows, --csv parses back', async () => {
    const dir = await populate({ a: 8, b: 24, c: 16 });
    const chosen = cli(['cache', 'ls', '--path', dir, '--columns', 'size,key', '--sort=-size'], {
      COLUMNS: '80',
    });
    expect(chosen.code, chosen.stderr).toBe(0);
    const rows = chosen.stdout.split('\n').filter((l) => /^│ +\d/.test(l));
    expect(chosen.stdout).toMatch(/│ +Size │ Key +│/);
    expect(rows.map((r) => r.split('│')[2]!.trim())).toEqual(
      ['b', 'c', 'a'].map((id) => keyOf(id).slice(0, 12)),
    );
    const reversed = cli(['cache', 'ls', '--path', dir, '--columns', 'size', '--sort', 'size', '--reverse']);
    const sizes = reversed.stdout.split('\n').flatMap((l) => /^│ +([\d.]+ KiB) │$/.exec(l)?.[1] ?? []);
    expect(sizes).toEqual(['24.0 KiB', '16.0 KiB', '8.0 KiB']);

    const csv = cli(['cache', 'ls', '--path', dir, '--csv', '--sort', 'size']);
    expect(csv.code, csv.stderr).toBe(0);
    const records = parseCsv(csv.stdout);
    expect(records[0]).toEqual([
      'artifact',
      'types',
      'size',
      'status',
      'accessed',
      'hits',
      'served',
      'key',
      'added',
      'sha256',
      'origin',
    ]);
    expect(records.slice(1).map((r) => [r[0], r[2], r[7]])).toEqual(
      (['a', 'c', 'b'] as const).map((id) => [
        longName(id),
        String({ a: 8, b: 24, c: 16 }[id] * 1024),
        keyOf(id),
      ]),
    );
    // A value with a comma is quoted and comes back whole.
    expect(records[1]![1]).toBe('unknown (unreadable header)');

    const some = parseCsv(cli(['cache', 'ls', '--path', dir, '--csv', '--columns', 'key,artifact']).stdout);
    expect(some[0]).toEqual(['key', 'artifact']);
    expect(some).toHaveLength(4);
  });

  it('an unknown column: MGW_CACHE_INVALID_INPUT listing the columns, exit 2', async () => {
    const dir = await populate({ a: 8 });
    for (const args of [
      ['cache', 'ls', '--path', dir, '--columns', 'size,shade'],
      ['cache', 'verify', '--path', dir, '--sort=-shade'],
    ]) {
      const run = cli(args);
      expect(run.code).toBe(2);
      expect(run.stdout).toBe('');
      expect(run.stderr).toMatch(/^MGW_CACHE_INVALID_INPUT: --(columns|sort): there is no column "shade"$/m);
      expect(run.stderr).toMatch(/^hint: the columns are: artifact, /m);
    }
    const json = cli(['cache', 'ls', '--path', dir, '--columns', 'shade', '--json']);
    expect(json.code).toBe(2);
    expect(JSON.parse(json.stdout)).toMatchObject({ error: { code: 'MGW_CACHE_INVALID_INPUT' } });
  });
});

describe('verify, quarantine and prune', () => {
  it('verify lists only problems unless --verbose; the quarantine shows in ls and prune --quarantine clears it', async () => {
    const dir = await populate({ a: 8, b: 8, c: 8 });
    await damage(dir, 'b');
    const quiet = cli(['cache', 'verify', '--path', dir]);
    expect(quiet.code).toBe(1);
    const rows = quiet.stdout.split('\n').filter((l) => l.startsWith('│ release'));
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatch(/…uffix-b │ .*│ hash m/);
    expect(quiet.stderr).toMatch(/^verified 3 entries \(24\.0 KiB\) in \d+\.\d s: 2 ok, 1 quarantined$/m);

    const ls = cli(['cache', 'ls', '--path', dir, '--columns', 'artifact,status,key'], { COLUMNS: '200' });
    expect(ls.stdout).toMatch(
      new RegExp(`│ ${longName('b')} │ quarantined \\(hash mismatch\\) │ ${keyOf('b').slice(0, 12)} │`),
    );
    expect(ls.stdout).toMatch(/^ {2}1 quarantined entry, \d+\.\d KiB \(cache prune --quarantine\)$/m);

    const prune = cli(['cache', 'prune', '--path', dir, '--quarantine', '--json']);
    expect(prune.code, prune.stderr).toBe(0);
    const result = JSON.parse(prune.stdout) as PruneResult;
    expect(result.quarantined.map((q) => q.key)).toEqual([keyOf('b')]);
    expect(result.removed).toEqual([]);
    expect(await readdir(join(dir, QUARANTINE_DIR))).toEqual([]);
    const after = JSON.parse(cli(['cache', 'ls', '--path', dir, '--json']).stdout) as CacheInspection;
    expect(after.quarantined).toEqual([]);
    expect(after.entries).toHaveLength(2);
  });

  it('prune --all without a terminal and without --yes refuses, exit 2; with --yes it proceeds', async () => {
    const dir = await populate({ a: 8, b: 8 });
    const refused = cli(['cache', 'prune', '--path', dir, '--all']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(
      /^MGW_CACHE_INVALID_INPUT: --all removes every cache entry and needs a confirmation/m,
    );
    expect(refused.stderr).toMatch(/^hint: add --yes to confirm/m);
    expect((await readdir(dir)).filter((f) => f.endsWith('.mender'))).toHaveLength(2);

    const yes = cli(['cache', 'prune', '--path', dir, '--all', '--yes']);
    expect(yes.code, yes.stderr).toBe(0);
    expect(yes.stdout).toBe(''); // per-entry lines only with --verbose
    expect(yes.stderr).toMatch(
      /^removed 2 entries, 0 debris files: freed 16\.0 KiB; 0 entries \(0 B\) remain in \d+\.\d s$/m,
    );
    expect((await readdir(dir)).filter((f) => f.endsWith('.mender'))).toEqual([]);
  });

  it.skipIf(skipBecause(NO_PTY !== undefined, 'prune --all on a terminal', NO_PTY ?? ''))(
    'prune --all on a terminal asks; answering "n" keeps everything',
    async () => {
      const dir = await populate({ a: 8, b: 8 });
      const before = (await readdir(dir)).sort();
      const run = await runInPty(['cache', 'prune', '--path', dir, '--all'], {
        answer: { when: /Remove 2 entries \(16\.0 KiB\)/, send: 'n\r' },
      });
      expect(run.code, run.output).toBe(1);
      expect(screenLines(run.output).join('\n')).toMatch(/^Nothing removed\.$/m);
      expect((await readdir(dir)).sort()).toEqual(before);
    },
  );
});

describe('progress and summaries', () => {
  it.skipIf(skipBecause(NO_PTY !== undefined, 'progress on a terminal', NO_PTY ?? ''))(
    'on a terminal: verify and prune draw progress with counts, then the summary line',
    async () => {
      const dir = await populate({ a: 64, b: 64, c: 64, d: 64, e: 64 });
      const verify = await runInPty(['cache', 'verify', '--path', dir]);
      expect(verify.code, verify.output).toBe(0);
      expect(verify.output).toMatch(DRAWING);
      const screen = screenLines(verify.output).join('\n');
      expect(screen).toMatch(/^Verifying the cache\.\.\. 5\/5 entries, 320\.0 KiB of 320\.0 KiB$/m);
      expect(screen).toMatch(/^verified 5 entries \(320\.0 KiB\) in \d+\.\d s: all ok$/m);

      const prune = await runInPty(['cache', 'prune', '--path', dir, '--max-size', '100KiB']);
      expect(prune.code, prune.output).toBe(0);
      expect(prune.output).toMatch(DRAWING);
      const pruned = screenLines(prune.output).join('\n');
      expect(pruned).toMatch(/^Pruning the cache\.\.\. 4\/4, 256\.0 KiB freed$/m);
      expect(pruned).toMatch(
        /^removed 4 entries, 0 debris files: freed 256\.0 KiB; 1 entry \(64\.0 KiB\) remain/m,
      );

      // --json on a terminal: nothing but the JSON document.
      const json = await runInPty(['cache', 'verify', '--path', dir, '--json']);
      expect(json.code).toBe(0);
      expect(json.output).not.toMatch(DRAWING);
      expect((JSON.parse(json.output) as VerifyResult).totals.checked).toBe(1);
    },
  );

  it('without a terminal: nothing drawn, the summary line still on stderr; --json: only JSON', async () => {
    const dir = await populate({ a: 32, b: 32 });
    const verify = cli(['cache', 'verify', '--path', dir], { TERM: 'xterm' });
    expect(verify.code).toBe(0);
    expect(verify.stdout).toBe('');
    expect(verify.stderr).not.toMatch(DRAWING);
    expect(verify.stderr).toMatch(/^verified 2 entries \(64\.0 KiB\) in \d+\.\d s: all ok\n$/);

    const json = cli(['cache', 'verify', '--path', dir, '--json']);
    expect(json.stderr).toBe('');
    expect((JSON.parse(json.stdout) as VerifyResult).totals.ok).toBe(2);

    const prune = cli(['cache', 'prune', '--path', dir, '--older-than', '1d']);
    expect(prune.code).toBe(0);
    expect(prune.stdout).toBe('');
    expect(prune.stderr).not.toMatch(DRAWING);
    expect(prune.stderr).toMatch(
      /^removed 0 entries, 0 debris files: freed 0 B; 2 entries \(64\.0 KiB\) remain in /m,
    );
  });
});
