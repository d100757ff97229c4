import { httpsEnabledDefault } from './build-gateway-config.js';
import { isSecretPath, valueAt } from './config-issue.js';
import type { RawConfig } from './config-schema.js';
import { CONFIG_TABLE, type ConfigEntry } from './config-table.js';
import { evaluateConfig, validConfig } from './load-config.js';
import type { LoadConfigOptions } from './load-config.js';

/** One effective setting: its key, its value (secrets redacted) and where it came from. */
export interface ShownSetting {
  /** Dotted key as in the file, e.g. `HTTPS.Listen`. */
  key: string;
  /** `null` when the key has no value at all (not set, no default). */
  value: unknown;
  /** `default`, `file <path>` or `env <NAME>`. */
  source: string;
}

export interface ConfigShow {
  file: string | undefined;
  settings: ShownSetting[];
}

export const REDACTED = '[redacted]';

/**
 * The settings `serve` would run with: every key of the config table, in its order, with its
 * effective value and its source (the file, an environment variable, or the default), secrets
 * redacted. Like `nginx -T`, the answer to "what is this gateway actually using?". Refuses an
 * invalid configuration exactly as `serve` does (the same pipeline).
 */
export async function showConfig(options: LoadConfigOptions = {}): Promise<ConfigShow> {
  const evaluation = await evaluateConfig(options);
  await validConfig(evaluation, options);
  const { effective, sources } = evaluation;
  const settings = (CONFIG_TABLE as readonly ConfigEntry[]).map((entry): ShownSetting => {
    const path = entry.key.split('.');
    const given = valueAt(effective, path);
    // `""` means "not set", as in the file (config-schema.ts).
    if (given !== undefined && given !== '' && sources !== undefined) {
      return { key: entry.key, value: isSecretPath(path) ? REDACTED : given, source: sources.of(path) };
    }
    const value =
      entry.key === 'HTTPS.Enabled' ? httpsEnabledDefault((effective ?? {}) as RawConfig) : entry.default;
    return { key: entry.key, value: value ?? null, source: 'default' };
  });
  return { file: evaluation.file, settings };
}
