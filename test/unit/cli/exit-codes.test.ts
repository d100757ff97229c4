import { describe, expect, it } from 'vitest';
import { exitCodeOf } from '../../../src/cli/exit-codes.js';
import { ERROR_CODES } from '../../../src/core/errors.js';
import type { ErrorCode } from '../../../src/core/errors.js';

/** The exit statuses docs/operator-guide.md ("Command-line errors") promises, for every code. */
describe('exit status of each error code', () => {
  const codes = Object.keys(ERROR_CODES) as ErrorCode[];

  it.each(codes)('%s', (code) => {
    // Input the operator must change exits 2, like a usage error; a bug 70; anything else 1.
    const expected =
      code === 'MGW_USAGE' || code.endsWith('_INVALID_INPUT') ? 2 : code === 'MGW_INTERNAL' ? 70 : 1;
    expect(exitCodeOf(code)).toBe(expected);
  });
});
