import type { ErrorCode } from '../core/errors.js';

/**
 * The CLI's view of the error codes: a command's exit status (docs/operator-guide.md,
 * "Command-line errors"). 1 for a failure, 2 for input the operator must change (as for a usage
 * error: the same command cannot work again unchanged), 70 for a bug (EX_SOFTWARE in BSD's
 * sysexits(3), https://man.freebsd.org/cgi/man.cgi?query=sysexits). The gateway's view (the HTTP
 * status) is in `src/core/errors.ts`.
 */
const EXIT_CODES: Partial<Record<ErrorCode, number>> = {
  MGW_USAGE: 2,
  MGW_CACHE_INVALID_INPUT: 2,
  MGW_PKI_INVALID_INPUT: 2,
  MGW_PROVISIONING_INVALID_INPUT: 2,
  MGW_SETUP_INVALID_INPUT: 2,
  MGW_INTERNAL: 70,
};

export function exitCodeOf(code: ErrorCode): number {
  return EXIT_CODES[code] ?? 1;
}
