import { GatewayError } from './errors.js';

/** The `code` of a Node system error (`ENOENT`, `EEXIST`, …), if it has one. */
export function errnoCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** One wording for every file the toolkit fails to write (certificates, configs, command output). */
export function fileWriteError(
  path: string,
  err: unknown,
  hint = 'Check that the directory exists, is writable and has free space.',
): GatewayError {
  return new GatewayError('MGW_FILE_WRITE', `cannot write ${path}: ${(err as Error).message}`, {
    cause: err,
    hint,
  });
}
