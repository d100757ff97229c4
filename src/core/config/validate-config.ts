import { isGatewayError } from '../errors.js';
import type { ConfigIssue } from './gateway-config.js';
import { configIssue } from './config-issue.js';
import { evaluateConfig, type LoadConfigOptions } from './load-config.js';

/**
 * The verdict of `mender-gw config validate` (also its `--json` output): the same
 * pipeline as `loadConfig()`, but every problem is returned instead of thrown, including
 * an unreadable file or a JSON syntax error (as one error at `$`).
 */
export interface ConfigValidation {
  valid: boolean;
  /** Absolute path of the file checked; null when only the environment was used. */
  file: string | null;
  errors: ConfigIssue[];
  warnings: ConfigIssue[];
}

export async function validateConfig(options: LoadConfigOptions = {}): Promise<ConfigValidation> {
  try {
    const { file, issues } = await evaluateConfig(options);
    const errors = issues.filter((issue) => issue.severity === 'error');
    const warnings = issues.filter((issue) => issue.severity === 'warning');
    return { valid: errors.length === 0, file: file ?? null, errors, warnings };
  } catch (err) {
    if (!isGatewayError(err) || err.code !== 'MGW_CONFIG_UNREADABLE') throw err;
    const details = err.details as { file?: unknown } | undefined;
    const file = typeof details?.file === 'string' ? details.file : null;
    const source = file === null ? 'environment' : `file ${file}`;
    return {
      valid: false,
      file,
      errors: [configIssue('error', [], source, err.message, err.hint ?? '')],
      warnings: [],
    };
  }
}
