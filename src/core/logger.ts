import { pino } from 'pino';
import type { DestinationStream, Logger } from 'pino';

export type { Logger } from 'pino';

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * Paths pino blanks out wherever they appear. This is the safety net; the first line of
 * defence is not to log secrets at all: access lines carry the path without its query
 * (presigned signatures live there) and never headers (protocol doc §6.7).
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
    destination,
  );
}

/** Drop the query of a URL or request target before logging it: presigned links carry signatures there. */
export function withoutQuery(target: string): string {
  const q = target.indexOf('?');
  return q === -1 ? target : target.slice(0, q);
}
