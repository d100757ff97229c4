/**
 * Byte sizes as operators write them (`cache prune --max-size`) and as `cache ls` prints them.
 *
 * Parsing follows GNU coreutils (`du`, `sort -S`, `truncate -s`), the convention on the
 * machines the gateway runs on: a bare `K`, `M`, `G`, `T` and the IEC `KiB`, `MiB`, `GiB`,
 * `TiB` are powers of 1024; `KB`, `MB`, `GB`, `TB` are powers of 1000; `B` or no unit is
 * bytes. Units are case-insensitive; a decimal number is allowed with a unit (`1.5G`) and
 * the result is rounded down to whole bytes. Anything else is an error, never a guess.
 */

const KIB = 1024;
const UNITS: ReadonlyMap<string, number> = new Map([
  ['', 1],
  ['b', 1],
  ['k', KIB],
  ['kib', KIB],
  ['kb', 1e3],
  ['m', KIB ** 2],
  ['mib', KIB ** 2],
  ['mb', 1e6],
  ['g', KIB ** 3],
  ['gib', KIB ** 3],
  ['gb', 1e9],
  ['t', KIB ** 4],
  ['tib', KIB ** 4],
  ['tb', 1e12],
]);

const UNIT_LIST = 'B, K/KiB, M/MiB, G/GiB, T/TiB (powers of 1024) or KB, MB, GB, TB (powers of 1000)';

/** Parse `10GiB`, `500M`, `1.5G`, `2TB`, `1048576` into bytes. Throws a plain `Error` naming the problem. */
export function parseByteSize(input: string): number {
  const fail = (why: string): never => {
    throw new Error(`invalid size ${JSON.stringify(input)}: ${why}`);
  };
  const match = /^\s*(\d+(?:\.\d*)?|\.\d+)\s*([a-z]*)\s*$/i.exec(input);
  if (match === null) {
    if (input.trim() === '') fail('empty (use e.g. "10GiB" or "500M")');
    if (/^\s*-/.test(input)) fail('a size cannot be negative');
    fail('expected a number and an optional unit, e.g. "10GiB", "500M", "1.5G" or a number of bytes');
  }
  const [, number = '', unitText = ''] = match ?? [];
  const multiplier = UNITS.get(unitText.toLowerCase());
  if (multiplier === undefined) return fail(`unknown unit ${JSON.stringify(unitText)} (use ${UNIT_LIST})`);
  if (multiplier === 1 && number.includes('.')) fail('a number of bytes must be a whole number');
  const bytes = Math.floor(Number(number) * multiplier);
  if (!Number.isSafeInteger(bytes)) fail('too large');
  return bytes;
}

/** `1536` → `1.5 KiB`: IEC units, one decimal from KiB up, so columns stay short. */
export function formatByteSize(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return `${bytes} B`;
  if (bytes < KIB) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let value = bytes / KIB;
  let unit = 0;
  while (value >= KIB && unit < units.length - 1) {
    value /= KIB;
    unit++;
  }
  // 1023.96 KiB would print as "1024.0 KiB": move up instead.
  if (Number(value.toFixed(1)) >= KIB && unit < units.length - 1) {
    value /= KIB;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit] ?? 'PiB'}`;
}
