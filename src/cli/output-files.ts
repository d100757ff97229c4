import { randomBytes } from 'node:crypto';
import { errnoCode, fileWriteError } from '../core/file-errors.js';
import { link, open, rename, unlink } from 'node:fs/promises';
import { checkOutputTarget } from '../core/output-target.js';
import { basename, dirname, join } from 'node:path';
import { GatewayError } from '../core/errors.js';

/**
 * Writing a command's text outputs all or nothing: every target is checked first (an
 * existing file needs `force`), every file is staged as a temporary file beside its target,
 * and only when all are staged are they moved into place. So a failure never leaves half of
 * the output behind, and an existing file is never truncated in place.
 */

export interface TextOutput {
  path: string;
  contents: string;
  /** Permission bits of a new file (less the umask); default 0644. */
  mode?: number;
  /** How the flag that chose the path is named in messages, e.g. `--out`. */
  flag: string;
}

const writeError = (path: string, err: unknown): GatewayError =>
  fileWriteError(
    path,
    err,
    'Check that the directory exists, is writable and has free space; nothing from this run was kept.',
  );

async function checkTarget(output: TextOutput, force: boolean): Promise<void> {
  await checkOutputTarget(output.path, { force, flag: output.flag });
}

export async function writeTextOutputs(
  outputs: readonly TextOutput[],
  options: { force: boolean },
): Promise<void> {
  for (const output of outputs) await checkTarget(output, options.force);
  const staged: { temp: string; output: TextOutput }[] = [];
  const cleanUp = async (): Promise<void> => {
    for (const { temp } of staged) await unlink(temp).catch(() => undefined);
  };
  try {
    for (const output of outputs) {
      const temp = join(
        dirname(output.path),
        `.${basename(output.path)}.${randomBytes(6).toString('hex')}.tmp`,
      );
      try {
        const handle = await open(temp, 'wx', output.mode ?? 0o644);
        staged.push({ temp, output });
        try {
          await handle.writeFile(output.contents, 'utf8');
          await handle.sync();
        } finally {
          await handle.close();
        }
      } catch (err) {
        throw writeError(output.path, err);
      }
    }
    for (const { temp, output } of staged) {
      try {
        if (options.force) {
          await rename(temp, output.path);
        } else {
          // link() fails if the target appeared meanwhile: never replace a file without --force.
          await link(temp, output.path);
          await unlink(temp);
        }
      } catch (err) {
        if (errnoCode(err) === 'EEXIST') {
          throw new GatewayError(
            'MGW_FILE_EXISTS',
            `${output.path} appeared while writing; it was left alone`,
            {
              hint: `Pass --force to replace it, or choose another ${output.flag}.`,
            },
          );
        }
        throw writeError(output.path, err);
      }
    }
  } catch (err) {
    await cleanUp();
    throw err;
  }
}
