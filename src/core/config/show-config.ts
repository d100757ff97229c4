import { isSecretPath } from './config-issue.js';
import type { JsonPath } from './config-issue.js';
import { evaluateConfig, validConfig } from './load-config.js';
import type { LoadConfigOptions } from './load-config.js';

/** One effective setting: its key, its value (secrets redacted) and where it came from. */
export interface ShownSetting {
  /** Dotted key as in the file, e.g. `HTTPS.Listen`. */
  key: string;
  value: unknown;
  /** `file <path>` or `env <NAME>`. */
  source: string;
}

export interface ConfigShow {
  file: string | undefined;
  settings: ShownSetting[];
}

export const REDACTED = '[redacted]';

/**
 * The settings `serve` would run with, each with its source (the file or an environment
 * variable), secrets redacted: like `nginx -T`, the answer to "what is this gateway actually
 * using?". Settings the file and environment leave out take their defaults and are not listed.
 * Refuses an invalid configuration exactly as `serve` does (the same pipeline).
 */
export async function showConfig(options: LoadConfigOptions = {}): Promise<ConfigShow> {
  const evaluation = await evaluateConfig(options);
  await validConfig(evaluation, options);
  const { effective, sources } = evaluation;
  const settings: ShownSetting[] = [];
  const walk = (value: unknown, path: JsonPath): void => {
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
      for (const [key, child] of Object.entries(value)) walk(child, [...path, key]);
      return;
    }
    if (value === undefined || sources === undefined) return;
    settings.push({
      key: path.join('.'),
      value: isSecretPath(path) ? REDACTED : value,
      source: sources.of(path),
    });
  };
  walk(effective, []);
  return { file: evaluation.file, settings };
}
