import { stripVTControlCharacters } from 'node:util';
import { Errors } from '@oclif/core';
import { GatewayError, isGatewayError, toGatewayError } from '../core/errors.js';
import { renderError } from './render-error.js';
import { exitCodeOf } from './exit-codes.js';

/**
 * One error contract for every failure the CLI reports, whoever raised it: the project's
 * own `GatewayError`s and oclif's parse errors alike become `CODE: message` plus `hint: …`
 * on stderr, or exactly one `{"error":{"code","message","hint"}}` document on stdout under
 * `--json`, and exit with the code's status (2 for usage errors, see docs/operator-guide.md).
 * oclif's own rendering would print its whole parser context under `--json` (every command's
 * manifest and the package.json) and exit 1, so it is never used.
 */

/** The `--json` failure document. `details` only when the error carries structured detail. */
export interface ErrorDocument {
  error: { code: string; message: string; hint: string | null; details?: unknown };
}

/** True for oclif's "exit with this status" signal (`this.exit(n)`), which is not a failure to report. */
export function isExitSignal(err: unknown): err is Errors.ExitError {
  return err instanceof Errors.ExitError || (err as { code?: unknown } | null)?.code === 'EEXIT';
}

/** How a command was written on the command line: `cache ls`, not oclif's `cache:ls`. */
export function commandLine(id: string | undefined, bin: string): string {
  return id === undefined || id === '' ? bin : `${bin} ${id.replaceAll(':', ' ')}`;
}

/**
 * oclif's parse messages are multi-line, coloured and end with "See more help with --help";
 * keep the facts and put the pointer to help in the hint.
 */
function usageMessage(raw: string): string {
  const lines = stripVTControlCharacters(raw)
    .split('\n')
    .map((line) => line.trim())
    .filter(
      (line) =>
        line !== '' &&
        !/^The following errors? occurred:$/.test(line) &&
        !line.startsWith('See more help with'),
    );
  return lines.join('; ').replace(/^Parsing (--\S+); /, 'Parsing $1: ');
}

/** Any throwable as the GatewayError the CLI reports. */
export function toCliError(err: unknown, command?: string): GatewayError {
  if (isGatewayError(err)) return err;
  const oclif = (err as { oclif?: { exit?: unknown } } | null)?.oclif;
  const isParse = typeof err === 'object' && err !== null && 'parse' in err;
  if (err instanceof Errors.CLIError && (isParse || oclif?.exit === 2 || oclif?.exit === undefined)) {
    return new GatewayError('MGW_USAGE', usageMessage(err.message), {
      hint: `Run "${command ?? 'mender-gw'} --help" for the flags and arguments it takes.`,
    });
  }
  return toGatewayError(err);
}

export function errorDocument(error: GatewayError): ErrorDocument {
  return {
    error: {
      code: error.code,
      message: error.message,
      hint: error.hint ?? null,
      ...(error.details === undefined ? {} : { details: error.details }),
    },
  };
}

/** True when `--json` is among the flags (before a `--` that ends them). */
export function wantsJson(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  const flags = end === -1 ? argv : argv.slice(0, end);
  return flags.includes('--json');
}

/**
 * Print `err` per the contract and return the exit status. `ExitError`s (a command that
 * already reported and chose its status) print nothing.
 */
export function reportCliError(
  err: unknown,
  options: { json: boolean; command?: string | undefined },
  io: { stdout: (text: string) => void; stderr: (text: string) => void },
): number {
  if (isExitSignal(err)) return err.oclif.exit ?? 1;
  const error = toCliError(err, options.command);
  if (options.json) {
    io.stdout(JSON.stringify(errorDocument(error)));
    return exitCodeOf(error.code);
  }
  const { text, exitCode } = renderError(error.code === 'MGW_INTERNAL' ? err : error);
  io.stderr(text);
  return exitCode;
}
