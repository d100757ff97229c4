import { Flags } from '@oclif/core';
import { configFlag } from './config-flag.js';

/** `--config` or `--path`: where `cache ls`, `cache prune` and `cache verify` find the cache directory. */
export const cacheLocationFlags = {
  config: configFlag({ exclusive: ['path'] }),
  path: Flags.string({
    helpValue: 'DIR',
    char: 'p',
    summary: 'The cache directory itself, instead of reading it from the configuration.',
    exclusive: ['config'],
  }),
};
