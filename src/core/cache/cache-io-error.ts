import { GatewayError } from '../errors.js';
import { errnoCode } from '../file-errors.js';

/**
 * Who met a failure of the cache volume, which decides what the operator is told:
 * - `serve` was `doing` something for a device and serves it from storage meanwhile
 *   (docs/cache.md, "When the cache volume fails");
 * - an offline command (`cache ls|verify|prune`) could not read the directory and stops; a
 *   permission problem there is nearly always the wrong user, not a failing volume.
 */
export type CacheIoSite = { by: 'serve'; doing: string } | { by: 'command' };

/** `MGW_CACHE_IO` for a file-system error of the cache volume at `path`. */
export function cacheIoError(err: unknown, path: string, site: CacheIoSite): GatewayError {
  const code = errnoCode(err);
  if (site.by === 'serve') {
    const full = code === 'ENOSPC' || code === 'EDQUOT';
    return new GatewayError(
      'MGW_CACHE_IO',
      `${site.doing} failed on the cache volume ${path}: ${code ?? 'unknown'}`,
      {
        hint: full
          ? 'The volume is full and nothing more could be evicted; devices are served from storage meanwhile.'
          : 'Check the cache volume (mounted, writable, healthy); devices are served from storage meanwhile.',
        cause: err,
      },
    );
  }
  const denied = code === 'EACCES' || code === 'EPERM';
  return new GatewayError(
    'MGW_CACHE_IO',
    `cannot read the artifact cache at ${path}: ${denied ? 'permission denied' : (code ?? 'error')}`,
    {
      cause: err,
      hint: denied
        ? 'run the command as the user `serve` runs as (or root)'
        : 'check the directory and the volume it is on',
    },
  );
}
