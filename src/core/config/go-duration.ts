/**
 * Go `time.ParseDuration` / `Duration.String()` for configuration values.
 *
 * Mender Gateway is a Go program and documents durations such as
 * `ArtifactsCache.LinkExpireDuration: "30m"` (docs/protocol.md §6.2). Users copy values like
 * `"1h30m"` or `"500ms"` from its configs, so we accept exactly Go's syntax and reject
 * everything else loudly: npm's `ms` turns `"1h30m"` into `undefined`, which would silently
 * fall back to a default (docs/decisions.md §5).
 *
 * Syntax (Go `time.ParseDuration`): an optional sign, then `0`, or one or more
 * `<decimal><unit>` groups with no separators, where decimal is `12`, `1.5`, `.5` or `5.`
 * and unit is one of `ns us µs μs ms s m h`. The parser accepts negative values; whether a
 * negative duration makes sense is the caller's decision (the config layer rejects them).
 */

const NS_PER_UNIT: ReadonlyMap<string, bigint> = new Map([
  ['ns', 1n],
  ['us', 1_000n],
  ['µs', 1_000n], // U+00B5 MICRO SIGN, what Go itself prints
  ['μs', 1_000n], // U+03BC GREEK SMALL LETTER MU, also accepted by Go
  ['ms', 1_000_000n],
  ['s', 1_000_000_000n],
  ['m', 60_000_000_000n],
  ['h', 3_600_000_000_000n],
]);

const UNIT_LIST = 'ns, us, µs, ms, s, m or h';

/** Go durations are int64 nanoseconds; larger values are an error there too (≈ 2562047h). */
const MAX_NS = 2n ** 63n - 1n;

const isDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9';

/**
 * Parse a Go duration string and return it in milliseconds (fractional for sub-millisecond
 * values, e.g. `"1500us"` → 1.5). Throws a plain `Error` naming the problem.
 */
export function parseGoDuration(input: string): number {
  return Number(parseGoDurationNs(input)) / 1e6;
}

/** Like {@link parseGoDuration} but returns exact nanoseconds, as Go's `time.Duration` holds them. */
export function parseGoDurationNs(input: string): bigint {
  function fail(why: string): never {
    throw new Error(`invalid duration ${JSON.stringify(input)}: ${why}`);
  }
  if (input === '') fail('empty string (use e.g. "30s" or "0")');

  let i = 0;
  let negative = false;
  if (input[0] === '-' || input[0] === '+') {
    negative = input[0] === '-';
    i = 1;
  }
  const body = input.slice(i);
  // Go special-cases a bare "0" (optionally signed): the only unit-less value it accepts.
  if (body === '0') return 0n;
  if (body === '') fail('a sign must be followed by a number and a unit');

  let total = 0n;
  while (i < input.length) {
    const start = i;
    while (isDigit(input[i])) i++;
    const intDigits = input.slice(start, i);
    let fracDigits = '';
    const hasDot = input[i] === '.';
    if (hasDot) {
      i++;
      const fracStart = i;
      while (isDigit(input[i])) i++;
      fracDigits = input.slice(fracStart, i);
    }
    if (intDigits === '' && fracDigits === '') {
      if (hasDot) fail(`expected a digit next to "." at position ${start + 1}`);
      const c = input[i] ?? '';
      if (/[a-zµμ]/i.test(c)) fail(`expected a number before the unit at position ${i + 1}`);
      fail(`unexpected ${JSON.stringify(c)} at position ${i + 1}`);
    }

    const unitStart = i;
    while (i < input.length && !isDigit(input[i]) && input[i] !== '.') i++;
    const unit = input.slice(unitStart, i);
    if (unit === '') {
      fail(
        `missing unit after ${JSON.stringify(input.slice(start, i))} (use ${UNIT_LIST}, e.g. "${input.slice(start, i)}s")`,
      );
    }
    const perUnit = NS_PER_UNIT.get(unit);
    if (perUnit === undefined) {
      if (/\s/.test(unit))
        fail(
          `unexpected whitespace at position ${unitStart + unit.search(/\s/) + 1} (write "1h30m", not "1h 30m")`,
        );
      const days = /^(d|days?|w|weeks?)$/i.test(unit)
        ? '; Go has no unit for days or weeks: write "24h" or "168h"'
        : '';
      fail(`unknown unit ${JSON.stringify(unit)} (use ${UNIT_LIST}${days})`);
    }
    const whole = intDigits === '' ? 0n : BigInt(intDigits);
    // Go truncates the fractional nanoseconds rather than rounding; so do we.
    const frac = fracDigits === '' ? 0n : (BigInt(fracDigits) * perUnit) / 10n ** BigInt(fracDigits.length);
    total += whole * perUnit + frac;
    if (total > MAX_NS + (negative ? 1n : 0n)) fail('out of range (more than about 2562047h)');
  }
  return negative ? -total : total;
}

/**
 * Render milliseconds the way Go's `Duration.String()` does (`1h30m0s`, `500ms`, `1.5µs`,
 * `0s`), for messages and documentation. Sub-nanosecond fractions are rounded away.
 */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) throw new Error(`cannot format ${ms} as a duration`);
  const ns = BigInt(Math.round(ms * 1e6));
  return formatDurationNs(ns);
}

/** Go's `Duration.String()` for exact nanoseconds. */
export function formatDurationNs(ns: bigint): string {
  const sign = ns < 0n ? '-' : '';
  let u = ns < 0n ? -ns : ns;
  if (u === 0n) return '0s';
  if (u < 1_000_000_000n) {
    // Below one second Go switches to the largest unit that keeps an integer part.
    if (u < 1_000n) return `${sign}${u}ns`;
    if (u < 1_000_000n) return `${sign}${withFraction(u, 3)}µs`;
    return `${sign}${withFraction(u, 6)}ms`;
  }
  const seconds = withFraction(u % 60_000_000_000n, 9);
  u /= 60_000_000_000n; // whole minutes
  if (u === 0n) return `${sign}${seconds}s`;
  const minutes = u % 60n;
  const hours = u / 60n;
  if (hours === 0n) return `${sign}${minutes}m${seconds}s`;
  return `${sign}${hours}h${minutes}m${seconds}s`;
}

/** `value / 10^digits` as a decimal without trailing zeros (Go's `fmtFrac` + `fmtInt`). */
function withFraction(value: bigint, digits: number): string {
  const scale = 10n ** BigInt(digits);
  const whole = value / scale;
  const frac = (value % scale).toString().padStart(digits, '0').replace(/0+$/, '');
  return frac === '' ? whole.toString() : `${whole}.${frac}`;
}
