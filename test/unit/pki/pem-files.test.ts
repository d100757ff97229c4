import { chmod, lstat, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkOutputTargets, writeOutputFiles } from '../../../src/core/pki/index.js';
import type { OutputFile } from '../../../src/core/pki/index.js';

let root: string;
let n = 0;
async function freshDir(): Promise<string> {
  const dir = join(root, `case-${n++}`);
  await mkdir(dir);
  return dir;
}
const mode = async (path: string): Promise<number> => (await lstat(path)).mode & 0o777;
function pair(dir: string, stem: string, body = stem): OutputFile[] {
  return [
    { path: join(dir, `${stem}.crt`), kind: 'certificate', contents: `cert ${body}\n` },
    { path: join(dir, `${stem}.key`), kind: 'private-key', contents: `key ${body}\n` },
  ];
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'mgw-pem-files-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('writeOutputFiles', () => {
  it('writes keys 0600 and certificates 0644 (umask 022)', async () => {
    const dir = await freshDir();
    const previous = process.umask(0o022);
    try {
      await writeOutputFiles(pair(dir, 'ca'), { force: false });
    } finally {
      process.umask(previous);
    }
    expect(await mode(join(dir, 'ca.key'))).toBe(0o600);
    expect(await mode(join(dir, 'ca.crt'))).toBe(0o644);
    expect(await readFile(join(dir, 'ca.key'), 'utf8')).toBe('key ca\n');
  });

  it('keeps a key 0600 even under a permissive umask', async () => {
    const dir = await freshDir();
    const previous = process.umask(0);
    try {
      await writeOutputFiles(pair(dir, 'loose'), { force: false });
    } finally {
      process.umask(previous);
    }
    expect(await mode(join(dir, 'loose.key'))).toBe(0o600);
  });

  it('creates a missing output directory', async () => {
    const dir = join(await freshDir(), 'a', 'b');
    await writeOutputFiles(pair(dir, 'server'), { force: false });
    expect(await readdir(dir)).toEqual(['server.crt', 'server.key']);
  });

  it('refuses to overwrite, names the existing files and writes nothing of the batch', async () => {
    const dir = await freshDir();
    await writeFile(join(dir, 'device-2.key'), 'precious\n');
    const files = [...pair(dir, 'device-1'), ...pair(dir, 'device-2'), ...pair(dir, 'device-3')];
    const error = await writeOutputFiles(files, { force: false }).catch((err: unknown) => err);
    expect(error).toMatchObject({
      code: 'MGW_FILE_EXISTS',
      message: `${join(dir, 'device-2.key')} already exists; nothing was written`,
      details: { existing: [join(dir, 'device-2.key')] },
    });
    expect((error as { hint: string }).hint).toMatch(/--force/);
    expect(await readdir(dir)).toEqual(['device-2.key']);
    expect(await readFile(join(dir, 'device-2.key'), 'utf8')).toBe('precious\n');
  });

  it('does not follow a symlink planted at a target', async () => {
    const dir = await freshDir();
    const victim = join(dir, 'victim.txt');
    await writeFile(victim, 'victim\n');
    await symlink(victim, join(dir, 'ca.key'));
    await expect(writeOutputFiles(pair(dir, 'ca'), { force: false })).rejects.toMatchObject({
      code: 'MGW_FILE_EXISTS',
    });
    expect(await readFile(victim, 'utf8')).toBe('victim\n');
  });

  it('with force, replaces files, leaves a replaced key 0600 and no temporary files', async () => {
    const dir = await freshDir();
    await writeFile(join(dir, 'ca.key'), 'old key\n');
    await chmod(join(dir, 'ca.key'), 0o644);
    await writeFile(join(dir, 'ca.crt'), 'old cert\n');
    await writeOutputFiles(pair(dir, 'ca', 'new'), { force: true });
    expect(await readFile(join(dir, 'ca.key'), 'utf8')).toBe('key new\n');
    expect(await readFile(join(dir, 'ca.crt'), 'utf8')).toBe('cert new\n');
    expect(await mode(join(dir, 'ca.key'))).toBe(0o600);
    expect(await readdir(dir)).toEqual(['ca.crt', 'ca.key']);
  });

  it('with force, refuses a symlink and leaves it and its target alone', async () => {
    const dir = await freshDir();
    const victim = join(dir, 'victim.txt');
    await writeFile(victim, 'victim\n');
    await symlink(victim, join(dir, 'ca.key'));
    await expect(writeOutputFiles(pair(dir, 'ca'), { force: true })).rejects.toThrow(
      /ca\.key is a symbolic link, not a regular file/,
    );
    expect(await readFile(victim, 'utf8')).toBe('victim\n');
    expect((await lstat(join(dir, 'ca.key'))).isSymbolicLink()).toBe(true);
  });

  it('refuses a directory in the way even with force', async () => {
    const dir = await freshDir();
    await mkdir(join(dir, 'ca.crt'));
    await expect(writeOutputFiles(pair(dir, 'ca'), { force: true })).rejects.toThrow(
      /ca\.crt is a directory/,
    );
    expect(await readdir(dir)).toEqual(['ca.crt']);
  });

  it('reports an unwritable location as MGW_FILE_WRITE', async () => {
    const dir = await freshDir();
    await writeFile(join(dir, 'not-a-dir'), '');
    await expect(
      writeOutputFiles(pair(join(dir, 'not-a-dir'), 'ca'), { force: false }),
    ).rejects.toMatchObject({ code: 'MGW_FILE_WRITE' });
  });

  it('lists at most three existing files in the message', async () => {
    const dir = await freshDir();
    const files = [1, 2, 3, 4].flatMap((i) => pair(dir, `d${i}`));
    await Promise.all(files.map((f) => writeFile(f.path, 'x')));
    await expect(
      checkOutputTargets(
        files.map((f) => f.path),
        { force: false },
      ),
    ).rejects.toThrow(/ and 5 more already exist; nothing was written$/);
  });
});
