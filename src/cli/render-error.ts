import { isGatewayError, toGatewayError } from '../core/errors.js';
import type { ConfigIssue } from '../core/config/gateway-config.js';
import { formatConfigIssue } from '../core/config/index.js';
import { exitCodeOf } from './exit-codes.js';

/**
 * Turn any failure into the text a command prints: what went wrong, where, and what to do
 * next (CONTRIBUTING.md §6). Config errors list every issue, one per line.
 */
export function renderError(err: unknown): { text: string; exitCode: number } {
  const error = toGatewayError(err);
  const lines = [`${error.code}: ${error.message}`];
  if (isConfigIssueList(error.details)) {
    for (const issue of error.details) lines.push(`  ${formatConfigIssue(issue)}`);
  }
  if (error.hint !== undefined) lines.push(`hint: ${error.hint}`);
  if (
    !isGatewayError(err) &&
    err instanceof Error &&
    err.stack !== undefined &&
    process.env.DEBUG !== undefined
  ) {
    lines.push(err.stack);
  }
  return { text: lines.join('\n'), exitCode: exitCodeOf(error.code) };
}

function isConfigIssueList(details: unknown): details is ConfigIssue[] {
  return (
    Array.isArray(details) &&
    details.every(
      (d) => typeof d === 'object' && d !== null && 'severity' in d && 'path' in d && 'message' in d,
    )
  );
}
