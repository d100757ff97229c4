import { parseGoDuration } from '../config/go-duration.js';

/**
 * Ages of cache entries: `cache prune --older-than` parses them, `cache ls` prints them.
 *
 * Input is a Go duration, the syntax of every duration in mender-gateway.conf (`720h`,
 * `1h30m`), or a whole or decimal number of days with `d` (`30d`, `1.5d`), which Go lacks
 * but an age limit for artifacts naturally is in. The two forms do not mix (`1d12h` is an
 * error: write `36h`). Negative ages are rejected.
 */

const DAY_MS = 24 * 60 * 60 * 1000;

/** Parse `30d`, `720h`, `90m` into milliseconds. Throws a plain `Error` naming the problem. */
export function parseEntryAge(input: string): number {
  const days = /^\s*(\d+(?:\.\d*)?|\.\d+)\s*d\s*$/i.exec(input);
  if (days !== null) return Number(days[1]) * DAY_MS;
  let ms: number;
  try {
    ms = parseGoDuration(input.trim());
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    // Go's parser already explains units; add the one form we accept beyond Go's.
    throw new Error(`${why}; days are written alone, e.g. "30d"`);
  }
  if (ms < 0) throw new Error(`invalid age ${JSON.stringify(input)}: an age cannot be negative`);
  return ms;
}

/** `3 * DAY_MS + 4h` → `3d 4h`; two units at most, for tables. */
export function formatEntryAge(ms: number): string {
  if (!Number.isFinite(ms)) return 'unknown';
  if (ms < 0) return 'in the future';
  const minutes = Math.floor(ms / 60_000);
  if (minutes < 1) return `${Math.floor(ms / 1000)}s`;
  if (minutes < 60) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return minutes % 60 === 0 ? `${hours}h` : `${hours}h ${minutes % 60}m`;
  const days = Math.floor(hours / 24);
  return hours % 24 === 0 ? `${days}d` : `${days}d ${hours % 24}h`;
}
