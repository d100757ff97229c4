import type { Hook } from '@oclif/core';
import { GatewayError } from '../../core/errors.js';
import { closestKey } from '../../core/config/unknown-keys.js';
import { exitCodeOf } from '../exit-codes.js';

/**
 * A mistyped command gets a "did you mean" with the closest command (the same edit distance
 * that suggests configuration keys), an argument the command does not take is named as
 * such, and both are usage errors (exit 2) in the one error format. oclif's
 * plugin-not-found prints a warning in another style, suggests only on a terminal and exits
 * 127; docs/decisions.md explains the choice.
 */
const hook: Hook<'command_not_found'> = function ({ id, config }) {
  const bin = config.bin;
  const spaced = (commandId: string): string => commandId.replaceAll(':', ' ');
  const ids = config.commands.filter((c) => !c.hidden).map((c) => c.id);
  // oclif joins words after a command without arguments into the id: `config:validate:extra`.
  const owner = ids.filter((known) => id.startsWith(`${known}:`)).sort((a, b) => b.length - a.length)[0];
  let error: GatewayError;
  if (owner !== undefined) {
    const extra = id.slice(owner.length + 1).split(':');
    error = new GatewayError(
      'MGW_USAGE',
      `"${bin} ${spaced(owner)}" takes no argument ${extra.map((word) => JSON.stringify(word)).join(' ')}`,
      { hint: `Run "${bin} ${spaced(owner)} --help" for the flags it takes.` },
    );
  } else {
    const guess = closestKey(id, ids);
    const topic = id.split(':')[0] ?? '';
    const help = config.findTopic(topic) === undefined ? `${bin} --help` : `${bin} ${topic} --help`;
    error = new GatewayError('MGW_USAGE', `"${spaced(id)}" is not a ${bin} command`, {
      hint:
        guess === undefined
          ? `Run "${help}" for the list of commands.`
          : `Did you mean "${bin} ${spaced(guess)}"? Run "${help}" for the list of commands.`,
    });
  }
  // oclif rethrows a hook's error only when it carries a non-zero oclif exit status.
  throw Object.assign(error, { oclif: { exit: exitCodeOf(error.code) } });
};

export default hook;
