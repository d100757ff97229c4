import { describe, expect, it } from 'vitest';
import {
  canPrompt,
  InputResolver,
  isPromptAbort,
  resolveKeyInputs,
  validateWith,
} from '../../../src/cli/cert-issue.js';
import type { Prompter } from '../../../src/cli/cert-issue.js';
import { parseDeviceIdentity } from '../../../src/core/pki/index.js';
import { exitCodeOf } from '../../../src/cli/exit-codes.js';

const TTY = { isTTY: true };
const PIPE = { isTTY: false };

/** A prompter that answers from a script and records the questions. */
function scripted(answers: string[]): Prompter & { asked: string[] } {
  const asked: string[] = [];
  const next = (message: string): string => {
    asked.push(message);
    const answer = answers.shift();
    if (answer === undefined) throw new Error(`unexpected question: ${message}`);
    return answer;
  };
  return {
    asked,
    text: (q) => Promise.resolve(next(q.message)),
    choose: <T extends string>(q: { message: string }) => Promise.resolve(next(q.message) as T),
  };
}

describe('canPrompt', () => {
  it('only with a terminal on both stdin and stdout, without --json and CI', () => {
    expect(canPrompt({ json: false, env: {}, stdin: TTY, stdout: TTY })).toBe(true);
    expect(canPrompt({ json: true, env: {}, stdin: TTY, stdout: TTY })).toBe(false);
    expect(canPrompt({ json: false, env: { CI: 'true' }, stdin: TTY, stdout: TTY })).toBe(false);
    expect(canPrompt({ json: false, env: { CI: '1' }, stdin: TTY, stdout: TTY })).toBe(false);
    expect(canPrompt({ json: false, env: {}, stdin: PIPE, stdout: TTY })).toBe(false);
    expect(canPrompt({ json: false, env: {}, stdin: TTY, stdout: PIPE })).toBe(false);
    expect(canPrompt({ json: false, env: {}, stdin: {}, stdout: TTY })).toBe(false);
  });

  it('treats CI=false, CI=0 and an empty CI as not CI', () => {
    for (const CI of ['false', '0', ''])
      expect(canPrompt({ json: false, env: { CI }, stdin: TTY, stdout: TTY })).toBe(true);
  });
});

describe('InputResolver', () => {
  it('without prompts, collects every missing flag into one MGW_PKI_INVALID_INPUT error', async () => {
    const prompter = scripted([]);
    const resolver = new InputResolver(false, prompter);
    expect(await resolver.text('given', { flag: '--a', message: 'A' })).toBe('given');
    expect(await resolver.text(undefined, { flag: '--b', message: 'B' })).toBeUndefined();
    expect(await resolver.text(undefined, { flag: '--c', message: 'C' })).toBeUndefined();
    expect(() => resolver.assertComplete()).toThrow('missing required input: --b, --c');
    try {
      resolver.assertComplete();
    } catch (err) {
      expect(err).toMatchObject({
        code: 'MGW_PKI_INVALID_INPUT',
        details: { missing: ['--b', '--c'] },
      });
      expect(exitCodeOf('MGW_PKI_INVALID_INPUT')).toBe(2);
    }
    expect(prompter.asked).toEqual([]);
  });

  it('in a terminal, asks for what is missing only, then offers the optional key choices', async () => {
    const prompter = scripted([' /pki/ca.crt ', 'rsa', '4096']);
    const resolver = new InputResolver(true, prompter);
    expect(await resolver.text('/pki/ca.key', { flag: '--ca-key', message: 'CA key' })).toBe('/pki/ca.key');
    expect(await resolver.text(undefined, { flag: '--ca-cert', message: 'CA certificate' })).toBe(
      '/pki/ca.crt',
    );
    resolver.assertComplete();
    expect(await resolveKeyInputs(resolver, {})).toEqual({ keyType: 'rsa', rsaBits: 4096 });
    expect(prompter.asked).toEqual(['CA certificate', 'Key type', 'RSA key size']);
  });

  it('does not ask optional questions when every required flag was given', async () => {
    const prompter = scripted([]);
    const resolver = new InputResolver(true, prompter);
    await resolver.text('x', { flag: '--x', message: 'X' });
    expect(await resolveKeyInputs(resolver, { 'key-type': undefined })).toEqual({
      keyType: undefined,
      rsaBits: undefined,
    });
    expect(prompter.asked).toEqual([]);
  });

  it('keeps a key type given on the command line', async () => {
    const prompter = scripted(['id']);
    const resolver = new InputResolver(true, prompter);
    await resolver.text(undefined, { flag: '--identity', message: 'Identity' });
    expect(await resolveKeyInputs(resolver, { 'key-type': 'ed25519' })).toEqual({
      keyType: 'ed25519',
      rsaBits: undefined,
    });
  });
});

describe('prompt helpers', () => {
  it('validateWith turns a core check into an inquirer validator with the hint', () => {
    const validate = validateWith(parseDeviceIdentity);
    expect(validate('mac=02:00:00:00:00:01')).toBe(true);
    expect(validate('mac=')).toMatch(/^the device identity value in "mac=" is empty \(Give a non-empty/);
  });

  it('recognises Ctrl-C in a prompt by the error name', () => {
    const exit = new Error('User force closed the prompt with SIGINT');
    exit.name = 'ExitPromptError';
    expect(isPromptAbort(exit)).toBe(true);
    expect(isPromptAbort(new Error('other'))).toBe(false);
    expect(isPromptAbort('ExitPromptError')).toBe(false);
  });
});
