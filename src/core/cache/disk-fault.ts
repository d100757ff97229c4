import { GatewayError } from '../errors.js';

/**
 * Errors of the cache volume rather than of storage or of the device (issue #7 item 2: the
 * cache volume full, read-only, failing or removed while serving). None of them may fail a
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
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' && DISK_ERRNOS.has(code);
}

/** Wrap a file-system error of the cache volume so that readers of a fill can tell it apart. */
export function cacheIoError(err: unknown, what: string, path: string): GatewayError {
  const code = (err as NodeJS.ErrnoException).code ?? 'unknown';
  return new GatewayError('MGW_CACHE_IO', `${what} failed on the cache volume ${path}: ${code}`, {
    hint:
      code === 'ENOSPC' || code === 'EDQUOT'
        ? 'The volume is full and nothing more could be evicted; devices are served from storage meanwhile.'
        : 'Check the cache volume (mounted, writable, healthy); devices are served from storage meanwhile.',
    cause: err,
  });
}
