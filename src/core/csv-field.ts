/** One CSV field (RFC 4180 §2): quoted when it holds a comma, a quote or a line break. */
export function csvField(value: string | number | undefined): string {
  const text = value === undefined ? '' : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** RFC 4180 records: fields joined by commas, each record ended by CRLF. */
export function csvRecords(records: readonly (readonly (string | number | undefined)[])[]): string {
  return records.map((fields) => `${fields.map(csvField).join(',')}\r\n`).join('');
}
