import { relative, isAbsolute } from 'node:path';
import { input, select } from '@inquirer/prompts';
import { Flags } from '@oclif/core';
import type { Command } from '@oclif/core';
import { GatewayError, toGatewayError } from '../core/errors.js';
import {
  DEFAULT_RSA_KEY_SIZE,
  KEY_TYPES,
  MAX_DEVICE_BATCH,
  MAX_VALIDITY_DAYS,
  RSA_KEY_SIZES,
} from '../core/pki/index.js';
import type { CertificateSummary, IssueResult } from '../core/pki/index.js';
import { renderError } from './render-error.js';

/**
 * Command-layer helpers shared by `cert issue ca|server|device`: common flags, the
 * "prompt only in a terminal" rule with its prompts, and rendering. The core never prompts
 * or prints (CONTRIBUTING.md §6).
 */

export const keyFlags = {
  'key-type': Flags.string({
    summary: 'Type of the new key: ecdsa (P-256, the default), rsa or ed25519.',
    options: [...KEY_TYPES],
  }),
  'rsa-bits': Flags.integer({
    helpValue: 'BITS',
    summary: `RSA key size with --key-type rsa: ${RSA_KEY_SIZES.join(', ')} (default ${DEFAULT_RSA_KEY_SIZE}).`,
  }),
};

export const issuerFlags = {
  'ca-cert': Flags.string({
    summary:
      'PEM certificate of the issuing CA; may be followed by its own issuers (intermediate first, then up to the root).',
    helpValue: 'FILE',
  }),
  'ca-key': Flags.string({
    summary: 'Unencrypted PEM private key of the issuing CA (PKCS#8, PKCS#1 or SEC1).',
    helpValue: 'FILE',
  }),
};

export const outputFlags = {
  'out-dir': Flags.string({
    char: 'o',
    summary: 'Directory for the PEM files (created if missing).',
    default: '.',
    helpValue: 'DIR',
  }),
  force: Flags.boolean({
    summary: 'Replace existing files (keys are rewritten with mode 0600).',
    default: false,
  }),
  chain: Flags.boolean({
    summary: 'Append the intermediate CA certificates to the .crt file when the issuer is an intermediate.',
    default: true,
    allowNo: true,
  }),
};

export function daysFlag(defaultDays: number, why: string) {
  return Flags.integer({
    helpValue: 'DAYS',
    summary: `Validity in days (default ${defaultDays}: ${why}).`,
    min: 1,
    max: MAX_VALIDITY_DAYS,
  });
}

export const organizationFlag = Flags.string({
  helpValue: 'ORG',
  summary: 'Organization (O=) in the subject.',
});

export { MAX_DEVICE_BATCH };

// ---------------------------------------------------------------------------------------------
// Prompts

/** The two kinds of questions `cert issue` asks; tests replace them with fakes. */
export interface Prompter {
  text(question: {
    message: string;
    default?: string;
    validate?: (value: string) => string | true;
  }): Promise<string>;
  choose<T extends string>(question: {
    message: string;
    choices: { name: string; value: T; description?: string }[];
    default?: T;
  }): Promise<T>;
}

export const inquirerPrompter: Prompter = {
  text: (question) =>
    input({
      message: question.message,
      required: true,
      ...(question.default === undefined ? {} : { default: question.default }),
      ...(question.validate === undefined ? {} : { validate: question.validate }),
    }),
  choose: (question) =>
    select({
      message: question.message,
      choices: question.choices,
      ...(question.default === undefined ? {} : { default: question.default }),
    }),
};

/**
 * Prompting is allowed only when both stdin and stdout are terminals, `--json` is off and
 * `CI` is not set (any value but "" / "false" / "0" counts as set).
 */
export function canPrompt(options: {
  json: boolean;
  env?: NodeJS.ProcessEnv;
  stdin?: { isTTY?: boolean };
  stdout?: { isTTY?: boolean };
}): boolean {
  const env = options.env ?? process.env;
  const stdin = options.stdin ?? process.stdin;
  const stdout = options.stdout ?? process.stdout;
  const ci = env.CI;
  const inCi = ci !== undefined && ci !== '' && ci !== 'false' && ci !== '0';
  return stdin.isTTY === true && stdout.isTTY === true && !options.json && !inCi;
}

/** Ctrl-C in an @inquirer prompt rejects with ExitPromptError ("User force closed the prompt"). */
export function isPromptAbort(err: unknown): boolean {
  return err instanceof Error && err.name === 'ExitPromptError';
}

/** A validator for prompts from a core check that throws GatewayError. */
export function validateWith(check: (value: string) => unknown): (value: string) => string | true {
  return (value) => {
    try {
      check(value);
      return true;
    } catch (err) {
      const error = toGatewayError(err);
      return error.hint === undefined ? error.message : `${error.message} (${error.hint})`;
    }
  };
}

/**
 * Fills in required inputs whose flags are missing: by asking, when prompting is allowed,
 * otherwise by collecting them so that {@link InputResolver.assertComplete} reports every
 * missing flag in one error.
 */
export class InputResolver {
  private readonly missing: string[] = [];
  /** True once a question was asked: the command may then also offer optional choices. */
  asked = false;

  constructor(
    readonly interactive: boolean,
    private readonly prompter: Prompter = inquirerPrompter,
  ) {}

  async text(
    value: string | undefined,
    question: {
      flag: string;
      message: string;
      default?: string;
      validate?: (value: string) => string | true;
    },
  ): Promise<string | undefined> {
    if (value !== undefined) return value;
    if (!this.interactive) {
      this.missing.push(question.flag);
      return undefined;
    }
    this.asked = true;
    return (
      await this.prompter.text({
        message: question.message,
        ...(question.default === undefined ? {} : { default: question.default }),
        ...(question.validate === undefined ? {} : { validate: question.validate }),
      })
    ).trim();
  }

  /** An optional choice: asked only in a session that is already asking, else the default stays. */
  async optionalChoice<T extends string>(
    value: T | undefined,
    question: { message: string; choices: { name: string; value: T; description?: string }[]; default: T },
  ): Promise<T | undefined> {
    if (value !== undefined || !this.interactive || !this.asked) return value;
    return this.prompter.choose(question);
  }

  assertComplete(): void {
    if (this.missing.length === 0) return;
    const list = this.missing.join(', ');
    throw new GatewayError('MGW_PKI_INVALID_INPUT', `missing required input: ${list}`, {
      hint: `Pass ${this.missing.length === 1 ? 'it' : 'them'} on the command line (prompts are offered only in an interactive terminal without --json or CI).`,
      details: { missing: [...this.missing] },
    });
  }
}

/** Key type and RSA size: asked only when the session is already interactive and they were not given. */
export async function resolveKeyInputs(
  resolver: InputResolver,
  flags: { 'key-type'?: string | undefined; 'rsa-bits'?: number | undefined },
): Promise<{ keyType: string | undefined; rsaBits: number | undefined }> {
  const keyType = await resolver.optionalChoice(flags['key-type'], {
    message: 'Key type',
    choices: [
      { name: 'ECDSA P-256 (recommended, as in the Mender docs)', value: 'ecdsa' },
      { name: 'RSA', value: 'rsa' },
      { name: 'Ed25519', value: 'ed25519' },
    ],
    default: 'ecdsa',
  });
  let rsaBits = flags['rsa-bits'];
  if (keyType === 'rsa' && rsaBits === undefined) {
    const bits = await resolver.optionalChoice<string>(undefined, {
      message: 'RSA key size',
      choices: RSA_KEY_SIZES.map((size) => ({ name: `${size} bits`, value: String(size) })),
      default: String(DEFAULT_RSA_KEY_SIZE),
    });
    rsaBits = bits === undefined ? undefined : Number(bits);
  }
  return { keyType, rsaBits };
}

// ---------------------------------------------------------------------------------------------
// Output

function display(path: string, cwd: string): string {
  const rel = relative(cwd, path);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) ? rel : path;
}

const ROLE_NAMES: Record<CertificateSummary['role'], string> = {
  ca: 'CA',
  server: 'server',
  device: 'device',
};

/** Human-readable lines for stdout: one block per certificate. */
export function renderIssueResult(result: IssueResult, cwd: string = process.cwd()): string[] {
  const lines: string[] = [];
  for (const cert of result.certificates) {
    const chain =
      cert.certificatesInFile > 1
        ? ` + ${cert.certificatesInFile - 1} CA certificate${cert.certificatesInFile > 2 ? 's' : ''}`
        : '';
    lines.push(
      `${ROLE_NAMES[cert.role]} certificate "${cert.subject}" (${cert.keyType}, serial ${cert.serialNumber}, valid until ${cert.notAfter.slice(0, 10)})`,
    );
    lines.push(`  certificate: ${display(cert.certificatePath, cwd)}${chain}`);
    lines.push(`  private key: ${display(cert.keyPath, cwd)} (mode 0600)`);
    if (cert.subjectAltNames.length > 0) {
      lines.push(
        `  names:       ${cert.subjectAltNames.map((n) => `${n.type.toUpperCase()}:${n.value}`).join(', ')}`,
      );
    }
  }
  return lines;
}

/**
 * Run a `cert issue` command body with the shared error policy: Ctrl-C in a prompt exits 130
 * without a stack; under --json a failure is oclif's JSON error document (with code and
 * hint) and the code's exit status; otherwise "CODE: message" and "hint: …" on stderr.
 * `output.showCertificates` false leaves out the per-certificate blocks (a device batch
 * without --verbose); `output.summary` lines go to stderr, never under --json.
 */
export async function runIssueCommand(
  command: Command,
  body: () => Promise<IssueResult>,
  nextSteps: (result: IssueResult, cwd: string) => string[] = () => [],
  output: {
    showCertificates?: (result: IssueResult) => boolean;
    summary?: (result: IssueResult, cwd: string) => string[];
  } = {},
): Promise<IssueResult> {
  let result: IssueResult;
  try {
    result = await body();
  } catch (err) {
    if (isPromptAbort(err)) command.exit(130);
    if (command.jsonEnabled()) throw toGatewayError(err);
    const { text, exitCode } = renderError(err);
    command.logToStderr(text);
    command.exit(exitCode);
  }
  for (const warning of result.warnings) command.logToStderr(`warning: ${warning}`);
  const cwd = process.cwd();
  if (output.showCertificates?.(result) ?? true) {
    for (const line of renderIssueResult(result, cwd)) command.log(line);
  }
  for (const line of nextSteps(result, cwd)) command.log(line);
  if (!command.jsonEnabled())
    for (const line of output.summary?.(result, cwd) ?? []) command.logToStderr(line);
  return result;
}

export function displayPath(path: string, cwd: string = process.cwd()): string {
  return display(path, cwd);
}
