import { randomBytes } from 'node:crypto';
import { errnoCode, fileWriteError } from '../file-errors.js';
import { mkdir, open, rename, unlink } from 'node:fs/promises';
import { checkOutputTarget } from '../output-target.js';
import { basename, dirname, join } from 'node:path';
import { GatewayError } from '../errors.js';

export type OutputFileKind = 'certificate' | 'private-key' | 'manifest';

/** Private keys are the owner's alone; certificates and batch manifests are public. */
export const OUTPUT_FILE_MODES: Record<OutputFileKind, number> = {
  certificate: 0o644,
  'private-key': 0o600,
  manifest: 0o644,
};

export interface OutputFile {
  path: string;
  kind: OutputFileKind;
  contents: string;
}

export interface WriteOptions {
  /** Replace existing files (atomically, through a temporary file and rename). */
  force: boolean;
}

function existsError(paths: readonly string[]): GatewayError {
  const shown =
    paths.length <= 3 ? paths.join(', ') : `${paths.slice(0, 3).join(', ')} and ${paths.length - 3} more`;
  const plural = paths.length > 1;
  return new GatewayError(
    'MGW_FILE_EXISTS',
    `${shown} already exist${plural ? '' : 's'}; nothing was written`,
    {
      hint: `Choose another --out-dir or name, remove the file${plural ? 's' : ''}, or pass --force to replace ${plural ? 'them' : 'it'}.`,
      details: { existing: [...paths] },
    },
  );
}

const writeError = (path: string, err: unknown): GatewayError =>
  fileWriteError(
    path,
    err,
    'Check that the output directory is writable and has free space; nothing from this run was kept.',
  );

/**
 * Check every target before anything is written: without `force`, an existing file (or
 * symlink) is an error naming it; with `force`, only a directory in the way is. Also refuses
 * the same path twice in one batch.
 */
export async function checkOutputTargets(paths: readonly string[], options: WriteOptions): Promise<void> {
  const seen = new Set<string>();
  for (const path of paths) {
    if (seen.has(path)) throw new Error(`internal: output ${path} planned twice`);
    seen.add(path);
  }
  const existing: string[] = [];
  for (const path of paths) {
    // Regular files only, whatever `force` says (output-target.ts); existence is judged below.
    if (await checkOutputTarget(path, { force: true, flag: '--out-dir' })) existing.push(path);
  }
  if (existing.length > 0 && !options.force) throw existsError(existing);
}

/** Create `path` exclusively (O_CREAT|O_EXCL, so never through a symlink) with `mode`, write, fsync. */
async function writeNew(path: string, contents: string, mode: number): Promise<void> {
  const handle = await open(path, 'wx', mode);
  try {
    // The open mode is filtered by the umask; a key must end up exactly 0600, never wider.
    if (mode === OUTPUT_FILE_MODES['private-key']) await handle.chmod(mode);
    await handle.writeFile(contents, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Write a set of PEM files all or nothing: private keys get mode 0600, certificates 0644
 * (less any umask). Targets are checked first ({@link checkOutputTargets}). Without `force`
 * each file is created exclusively; if one fails (disk full, a file appearing meanwhile), the
 * files this call created are removed again. With `force`, every file is first written to a
 * temporary file beside its target and only renamed over the targets once all are written,
 * so a failure while writing leaves the old files in place; the replaced files get the same
 * modes as new ones.
 */
export async function writeOutputFiles(files: readonly OutputFile[], options: WriteOptions): Promise<void> {
  await checkOutputTargets(
    files.map((f) => f.path),
    options,
  );
  for (const dir of new Set(files.map((f) => dirname(f.path)))) {
    try {
      await mkdir(dir, { recursive: true });
    } catch (err) {
      throw writeError(dir, err);
    }
  }

  const created: string[] = [];
  const staged: { temp: string; path: string }[] = [];
  const cleanUp = async (): Promise<void> => {
    for (const path of [...created, ...staged.map((s) => s.temp)]) await unlink(path).catch(() => undefined);
  };

  try {
    for (const file of files) {
      const mode = OUTPUT_FILE_MODES[file.kind];
      if (!options.force) {
        try {
          await writeNew(file.path, file.contents, mode);
        } catch (err) {
          if (errnoCode(err) === 'EEXIST') throw existsError([file.path]);
          throw writeError(file.path, err);
        }
        created.push(file.path);
        continue;
      }
      const temp = join(dirname(file.path), `.${basename(file.path)}.${randomBytes(6).toString('hex')}.tmp`);
      try {
        await writeNew(temp, file.contents, mode);
      } catch (err) {
        throw writeError(file.path, err);
      }
      staged.push({ temp, path: file.path });
    }
    for (const { temp, path } of staged) {
      try {
        await rename(temp, path);
      } catch (err) {
        throw writeError(path, err);
      }
    }
  } catch (err) {
    await cleanUp();
    throw err;
  }
}
