import { ux } from '@oclif/core';

/**
 * Signs of life for long work (`cert issue device --count`, `cache verify`, `cache prune`):
 * oclif's `ux.action` spinner on stderr with a count, only when stderr is a terminal (oclif
 * itself falls back to plain lines under `CI` or `TERM=dumb`, which we do not want either) and
 * never under `--json`. In a pipe, under CI or journald nothing is drawn; the command's
 * one-line summary is printed either way (docs/cache.md, "Progress and summaries").
 */

export interface ProgressDisplay {
  /** Whether anything is drawn. */
  readonly drawing: boolean;
  /** The text after the action, e.g. `12/42 entries, 1.2 GiB of 3.1 GiB`. */
  update(status: string): void;
  /** Ends the spinner, leaving `action... status` on its line; safe to call twice. */
  stop(status?: string): void;
}

export function canDrawProgress(options: {
  json: boolean;
  stderr?: { isTTY?: boolean };
  spinner?: boolean;
}): boolean {
  const stderr = options.stderr ?? process.stderr;
  const spinner = options.spinner ?? ux.action.type === 'spinner';
  return !options.json && stderr.isTTY === true && spinner;
}

const NOTHING: ProgressDisplay = { drawing: false, update: () => undefined, stop: () => undefined };

export function startProgress(action: string, options: { json: boolean; status?: string }): ProgressDisplay {
  if (!canDrawProgress({ json: options.json })) return NOTHING;
  let running = true;
  let last = options.status ?? '';
  ux.action.start(action, last);
  return {
    drawing: true,
    update(status) {
      if (!running || status === last) return;
      last = status;
      ux.action.status = status;
    },
    stop(status) {
      if (!running) return;
      running = false;
      ux.action.stop(status ?? last);
    },
  };
}

/** `12/42`, with the counts padded so the line does not jump while it grows. */
export function countOf(done: number, total: number): string {
  return `${String(done).padStart(String(total).length)}/${total}`;
}
