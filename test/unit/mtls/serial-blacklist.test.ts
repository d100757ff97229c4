import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, mkdtemp, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  decodeBlacklist,
  parseBlacklist,
  reloadRefusal,
  SerialBlacklist,
} from '../../../src/core/mtls/serial-blacklist.js';

/** `Features.mTLS.BlacklistPath`: hex serials, one per line (docs/protocol.md §3.3). */
describe('parseBlacklist', () => {
  it('reads one serial per line in any common spelling, ignoring blank lines and # comments', () => {
    const text = [
      '# revoked after the 2026-11 incident',
      '',
      '0A1B2C',
      '0x00ff10 # lost in transit',
      'de:ad:be:ef',
      'serial=7F00',
      '   ',
      '\t# indented comment',
    ].join('\n');
    const { serials, invalid } = parseBlacklist(text);
    expect([...serials].sort()).toEqual(['7F00', 'A1B2C', 'DEADBEEF', 'FF10']);
    expect(invalid).toEqual([]);
  });

  it('handles CRLF line ends and a byte order mark', () => {
    const { serials, invalid } = parseBlacklist('\uFEFF0A1B\r\n0C0D\r\n');
    expect([...serials].sort()).toEqual(['A1B', 'C0D']);
    expect(invalid).toEqual([]);
  });

  it('reports lines that are not hex serials with their line numbers and keeps the rest', () => {
    const { serials, invalid } = parseBlacklist('ABCD\ndevice-17\n\n0xZZ # typo\n1234\n');
    expect([...serials].sort()).toEqual(['1234', 'ABCD']);
    expect(invalid).toEqual([
      { line: 2, text: 'device-17' },
      { line: 4, text: '0xZZ # typo' },
    ]);
  });

  it('collapses duplicates written differently', () => {
    expect(parseBlacklist('0a1b\n0x0A1B\n0a:1b\n').serials.size).toBe(1);
  });

  it('reads the example of docs/mtls.md as one serial, without warnings', async () => {
    const guide = await readFile(new URL('../../../docs/mtls.md', import.meta.url), 'utf8');
    const section = guide.slice(guide.indexOf('## 6. Revoking'));
    const example = /```\n([\s\S]*?)```/.exec(section)?.[1];
    expect(example).toBeDefined();
    const { serials, invalid } = parseBlacklist(example!);
    expect([...serials]).toEqual(['3A0F4C9B27D1E8A05C6F1B2D3E4F5061']);
    expect(invalid).toEqual([]);
  });

  it('is empty for an empty file', () => {
    expect(parseBlacklist('').serials.size).toBe(0);
  });
});

describe('decodeBlacklist', () => {
  const text = '# revoked\nAB:CD\r\n0x12\n';
  it.each([
    ['UTF-8', Buffer.from(text)],
    ['UTF-8 with a byte order mark', Buffer.from(`\uFEFF${text}`)],
    ['UTF-16 LE with a byte order mark', Buffer.from(`\uFEFF${text}`, 'utf16le')],
    ['UTF-16 BE with a byte order mark', Buffer.from(`\uFEFF${text}`, 'utf16le').swap16()],
  ])('reads %s', (_name, bytes) => {
    expect(decodeBlacklist(bytes)).toBe(text);
  });

  it.each([
    ['UTF-16 without a byte order mark', Buffer.from(text, 'utf16le'), /NUL bytes/],
    ['NUL bytes', Buffer.alloc(16), /NUL bytes/],
    ['invalid UTF-8', Buffer.from([0x41, 0xc3, 0x28]), /not valid UTF-8/],
  ])('refuses %s', (_name, bytes, message) => {
    expect(() => decodeBlacklist(bytes)).toThrow(message);
  });
});

describe('reloadRefusal', () => {
  const current = new Set(['AB', 'CD']);
  it('accepts any file that keeps every serial in force, and complete files that remove some', () => {
    expect(reloadRefusal(current, parseBlacklist('AB\nCD\nbogus\nEF'))).toBeUndefined();
    expect(reloadRefusal(current, parseBlacklist('AB\n'))).toBeUndefined();
    expect(reloadRefusal(current, parseBlacklist('# nothing revoked\n'))).toBeUndefined();
    expect(reloadRefusal(new Set(), parseBlacklist(''))).toBeUndefined();
  });

  it('refuses a file that would remove serials and looks broken or incomplete', () => {
    expect(reloadRefusal(current, parseBlacklist(''))).toMatch(/no serial and no comment/);
    expect(reloadRefusal(current, parseBlacklist('\n\n'))).toMatch(/no serial and no comment/);
    expect(reloadRefusal(current, parseBlacklist('AB\nC D E F G\n'))).toMatch(
      /not hex serials \(first: line 2\)/,
    );
    expect(reloadRefusal(current, parseBlacklist('AB\nC'))).toMatch(/no line break/);
  });
});

describe('SerialBlacklist', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mgw-serials-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('matches serials as Node prints them against entries in any spelling', async () => {
    const path = join(dir, 'list.txt');
    await writeFile(path, '0x0a1b2c\nde:ad:be:ef\nbogus\n');
    const { blacklist, invalid } = await SerialBlacklist.load(path);
    expect(blacklist.size).toBe(2);
    expect(invalid).toEqual([{ line: 3, text: 'bogus' }]);
    expect(blacklist.has('0A1B2C')).toBe(true);
    expect(blacklist.has('DEADBEEF')).toBe(true);
    expect(blacklist.has('00DEADBEEF')).toBe(true);
    expect(blacklist.has('DEADBEEE')).toBe(false);
    expect(blacklist.has('not hex')).toBe(false);
  });

  it('re-reads the file on reload and keeps the previous list when the file is gone', async () => {
    const path = join(dir, 'reload.txt');
    await writeFile(path, 'AA\n');
    const { blacklist } = await SerialBlacklist.load(path);
    await writeFile(path, 'BB\nCC\n');
    await blacklist.reload();
    expect(blacklist.has('AA')).toBe(false);
    expect(blacklist.has('BB')).toBe(true);
    await rm(path);
    await expect(blacklist.reload()).rejects.toMatchObject({ code: 'MGW_TLS_MATERIAL' });
    // An unreadable file must not un-revoke every device.
    expect(blacklist.has('BB')).toBe(true);
  });

  it('keeps the list in force, adds what the refused file lists, and reports the refusal', async () => {
    const path = join(dir, 'refused.txt');
    await writeFile(path, 'AA\nBB\n');
    const { blacklist } = await SerialBlacklist.load(path);
    await writeFile(path, 'CC\nnot a serial\n');
    await expect(blacklist.reload()).rejects.toMatchObject({
      code: 'MGW_TLS_MATERIAL',
      message: expect.stringContaining('not applied') as unknown,
    });
    expect(['AA', 'BB', 'CC'].map((s) => blacklist.has(s))).toEqual([true, true, true]);
    expect(blacklist.status()).toMatchObject({
      serials: 3,
      lastError: expect.stringContaining('line 2') as unknown,
    });
    await writeFile(path, '# all clear\n');
    await blacklist.reload();
    expect(blacklist.status()).toMatchObject({ serials: 0, lastError: undefined });
  });

  it('refuses an undecodable file at start-up', async () => {
    const path = join(dir, 'utf16-no-bom.txt');
    await writeFile(path, Buffer.from('AB\n', 'utf16le'));
    await expect(SerialBlacklist.load(path)).rejects.toMatchObject({ code: 'MGW_TLS_MATERIAL' });
  });

  it('sees a change made by renaming a new file over the old one', async () => {
    const path = join(dir, 'watched.txt');
    await writeFile(path, '');
    const { blacklist } = await SerialBlacklist.load(path);
    const reloaded = new Promise<number>((resolve, reject) => {
      blacklist.watch({
        reloaded: (count) => {
          if (count === 1) resolve(count);
        },
        failed: reject,
      });
    });
    try {
      const staged = join(dir, 'watched.txt.tmp');
      await writeFile(staged, '0x1234\n');
      await rename(staged, path);
      expect(await reloaded).toBe(1);
      expect(blacklist.has('1234')).toBe(true);
    } finally {
      blacklist.close();
    }
  });

  it('sees an update of a Kubernetes ConfigMap or Secret volume (atomic symlink swap)', async () => {
    // kubelet's AtomicWriter: blacklist.txt -> ..data/blacklist.txt, ..data -> ..<timestamp>;
    // an update writes a new timestamped folder and renames a new ..data symlink over the old one.
    const volume = join(dir, 'configmap');
    await mkdir(join(volume, '..2026_11_22_01'), { recursive: true });
    await writeFile(join(volume, '..2026_11_22_01', 'blacklist.txt'), '');
    await symlink('..2026_11_22_01', join(volume, '..data'));
    await symlink(join('..data', 'blacklist.txt'), join(volume, 'blacklist.txt'));
    const { blacklist } = await SerialBlacklist.load(join(volume, 'blacklist.txt'));
    const reloaded = new Promise<void>((resolve, reject) => {
      blacklist.watch({
        reloaded: (count) => {
          if (count === 1) resolve();
        },
        failed: reject,
      });
    });
    try {
      await mkdir(join(volume, '..2026_11_22_02'));
      await writeFile(join(volume, '..2026_11_22_02', 'blacklist.txt'), 'ABCD\n');
      await symlink('..2026_11_22_02', join(volume, '..data_tmp'));
      await rename(join(volume, '..data_tmp'), join(volume, '..data'));
      await reloaded;
      expect(blacklist.has('ABCD')).toBe(true);
    } finally {
      blacklist.close();
    }
  });

  it('refuses a missing file at start-up with MGW_TLS_MATERIAL and a hint', async () => {
    const path = join(dir, 'missing.txt');
    await expect(SerialBlacklist.load(path)).rejects.toMatchObject({
      code: 'MGW_TLS_MATERIAL',
      message: expect.stringContaining(path) as unknown,
      hint: expect.stringContaining('Create the file') as unknown,
    });
  });
});
