import Table from 'cli-table3';
import { csvRecords } from '../core/csv-field.js';

/**
 * Tables that fit the terminal (docs/cache.md, "Tables, columns and CSV"): every column has a
 * name for `--columns`/`--sort`, a text for the table and a raw value for CSV and sorting.
 * Columns that are too wide are shortened (names in the middle, with `…`, so both the start
 * and the distinguishing end stay visible); when the terminal is too narrow for every default
 * column even then, the least important ones are left out. Full values stay in `--json` and
 * `--csv`.
 */

export interface TableColumn<Row> {
  /** The name on the command line and the CSV header: lower-case, `-` between words. */
  id: string;
  header: string;
  align?: 'left' | 'right' | undefined;
  /** The cell as the table shows it. */
  text: (row: Row) => string;
  /** The full value, for CSV and for sorting (numbers sort as numbers). */
  raw: (row: Row) => string | number | undefined;
  /** Shown without `--columns`. */
  shownByDefault: boolean;
  /** Default columns with a lower priority are left out first on a narrow terminal. */
  priority: number;
  /**
   * How a too-wide cell is shortened: `middle` (`release-…-arm64`), `end` (`complete, i…`),
   * `prefix` (cut without a mark: a shorter key prefix still selects the entry), `none`
   * (numbers: only as a last resort).
   */
  shorten: 'middle' | 'end' | 'prefix' | 'none';
  /** Never shortened below this (default 8), unless the terminal leaves no other choice. */
  minWidth?: number | undefined;
}

/** Borders and padding: `│ a │ b │` is 3 characters per column plus 1. */
const OVERHEAD_PER_COLUMN = 3;
/** Below this a cell says nothing; only reached when the columns were chosen explicitly. */
const HARD_MIN_WIDTH = 3;

/** Code points, so a character outside the BMP is never cut in half. */
const chars = (text: string): string[] => Array.from(text);

/** `release-2024-12-…-arm64`: the start and the end stay visible. */
export function truncateMiddle(text: string, width: number): string {
  const points = chars(text);
  if (points.length <= width) return text;
  if (width <= 1) return '…'.slice(0, Math.max(0, width));
  const keep = width - 1;
  const head = Math.ceil(keep / 2);
  const tail = keep - head;
  return `${points.slice(0, head).join('')}…${tail > 0 ? points.slice(points.length - tail).join('') : ''}`;
}

function truncateEnd(text: string, width: number): string {
  const points = chars(text);
  if (points.length <= width) return text;
  if (width <= 1) return '…'.slice(0, Math.max(0, width));
  return `${points.slice(0, width - 1).join('')}…`;
}

function shorten(text: string, width: number, how: TableColumn<unknown>['shorten']): string {
  if (chars(text).length <= width) return text;
  switch (how) {
    case 'middle':
      return truncateMiddle(text, width);
    case 'prefix':
      return chars(text).slice(0, width).join('');
    case 'end':
    case 'none':
      return truncateEnd(text, width);
  }
}

const length = (text: string): number => chars(text).length;

/**
 * The width tables must fit: `COLUMNS` when set (as most tools read it), else the terminal's
 * width when stdout is one, else 80 (a pipe, a file, journald).
 */
export function outputWidth(
  stream: { isTTY?: boolean; columns?: number } = process.stdout,
  env: NodeJS.ProcessEnv = process.env,
): number {
  const fromEnv = Number(env.COLUMNS);
  if (Number.isInteger(fromEnv) && fromEnv > 0) return fromEnv;
  if (stream.isTTY === true && typeof stream.columns === 'number' && stream.columns > 0)
    return stream.columns;
  return 80;
}

/**
 * The table as lines no wider than `width`. `explicit`: the columns were chosen with
 * `--columns`, so none is left out; they are shortened further instead.
 */
export function renderFittedTable<Row>(
  rows: readonly Row[],
  columns: readonly TableColumn<Row>[],
  options: { width: number; explicit: boolean },
): string[] {
  const natural = (column: TableColumn<Row>): number =>
    Math.max(length(column.header), ...rows.map((row) => length(column.text(row))), 1);
  /** `soft`: the column's minimum; `hard`: names down to a stub, numbers whole; `last`: everything. */
  const floor = (column: TableColumn<Row>, level: 'soft' | 'hard' | 'last'): number => {
    if (column.shorten === 'none' && level !== 'last') return natural(column);
    return Math.min(natural(column), level === 'soft' ? (column.minWidth ?? 8) : HARD_MIN_WIDTH);
  };
  const room = (count: number): number => options.width - OVERHEAD_PER_COLUMN * count - 1;
  const sum = (values: number[]): number => values.reduce((total, w) => total + w, 0);

  // Leave out the least important default columns until the others fit at their minimum.
  let shown = [...columns];
  const fits = (level: 'soft' | 'hard'): boolean =>
    sum(shown.map((c) => floor(c, level))) <= room(shown.length);
  while (!options.explicit && shown.length > 1 && !fits('soft')) {
    const least = shown.reduce((low, c) => (c.priority < low.priority ? c : low));
    shown = shown.filter((c) => c !== least);
  }
  const level = fits('soft') ? 'soft' : fits('hard') ? 'hard' : 'last';
  const cells = shown.map((column) => ({ column, width: floor(column, level), natural: natural(column) }));
  // Share what is left in proportion to what each column would still like to have.
  let spare = Math.max(0, room(cells.length) - sum(cells.map((c) => c.width)));
  const wanted = sum(cells.map((c) => c.natural - c.width));
  if (wanted <= spare) {
    for (const cell of cells) cell.width = cell.natural;
  } else {
    for (const cell of cells) {
      const share = Math.floor(((cell.natural - cell.width) * spare) / wanted);
      cell.width += share;
    }
    spare = Math.max(0, room(cells.length) - sum(cells.map((c) => c.width)));
    for (const cell of cells) {
      if (spare === 0) break;
      if (cell.width < cell.natural) {
        cell.width++;
        spare--;
      }
    }
  }

  const table = new Table({
    head: cells.map(({ column, width }) => truncateEnd(column.header, width)),
    colWidths: cells.map(({ width }) => width + 2),
    colAligns: cells.map(({ column }) => column.align ?? 'left'),
    style: { head: [], border: [], compact: true },
    wordWrap: false,
  });
  table.push(
    ...rows.map((row) => cells.map(({ column, width }) => shorten(column.text(row), width, column.shorten))),
  );
  return table.toString().split('\n');
}

/** RFC 4180 CSV: a header of column names, then one record per row, CRLF line breaks. */
export function renderCsv<Row>(rows: readonly Row[], columns: readonly TableColumn<Row>[]): string {
  return csvRecords([
    columns.map((column) => column.id),
    ...rows.map((row) => columns.map((column) => column.raw(row))),
  ]);
}
