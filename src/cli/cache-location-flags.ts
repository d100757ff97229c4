import { Flags } from '@oclif/core';

/** `--config` or `--path`: where `cache ls`, `cache prune` and `cache verify` find the cache directory. */
export const cacheLocationFlags = {
  config: Flags.string({
    helpValue: 'FILE',
    char: 'c',
    summary: 'Path of the mender-gateway.conf JSON file (default /etc/mender/mender-gateway.conf).',
    exclusive: ['path'],
  }),
  path: Flags.string({
    helpValue: 'DIR',
    char: 'p',
    summary: 'The cache directory itself, instead of reading it from the configuration.',
    exclusive: ['config'],
  }),
};
