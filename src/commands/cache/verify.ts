import { Errors, Flags } from '@oclif/core';
import { GatewayCommand } from '../../cli/gateway-command.js';
import { cacheLocationFlags } from '../../cli/cache-location-flags.js';
import { outputWidth, renderCsv, renderFittedTable } from '../../cli/fit-table.js';
import type { TableColumn } from '../../cli/fit-table.js';
import { countOf, startProgress } from '../../cli/progress-display.js';
import type { ProgressDisplay } from '../../cli/progress-display.js';
import { orderRows, parseTableOptions, tableFlags } from '../../cli/table-options.js';
import type { TableOptions } from '../../cli/table-options.js';
import { renderError } from '../../cli/render-error.js';
import { toGatewayError } from '../../core/errors.js';
import { formatByteSize } from '../../core/cache/byte-size.js';
import { resolveCacheLocation } from '../../core/cache/cache-location.js';
import { parseVerifySelection, verifyCache } from '../../core/cache/cache-verify.js';
import type { VerifiedEntry, VerifyResult, VerifyStatus } from '../../core/cache/cache-verify.js';
import { key } from '../../core/config-key.js';

const STATUS_TEXT: Record<VerifyStatus, string> = {
  ok: 'ok',
  'size-mismatch': 'size mismatch',
  'hash-mismatch': 'hash mismatch',
  'missing-bytes': 'missing bytes',
  'unreadable-metadata': 'unreadable metadata',
  'unreadable-bytes': 'unreadable bytes',
};

interface VerifyRow {
  entry: VerifiedEntry;
  dryRun: boolean;
}

const sizeOf = (entry: VerifiedEntry): number | undefined => entry.recordedSize ?? entry.actualSize;

/** The columns of `cache verify` (docs/cache.md, "mender-gw cache verify"). */
const VERIFY_COLUMNS: TableColumn<VerifyRow>[] = [
  {
    id: 'artifact',
    header: 'Artifact',
    text: (r) => r.entry.artifactName ?? '(unknown)',
    raw: (r) => r.entry.artifactName,
    shownByDefault: true,
    priority: 10,
    shorten: 'middle',
    minWidth: 16,
  },
  {
    id: 'size',
    header: 'Size',
    align: 'right',
    text: (r) => {
      const size = sizeOf(r.entry);
      return size === undefined ? '-' : formatByteSize(size);
    },
    raw: (r) => sizeOf(r.entry),
    shownByDefault: true,
    priority: 4,
    shorten: 'none',
  },
  {
    id: 'result',
    header: 'Result',
    text: (r) => STATUS_TEXT[r.entry.status],
    raw: (r) => r.entry.status,
    shownByDefault: true,
    priority: 9,
    shorten: 'end',
    minWidth: 10,
  },
  {
    id: 'detail',
    header: 'Detail',
    text: (r) => r.entry.reason ?? '',
    raw: (r) => r.entry.reason,
    shownByDefault: true,
    priority: 5,
    shorten: 'middle',
    minWidth: 12,
  },
  {
    id: 'action',
    header: 'Action',
    text: (r) => actionText(r.entry, r.dryRun),
    raw: (r) => actionText(r.entry, r.dryRun),
    shownByDefault: true,
    priority: 6,
    shorten: 'end',
  },
  {
    id: 'key',
    header: 'Key',
    text: (r) => r.entry.key.slice(0, 12),
    raw: (r) => r.entry.key,
    shownByDefault: true,
    priority: 8,
    shorten: 'prefix',
  },
  {
    id: 'sha256',
    header: 'SHA-256',
    text: (r) => r.entry.recordedSha256 ?? '-',
    raw: (r) => r.entry.recordedSha256,
    shownByDefault: false,
    priority: 1,
    shorten: 'middle',
  },
  {
    id: 'quarantined-to',
    header: 'Quarantined to',
    text: (r) => r.entry.quarantinedTo ?? '-',
    raw: (r) => r.entry.quarantinedTo,
    shownByDefault: false,
    priority: 1,
    shorten: 'middle',
  },
];

export default class CacheVerify extends GatewayCommand {
  static override summary =
    'Re-hash the cached artifacts against the size and SHA-256 recorded at download; quarantine bad ones.';

  static override description = `Reads every complete entry of the artifact cache and compares its size and SHA-256 with the ones recorded when it was downloaded, to find files truncated or altered on disk (a failing volume, a stray write, a restore from backup). Results: ok, size-mismatch, hash-mismatch, missing-bytes, unreadable-metadata, unreadable-bytes.

Bad entries are moved, never deleted, into quarantine/<key>.<timestamp>/ inside the cache directory, with a verify.json saying what was wrong; serve downloads such an artifact again from storage the next time a device asks for it. --no-quarantine (or --dry-run) only reports. Safe while serve runs: a device already downloading a moved file keeps reading it, and downloads in progress are left alone.

Only bad entries are listed (--verbose: every entry), in a table that fits the terminal; --columns, --sort and --csv choose, order and export the columns. The one-line summary goes to stderr, with a progress line while it runs when stderr is a terminal.

Exit status: 0 when every entry checked is ok (also when none was selected); 1 when bad entries were found (quarantined or not), or the cache or configuration cannot be used; 2 for a usage error.

The directory is ${key('Features.ArtifactsProxy.ArtifactsCache.Path')} of the configuration (with its environment overrides), or --path.`;

  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --config /etc/mender/mender-gateway.conf --dry-run',
    '<%= config.bin %> <%= command.id %> --path /var/cache/mender-gateway --key 33dee533fbd6 --json',
    '<%= config.bin %> <%= command.id %> --artifact release-2.4 --no-quarantine',
  ];

  static override enableJsonFlag = true;

  static override flags = {
    ...cacheLocationFlags,
    quarantine: Flags.boolean({
      summary: 'Move bad entries to quarantine/ in the cache directory (--no-quarantine: only report).',
      default: true,
      allowNo: true,
    }),
    'dry-run': Flags.boolean({
      summary: 'Report what would be quarantined; move nothing (same as --no-quarantine).',
    }),
    key: Flags.string({
      helpValue: 'KEY',
      summary: 'Only the entries whose key starts with this (the Key column of cache ls).',
    }),
    artifact: Flags.string({
      helpValue: 'NAME',
      summary: 'Only the entries of this artifact name, as recorded at download.',
    }),
    verbose: Flags.boolean({
      summary: 'List every entry checked, not only the bad ones.',
    }),
    ...tableFlags(VERIFY_COLUMNS.map((column) => column.id)),
  };

  async run(): Promise<VerifyResult> {
    const { flags } = await this.parse(CacheVerify);
    const json = this.jsonEnabled();
    let result: VerifyResult;
    let table: TableOptions<VerifyRow>;
    const started = performance.now();
    let progress: ProgressDisplay | undefined;
    try {
      table = parseTableOptions(VERIFY_COLUMNS, flags, 'MGW_CACHE_INVALID_INPUT');
      const selection = parseVerifySelection({ key: flags.key, artifact: flags.artifact });
      const location = await resolveCacheLocation({ path: flags.path, configPath: flags.config });
      for (const warning of location.warnings) this.logToStderr(`warning: ${warning}`);
      progress = startProgress('Verifying the cache', { json });
      const display = progress;
      result = await verifyCache(location.dir, {
        quarantine: flags.quarantine && !flags['dry-run'],
        selection,
        onProgress: display.drawing
          ? (p) =>
              display.update(
                `${countOf(p.done, p.total)} entries, ${formatByteSize(p.bytes)} of ${formatByteSize(p.totalBytes)}`,
              )
          : undefined,
      });
      progress.stop();
    } catch (err) {
      progress?.stop('failed');
      if (json) throw toGatewayError(err);
      const { text, exitCode } = renderError(err);
      this.logToStderr(text);
      this.exit(exitCode);
    }
    if (!json) {
      const dryRun = flags['dry-run'];
      const rows = orderRows(
        result.entries
          .filter((entry) => flags.verbose || table.csv || entry.status !== 'ok')
          .map((entry) => ({ entry, dryRun })),
        table,
      );
      if (table.csv) process.stdout.write(renderCsv(rows, table.columns));
      else if (rows.length > 0) {
        for (const line of renderFittedTable(rows, table.columns, {
          width: outputWidth(),
          explicit: table.explicit,
        }))
          this.log(line);
      }
      const seconds = (performance.now() - started) / 1000;
      for (const line of verifySummary(result, dryRun, seconds)) this.logToStderr(line);
    }
    if (result.totals.bad === 0) return result;
    // oclif prints a returned result under --json only on success: print it ourselves so a
    // script gets the same document either way, then exit 1 (as `config validate` does).
    if (json) this.logJson(result);
    this.exit(1);
  }

  /**
   * `this.exit(1)` throws an ExitError; oclif's default `catch` would print it as a second,
   * error-shaped JSON document under --json, after the result already on stdout.
   */
  override async catch(err: Error & { exitCode?: number }): Promise<unknown> {
    if (err instanceof Errors.ExitError) throw err;
    return super.catch(err);
  }
}

/** The one-line summary and what the operator should know, for stderr. */
function verifySummary(result: VerifyResult, dryRun: boolean, seconds: number): string[] {
  const lines: string[] = [];
  const count = (n: number, one: string, many: string): string => `${n} ${n === 1 ? one : many}`;
  const { totals } = result;
  if (result.entries.length === 0) {
    const selected = result.selection.keyPrefix !== undefined || result.selection.artifactName !== undefined;
    lines.push(`No ${selected ? 'cache entries match the selection' : 'cached artifacts'} in ${result.dir}.`);
  }
  const outcome = [`${totals.ok} ok`];
  if (totals.quarantined > 0) outcome.push(`${totals.quarantined} quarantined`);
  const left = totals.bad - totals.quarantined;
  if (left > 0)
    outcome.push(`${left} bad ${dryRun || !result.quarantine ? 'left in place' : 'kept changing'}`);
  lines.push(
    `verified ${count(totals.checked, 'entry', 'entries')} (${formatByteSize(totals.bytesHashed)}) in ${seconds.toFixed(1)} s: ${totals.bad === 0 ? 'all ok' : outcome.join(', ')}`,
  );
  if (totals.quarantined > 0) {
    lines.push(
      `Quarantined ${count(totals.quarantined, 'entry', 'entries')} in ${result.quarantineDir}; serve downloads ${totals.quarantined === 1 ? 'it' : 'them'} again when a device asks.`,
    );
  }
  if (left > 0) {
    const how = result.quarantine
      ? 'they kept changing while being checked; run verify again'
      : dryRun
        ? 'run without --dry-run to quarantine'
        : 'run without --no-quarantine to quarantine';
    lines.push(`${count(left, 'bad entry', 'bad entries')} left in place (${how}).`);
  }
  if (result.fillsInProgress > 0) {
    lines.push(`${count(result.fillsInProgress, 'download', 'downloads')} in progress left alone.`);
  }
  return lines;
}

function actionText(entry: VerifiedEntry, dryRun: boolean): string {
  if (entry.action === 'quarantined') return 'quarantined';
  if (entry.action === 'left') return dryRun ? 'would quarantine' : 'left in place';
  return '';
}
