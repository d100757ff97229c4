import { Flags } from '@oclif/core';
import { DEFAULT_CONFIG_PATH } from '../core/config/config-defaults.js';

/**
 * `-c, --config FILE`, the same for every command that reads the gateway's configuration, so the
 * default path and the wording never drift apart (one default path for every command,
 * docs/operator-guide.md §2). `extra` adds per-command options (e.g. `exclusive`).
 */
export function configFlag(extra: { exclusive?: string[] } = {}) {
  return Flags.string({
    char: 'c',
    summary: `Path of the mender-gateway.conf JSON file (default ${DEFAULT_CONFIG_PATH}).`,
    helpValue: 'FILE',
    ...extra,
  });
}
