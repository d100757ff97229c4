import type { SetupPrompter } from '../../../src/cli/setup-interview.js';

/**
 * A SetupPrompter that plays a script: each question must match the next step (kind and
 * message), the answer is run through the question's validator like @inquirer does, and an
 * empty input answer takes the question's default. `'ctrl-c'` rejects like a prompt closed
 * with Ctrl-C (@inquirer's ExitPromptError).
 */
export type ScriptStep =
  | { input: RegExp; answer: string }
  | { password: RegExp; answer: string }
  | { confirm: RegExp; answer: boolean | 'default' }
  | { select: RegExp; answer: string }
  | { ctrlC: true };

export interface ScriptedPrompter extends SetupPrompter {
  /** Every question asked, in order. */
  asked: string[];
  /** Steps not yet played. */
  remaining(): number;
}

class ExitPromptError extends Error {
  override name = 'ExitPromptError';
}

export function scriptedPrompter(script: ScriptStep[]): ScriptedPrompter {
  const steps = [...script];
  const asked: string[] = [];
  const next = (kind: string, message: string): ScriptStep => {
    asked.push(`${kind}: ${message}`);
    const step = steps.shift();
    if (step === undefined) throw new Error(`unexpected ${kind} question: ${message}`);
    if ('ctrlC' in step) throw new ExitPromptError('User force closed the prompt with SIGINT');
    const pattern = kind in step ? (step as Record<string, unknown>)[kind] : undefined;
    if (!(pattern instanceof RegExp) || !pattern.test(message)) {
      throw new Error(
        `expected ${JSON.stringify(Object.keys(step)[0])} step, got ${kind} question: ${message}`,
      );
    }
    return step;
  };
  const validated = (answer: string, validate?: (value: string) => string | true): string => {
    const verdict = validate?.(answer) ?? true;
    if (verdict !== true)
      throw new Error(`the scripted answer ${JSON.stringify(answer)} was refused: ${verdict}`);
    return answer;
  };
  return {
    asked,
    remaining: () => steps.length,
    input: (question) => {
      const step = next('input', question.message) as { answer: string };
      const answer = step.answer === '' && question.default !== undefined ? question.default : step.answer;
      if (answer === '' && question.required !== false)
        throw new Error(`empty answer to required ${question.message}`);
      return Promise.resolve(validated(answer, question.validate));
    },
    password: (question) => {
      const step = next('password', question.message) as { answer: string };
      return Promise.resolve(validated(step.answer, question.validate));
    },
    confirm: (question) => {
      const step = next('confirm', question.message) as { answer: boolean | 'default' };
      return Promise.resolve(step.answer === 'default' ? question.default : step.answer);
    },
    select: <T extends string>(question: { message: string; choices: { value: T }[]; default?: T }) => {
      const step = next('select', question.message) as { answer: string };
      const choice = question.choices.find((c) => c.value === step.answer);
      if (choice === undefined) throw new Error(`no choice ${step.answer} in ${question.message}`);
      return Promise.resolve(choice.value);
    },
  };
}
