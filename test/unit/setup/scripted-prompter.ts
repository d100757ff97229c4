import type { SetupPrompter, Validator } from '../../../src/cli/setup-interview.js';

/**
 * A SetupPrompter that plays a script: each question must match the next step (kind and
 * message), the answer is run through the question's validator like @inquirer does, and an
 * empty input answer takes the question's default. `'ctrl-c'` rejects like a prompt closed
 * with Ctrl-C (@inquirer's ExitPromptError).
 */
export type ScriptStep =
  /** With `refused`: the validator must refuse the answer with a matching reason; the next step answers the same question again. */
  | { input: RegExp; answer: string; refused?: RegExp }
  | { password: RegExp; answer: string }
  | { confirm: RegExp; answer: boolean | 'default' }
  | { select: RegExp; answer: string }
  | { ctrlC: true };

export interface ScriptedPrompter extends SetupPrompter {
  /** Every question asked, in order. */
  asked: string[];
  /** The reasons given for answers refused (and asked again). */
  refusals: string[];
  /** Steps not yet played. */
  remaining(): number;
}

class ExitPromptError extends Error {
  override name = 'ExitPromptError';
}

export function scriptedPrompter(script: ScriptStep[]): ScriptedPrompter {
  const steps = [...script];
  const asked: string[] = [];
  const refusals: string[] = [];
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
  const validated = async (answer: string, validate?: Validator): Promise<string> => {
    const verdict = (await validate?.(answer)) ?? true;
    if (verdict !== true)
      throw new Error(`the scripted answer ${JSON.stringify(answer)} was refused: ${verdict}`);
    return answer;
  };
  /** Like @inquirer: a refused answer is reported and the same question is asked again. */
  const input: SetupPrompter['input'] = async (question) => {
    const step = next('input', question.message) as { answer: string; refused?: RegExp };
    const answer = step.answer === '' && question.default !== undefined ? question.default : step.answer;
    if (answer === '' && question.required !== false)
      throw new Error(`empty answer to required ${question.message}`);
    if (step.refused !== undefined) {
      const verdict = (await question.validate?.(answer)) ?? true;
      if (verdict === true || !step.refused.test(verdict)) {
        throw new Error(
          `expected ${JSON.stringify(answer)} to be refused with ${String(step.refused)}, got ${String(verdict)}`,
        );
      }
      refusals.push(verdict);
      return input(question);
    }
    return validated(answer, question.validate);
  };
  return {
    asked,
    refusals,
    remaining: () => steps.length,
    input,
    password: (question) => {
      const step = next('password', question.message) as { answer: string };
      return validated(step.answer, question.validate);
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
