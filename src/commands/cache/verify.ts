import { Errors, Flags } from '@oclif/core';
import { GatewayCommand } from '../../cli/gateway-command.js';
import Table from 'cli-table3';
import { cacheLocationFlags } from '../../cli/cache-location-flags.js';
import { renderError } from '../../cli/render-error.js';
import { toGatewayError } from '../../core/errors.js';
import { formatByteSize } from '../../core/cache/byte-size.js';
import { resolveCacheLocation } from '../../core/cache/cache-location.js';
import { parseVerifySelection, verifyCache } from '../../core/cache/cache-verify.js';
import type { VerifiedEntry, VerifyResult, VerifyStatus } from '../../core/cache/cache-verify.js';
import { key } from '../../core/config-key.js';

export default class CacheVerify extends GatewayCommand {
  static override summary =
    'Re-hash the cached artifacts against the size and SHA-256 recorded at download; quarantine bad ones.';

  static override description = `Reads every complete entry of the artifact cache and compares its size and SHA-256 with the ones recorded when it was downloaded, to find files truncated or altered on disk (a failing volume, a stray write, a restore from backup). Results: ok, size-mismatch, hash-mismatch, missing-bytes, unreadable-metadata, unreadable-bytes.

Bad entries are moved, never deleted, into quarantine/<key>.<timestamp>/ inside the cache directory, with a verify.json saying what was wrong; serve downloads such an artifact again from storage the next time a device asks for it. --no-quarantine (or --dry-run) only reports. Safe while serve runs: a device already downloading a moved file keeps reading it, and downloads in progress are left alone.

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
      summary: 'Only the entries whose key starts with this (the Key column of cache ls).',
    }),
    artifact: Flags.string({
      summary: 'Only the entries of this artifact name, as recorded at download.',
    }),
  };

  async run(): Promise<VerifyResult> {
    const { flags } = await this.parse(CacheVerify);
    let result: VerifyResult;
    try {
      const selection = parseVerifySelection({ key: flags.key, artifact: flags.artifact });
      const location = await resolveCacheLocation({ path: flags.path, configPath: flags.config });
      for (const warning of location.warnings) this.logToStderr(`warning: ${warning}`);
      result = await verifyCache(location.dir, {
        quarantine: flags.quarantine && !flags['dry-run'],
        selection,
      });
    } catch (err) {
      if (this.jsonEnabled()) throw toGatewayError(err);
      const { text, exitCode } = renderError(err);
      this.logToStderr(text);
      this.exit(exitCode);
    }
    for (const line of renderVerify(result, flags['dry-run'])) this.log(line);
    if (result.totals.bad === 0) return result;
    // oclif prints a returned result under --json only on success: print it ourselves so a
    // script gets the same document either way, then exit 1 (as `config validate` does).
    if (this.jsonEnabled()) this.logJson(result);
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

const STATUS_TEXT: Record<VerifyStatus, string> = {
  ok: 'ok',
  'size-mismatch': 'size mismatch',
  'hash-mismatch': 'hash mismatch',
  'missing-bytes': 'missing bytes',
  'unreadable-metadata': 'unreadable metadata',
  'unreadable-bytes': 'unreadable bytes',
};

function renderVerify(result: VerifyResult, dryRun: boolean): string[] {
  const lines: string[] = [];
  const count = (n: number, one: string, many: string): string => `${n} ${n === 1 ? one : many}`;
  const { totals } = result;
  if (result.entries.length === 0) {
    const selected = result.selection.keyPrefix !== undefined || result.selection.artifactName !== undefined;
    lines.push(`No ${selected ? 'cache entries match the selection' : 'cached artifacts'} in ${result.dir}.`);
  } else {
    const table = new Table({
      head: ['Artifact', 'Size', 'Result', 'Detail', 'Action', 'Key'],
      colAligns: ['left', 'right', 'left', 'left', 'left', 'left'],
      style: { head: [], border: [], compact: true },
      wordWrap: true,
    });
    table.push(...result.entries.map((entry) => entryRow(entry, dryRun)));
    lines.push(table.toString());
  }
  const bad = totals.bad === 0 ? 'all ok' : `${totals.ok} ok, ${totals.bad} bad`;
  lines.push(
    `Checked ${count(totals.checked, 'entry', 'entries')} (${formatByteSize(totals.bytesHashed)} hashed): ${bad}.`,
  );
  if (totals.quarantined > 0) {
    lines.push(
      `Quarantined ${count(totals.quarantined, 'entry', 'entries')} in ${result.quarantineDir}; serve downloads ${totals.quarantined === 1 ? 'it' : 'them'} again when a device asks.`,
    );
  }
  const left = totals.bad - totals.quarantined;
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

function entryRow(entry: VerifiedEntry, dryRun: boolean): string[] {
  const size = entry.recordedSize ?? entry.actualSize;
  let action = '';
  if (entry.action === 'quarantined') action = `quarantined`;
  else if (entry.action === 'left') action = dryRun ? 'would quarantine' : 'left in place';
  return [
    entry.artifactName ?? '(unknown)',
    size === undefined ? '-' : formatByteSize(size),
    STATUS_TEXT[entry.status],
    entry.reason ?? '',
    action,
    entry.key.slice(0, 12),
  ];
}
