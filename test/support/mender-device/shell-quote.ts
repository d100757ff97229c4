/** Quote a string for POSIX sh: single quotes, with embedded `'` closed, escaped and reopened. */
export function shQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}
