import { Flags } from '@oclif/core';
import { GatewayError } from '../core/errors.js';
import type { ErrorCode } from '../core/errors.js';
import type { TableColumn } from './fit-table.js';

/**
 * `--columns`, `--sort`, `--reverse` and `--csv` of the commands that print tables
 * (docs/cache.md, "Tables, columns and CSV"). A column name that does not exist is a usage
 * error of the command's own input code, listing the names that do.
 */

export function tableFlags(columnIds: readonly string[]) {
  const list = columnIds.join(', ');
  return {
    columns: Flags.string({
      summary: `Columns to show, in this order, comma-separated: ${list}.`,
      helpValue: 'COL,COL',
    }),
    sort: Flags.string({
      summary: 'Sort the rows by this column (a name of --columns); --sort=-COLUMN sorts descending.',
      helpValue: '[-]COLUMN',
    }),
    reverse: Flags.boolean({
      summary: 'Reverse the order of the rows (after --sort).',
    }),
    csv: Flags.boolean({
      summary:
        'Print CSV (RFC 4180) with full values instead of a table: all columns, or those of --columns.',
      exclusive: ['json'],
    }),
  };
}

export interface TableOptions<Row> {
  columns: TableColumn<Row>[];
  /** True when `--columns` chose them. */
  explicit: boolean;
  sort: { column: TableColumn<Row>; descending: boolean } | undefined;
  reverse: boolean;
  csv: boolean;
}

export function parseTableOptions<Row>(
  all: readonly TableColumn<Row>[],
  flags: { columns?: string | undefined; sort?: string | undefined; reverse?: boolean; csv?: boolean },
  code: ErrorCode,
): TableOptions<Row> {
  const names = all.map((column) => column.id).join(', ');
  const find = (flag: string, name: string): TableColumn<Row> => {
    const column = all.find((c) => c.id === name.trim().toLowerCase());
    if (column === undefined) {
      throw new GatewayError(code, `${flag}: there is no column "${name.trim()}"`, {
        hint: `the columns are: ${names}`,
      });
    }
    return column;
  };
  let columns: TableColumn<Row>[];
  if (flags.columns === undefined) {
    columns = flags.csv === true ? [...all] : all.filter((column) => column.shownByDefault);
  } else {
    const wanted = flags.columns.split(',').filter((name) => name.trim() !== '');
    if (wanted.length === 0) {
      throw new GatewayError(code, '--columns: no column named', { hint: `the columns are: ${names}` });
    }
    columns = [...new Set(wanted.map((name) => find('--columns', name)))];
  }
  let sort: TableOptions<Row>['sort'];
  if (flags.sort !== undefined) {
    const descending = flags.sort.startsWith('-');
    sort = { column: find('--sort', descending ? flags.sort.slice(1) : flags.sort), descending };
  }
  return {
    columns,
    explicit: flags.columns !== undefined,
    sort,
    reverse: flags.reverse ?? false,
    csv: flags.csv ?? false,
  };
}

/** Rows in the order the options ask for; equal values keep the command's own order. */
export function orderRows<Row>(rows: readonly Row[], options: TableOptions<Row>): Row[] {
  const ordered = [...rows];
  if (options.sort !== undefined) {
    const { column, descending } = options.sort;
    const direction = descending ? -1 : 1;
    ordered.sort((a, b) => {
      const x = column.raw(a);
      const y = column.raw(b);
      // Missing values ("-") stay last in either direction.
      if (x === undefined || y === undefined) return x === y ? 0 : x === undefined ? 1 : -1;
      return direction * compareValues(x, y);
    });
  }
  if (options.reverse) ordered.reverse();
  return ordered;
}

/** Numbers numerically, text alphabetically. */
function compareValues(a: string | number, b: string | number): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return String(a).localeCompare(String(b));
}
