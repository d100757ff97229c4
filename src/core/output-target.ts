import { lstat } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { GatewayError } from './errors.js';
import { errnoCode, fileWriteError } from './file-errors.js';

/**
 * The one rule every command that writes files (`config init`, `cert issue`,
 * `device-hosts gen`) applies to its targets before writing: a target that does not exist is
 * created; an existing regular file is replaced only with `--force` (by renaming a staged
 * file over it); anything else is refused, even with `--force`: a directory, a device
 * (`/dev/null`), a FIFO, a socket, and a symbolic link, which rename() would replace
 * instead of writing through it, and which may point anywhere outside the target directory.
 * Standard output is `-` (POSIX utility convention,
 * https://pubs.opengroup.org/onlinepubs/9799919799/basedefs/V1_chap12.html guideline 13).
 */

/** `-` and `/dev/stdout` both mean standard output. */
export function isStdoutTarget(path: string): boolean {
  return path === '-' || path === '/dev/stdout';
}

function kind(stats: Stats): string | undefined {
  if (stats.isDirectory()) return 'a directory';
  if (stats.isSymbolicLink()) return 'a symbolic link';
  if (stats.isCharacterDevice() || stats.isBlockDevice()) return 'a device';
  if (stats.isFIFO()) return 'a FIFO';
  if (stats.isSocket()) return 'a socket';
  return undefined;
}

/**
 * Check one target. Returns whether it exists (and will be replaced); throws
 * `MGW_FILE_EXISTS` for anything that is not a regular file, and for an existing file
 * without `force`.
 */
export async function checkOutputTarget(
  path: string,
  options: { force: boolean; flag: string },
): Promise<boolean> {
  let stats: Stats;
  try {
    stats = await lstat(path);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return false;
    throw fileWriteError(path, err);
  }
  const what = kind(stats);
  if (what !== undefined) {
    throw new GatewayError(
      'MGW_FILE_EXISTS',
      `${path} is ${what}, not a regular file; it is never replaced, not even with --force`,
      {
        hint: `Give ${options.flag} the path of a regular file${
          what === 'a directory' ? '' : ' (for a link, the file it points to)'
        }, or "-" for standard output where the command supports it.`,
        details: { existing: [path] },
      },
    );
  }
  if (!options.force) {
    throw new GatewayError('MGW_FILE_EXISTS', `${path} already exists; nothing was written`, {
      hint: `Pass --force to replace it, or choose another ${options.flag}.`,
      details: { existing: [path] },
    });
  }
  return true;
}
