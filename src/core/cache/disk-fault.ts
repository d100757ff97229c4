import { GatewayError } from '../errors.js';
import { errnoCode } from '../file-errors.js';

/**
 * Errors of the cache volume rather than of storage or of the device: the cache volume full,
 * read-only, failing or removed while serving (docs/cache.md, "When the cache volume fails"). None of them may fail a
 * device's update: the gateway serves the artifact from storage instead.
 */
const DISK_ERRNOS = new Set([
  'ENOSPC',
  'EDQUOT',
  'EROFS',
  'EIO',
  'ENOENT',
  'ENOTDIR',
  'EBADF',
  'ESTALE',
  'ENXIO',
  'EACCES',
  'EPERM',
]);

export function isDiskFault(err: unknown): boolean {
  if (err instanceof GatewayError) return err.code === 'MGW_CACHE_IO';
  const code = errnoCode(err);
  return code !== undefined && DISK_ERRNOS.has(code);
}
