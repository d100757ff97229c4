import type { ConfigKey, ConfigSection } from './config/config-table.js';

/**
 * The name of a configuration key or section as messages and hints print it, typed by the
 * config table (`config/config-table.ts`): a hint cannot name a key that does not exist.
 * `key('Features.ArtifactsProxy.ArtifactsCache.Path')`.
 *
 * A file of its own, importing the table's types only, so that every folder may use it: the
 * config folder itself imports `mtls/`, which therefore cannot import the config folder's code
 * (CONTRIBUTING.md §2).
 */
export function key(name: ConfigKey | ConfigSection): string {
  return name;
}
