import { describe, expect, it } from 'vitest';
import { outputWidth, renderCsv, renderFittedTable, truncateMiddle } from '../../../src/cli/fit-table.js';
import type { TableColumn } from '../../../src/cli/fit-table.js';
import { orderRows, parseTableOptions } from '../../../src/cli/table-options.js';
import { csvField } from '../../../src/core/csv-field.js';
import { isGatewayError } from '../../../src/core/errors.js';

/** The table fitting and CSV of `cache ls`/`cache verify` (docs/cache.md, "Tables, columns and CSV"). */

interface Row {
  name: string;
  size: number;
  note: string;
}

const column = (
  id: keyof Row,
  priority: number,
  shorten: TableColumn<Row>['shorten'],
  shownByDefault = true,
): TableColumn<Row> => ({
  id,
  header: id.toUpperCase(),
  text: (r) => String(r[id]),
  raw: (r) => r[id],
  shownByDefault,
  priority,
  shorten,
});

const COLUMNS = [column('name', 10, 'middle'), column('size', 9, 'none'), column('note', 1, 'end')];
const rows: Row[] = [
  { name: `release-${'x'.repeat(60)}-arm64`, size: 3, note: 'a rather long note about this entry' },
  { name: 'short', size: 12345, note: '' },
];

describe('renderFittedTable', () => {
  it('fits any width from 20 to 200: no line is wider', () => {
    for (let width = 20; width <= 200; width++) {
      for (const line of renderFittedTable(rows, COLUMNS, { width, explicit: false })) {
        expect(Array.from(line).length, `width ${width}: ${line}`).toBeLessThanOrEqual(width);
      }
    }
  });

  it('leaves out the least important column before shortening names below their minimum', () => {
    const lines = renderFittedTable(rows, COLUMNS, { width: 30, explicit: false });
    expect(lines[1]).toMatch(/NAME.*SIZE/);
    expect(lines[1]).not.toContain('NOTE');
    expect(lines.join('\n')).toMatch(/release-x*…x*-arm64/);
  });

  it('explicit columns are all kept, shortened further instead', () => {
    const lines = renderFittedTable(rows, COLUMNS, { width: 30, explicit: true });
    expect(lines[1]).toMatch(/NAME.*SIZE.*NO/);
  });
});

describe('truncateMiddle', () => {
  it('keeps the start and the end around one …', () => {
    expect(truncateMiddle('abcdefghij', 5)).toBe('ab…ij');
    expect(truncateMiddle('abc', 5)).toBe('abc');
    expect(truncateMiddle('😀😀😀😀😀😀', 3)).toBe('😀…😀');
  });
});

describe('CSV', () => {
  it('quotes fields with commas, quotes and line breaks (RFC 4180 §2)', () => {
    expect(csvField('plain')).toBe('plain');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('two\nlines')).toBe('"two\nlines"');
    expect(csvField(undefined)).toBe('');
    expect(csvField(42)).toBe('42');
  });

  it('a header of column names, then one CRLF-terminated record per row', () => {
    expect(renderCsv(rows.slice(1), COLUMNS)).toBe('name,size,note\r\nshort,12345,\r\n');
  });
});

describe('table options', () => {
  it('--columns picks and orders; an unknown name is the given code listing the columns', () => {
    expect(
      parseTableOptions(COLUMNS, { columns: 'note,name' }, 'MGW_CACHE_INVALID_INPUT').columns.map(
        (c) => c.id,
      ),
    ).toEqual(['note', 'name']);
    try {
      parseTableOptions(COLUMNS, { columns: 'nope' }, 'MGW_CACHE_INVALID_INPUT');
      expect.unreachable();
    } catch (err) {
      expect(isGatewayError(err) && err.code).toBe('MGW_CACHE_INVALID_INPUT');
      expect(isGatewayError(err) && err.hint).toBe('the columns are: name, size, note');
    }
  });

  it('--sort numbers numerically, - descending, --reverse flips', () => {
    const data: Row[] = [
      { name: 'b', size: 10, note: '' },
      { name: 'a', size: 9, note: '' },
      { name: 'c', size: 100, note: '' },
    ];
    const order = (flags: { sort?: string; reverse?: boolean }): string[] =>
      orderRows(data, parseTableOptions(COLUMNS, flags, 'MGW_CACHE_INVALID_INPUT')).map((r) => r.name);
    expect(order({ sort: 'size' })).toEqual(['a', 'b', 'c']);
    expect(order({ sort: '-size' })).toEqual(['c', 'b', 'a']);
    expect(order({ sort: 'name', reverse: true })).toEqual(['c', 'b', 'a']);
    expect(order({ reverse: true })).toEqual(['c', 'a', 'b']);
  });
});

describe('outputWidth', () => {
  it('COLUMNS, else the terminal width, else 80', () => {
    expect(outputWidth({ isTTY: true, columns: 120 }, { COLUMNS: '100' })).toBe(100);
    expect(outputWidth({ isTTY: true, columns: 120 }, {})).toBe(120);
    expect(outputWidth({ isTTY: false }, {})).toBe(80);
    expect(outputWidth({ isTTY: true, columns: 0 }, { COLUMNS: 'wide' })).toBe(80);
  });
});
