import { pino } from 'pino';
import type { DestinationStream, Logger } from 'pino';

export type { Logger } from 'pino';

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * Paths pino blanks out wherever they appear. This is the safety net; the first line of
 * defence is not to log secrets at all: access lines carry the path without its query
 * (presigned signatures live there) and never headers (docs/protocol.md §6.7).
 */
const REDACT = [
  'password',
  '*.password',
  'MenderPassword',
  '*.MenderPassword',
  'SignatureSecret',
  '*.SignatureSecret',
  'authorization',
  '*.authorization',
  'headers.authorization',
  '*.headers.authorization',
  'headers.cookie',
  '*.headers.cookie',
  'token',
  '*.token',
  'jwt',
  '*.jwt',
];

/**
 * The gateway's structured logger: one JSON object per line on the given destination
 * (stdout for journald/Docker). The core receives it injected and never prints itself.
 */
export function createLogger(level: LogLevel, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { name: 'mender-gw' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACT, censor: '[redacted]' },
      formatters: { level: (label) => ({ level: label }) },
    },
    // Asynchronous, coalescing writes: a synchronous write(2) per access line cost a measurable
    // share of a relayed API call (benchmark M3 in docs/performance.md). Lines still go out as soon as the
    // previous
    // write completes, and pino flushes synchronously at exit; `serve` flushes on shutdown.
    destination ?? pino.destination({ dest: 1, sync: false }),
  );
}

/** Drop the query of a URL or request target before logging it: presigned links carry signatures there. */
export function withoutQuery(target: string): string {
  const q = target.indexOf('?');
  return q === -1 ? target : target.slice(0, q);
}

/**
 * The logger for access lines: the same destination and level, without redaction. Access lines
 * are built field by field from values that never hold a secret (method, path without its
 * query, status, sizes, address, the gateway's own error messages), so redaction there only
 * cost time: about 4 % of a relayed API call (benchmark M3 in docs/performance.md).
 * `security-secrets-in-logs.test.ts`
 * checks the lines themselves.
 */
export function accessLogger(logger: Logger): Logger {
  return logger.child({}, { redact: { paths: [], censor: '[redacted]' } });
}
