import { Flags } from '@oclif/core';
import { GatewayCommand } from '../../cli/gateway-command.js';
import { cacheLocationFlags } from '../../cli/cache-location-flags.js';
import { renderError } from '../../cli/render-error.js';
import { toGatewayError } from '../../core/errors.js';
import { formatByteSize } from '../../core/cache/byte-size.js';
import { resolveCacheLocation } from '../../core/cache/cache-location.js';
import { parsePruneSelection, pruneCache } from '../../core/cache/cache-prune.js';
import type { PruneReason, PruneResult, PruneSelection } from '../../core/cache/cache-prune.js';
import { formatEntryAge } from '../../core/cache/entry-age.js';

export default class CachePrune extends GatewayCommand {
  static override summary = 'Remove cached artifacts by age of last access or down to a size limit.';

  static override description = `Removes complete entries of the artifact cache chosen by --older-than (last access longer ago than the age), --max-size (least recently accessed first until the cache totals at most the size) or --all; --older-than and --max-size combine. At least one of them is required. Files left by crashes (interrupted downloads of processes that are gone, metadata without bytes and the like) are removed too.

Safe while serve runs: entries serve is sending to a device are skipped and reported as in use, downloads in progress are left alone, and serve downloads a removed artifact again the next time a device asks for it. --dry-run reports the same plan without removing anything.

Ages are Go durations (720h, 90m) or days (30d). Sizes take K, M, G, T or KiB, MiB, GiB, TiB (powers of 1024), KB, MB, GB, TB (powers of 1000) or plain bytes.`;

  static override examples = [
    '<%= config.bin %> <%= command.id %> --older-than 30d --dry-run',
    '<%= config.bin %> <%= command.id %> --config /etc/mender/mender-gateway.conf --max-size 20GiB',
    '<%= config.bin %> <%= command.id %> --path /var/cache/mender-gateway --older-than 720h --max-size 50G --json',
    '<%= config.bin %> <%= command.id %> --all',
  ];

  static override enableJsonFlag = true;

  static override flags = {
    ...cacheLocationFlags,
    'older-than': Flags.string({
      summary: 'Remove entries last accessed longer ago than this: 30d, 720h, 90m.',
    }),
    'max-size': Flags.string({
      summary:
        'Remove least recently accessed entries until the cache totals at most this: 10GiB, 500M, 1.5G.',
    }),
    all: Flags.boolean({
      summary: 'Remove every entry that is not in use.',
      exclusive: ['older-than', 'max-size'],
    }),
    'dry-run': Flags.boolean({
      summary: 'Report what would be removed; remove nothing.',
    }),
  };

  async run(): Promise<PruneResult> {
    const { flags } = await this.parse(CachePrune);
    let result: PruneResult;
    try {
      const selection = parsePruneSelection({
        olderThan: flags['older-than'],
        maxSize: flags['max-size'],
        all: flags.all,
      });
      const location = await resolveCacheLocation({ path: flags.path, configPath: flags.config });
      for (const warning of location.warnings) this.logToStderr(`warning: ${warning}`);
      result = await pruneCache(location.dir, selection, { dryRun: flags['dry-run'] });
    } catch (err) {
      if (this.jsonEnabled()) throw toGatewayError(err);
      const { text, exitCode } = renderError(err);
      this.logToStderr(text);
      this.exit(exitCode);
    }
    for (const line of renderPrune(result, flags['older-than'], flags['max-size'])) this.log(line);
    return result;
  }
}

function renderPrune(
  result: PruneResult,
  olderThan: string | undefined,
  maxSize: string | undefined,
): string[] {
  const now = Date.parse(result.prunedAt);
  const lines: string[] = [];
  const verb = result.dryRun ? 'would remove' : 'removed';
  for (const entry of result.removed) {
    const name = entry.artifactName ?? '(unknown artifact)';
    const age = formatEntryAge(now - Date.parse(entry.lastAccessAt));
    lines.push(
      `${verb} ${name} (${formatByteSize(entry.size)}, last access ${age} ago, ${entry.hits} hits, key ${entry.key.slice(0, 12)}): ${why(entry.reason, result.selection, olderThan, maxSize)}`,
    );
  }
  for (const entry of result.skipped) {
    lines.push(
      `skipped ${entry.artifactName ?? '(unknown artifact)'} (${formatByteSize(entry.size)}, key ${entry.key.slice(0, 12)}): in use by a running serve`,
    );
  }
  for (const item of result.debris) {
    lines.push(`${verb} debris ${item.file} (${formatByteSize(item.bytes)}): ${item.reason}`);
  }
  if (lines.length === 0) lines.push(`Nothing to remove in ${result.dir}.`);

  const count = (n: number, one: string, many: string): string => `${n} ${n === 1 ? one : many}`;
  const freed = `${result.dryRun ? 'Would free' : 'Freed'} ${formatByteSize(result.freedBytes)}`;
  const removed = `${count(result.removed.length, 'entry', 'entries')} and ${count(result.debris.length, 'debris file', 'debris files')}`;
  const left = `${count(result.remaining.entries, 'entry', 'entries')} (${formatByteSize(result.remaining.bytes)}) ${result.dryRun ? 'would remain' : 'remain'}`;
  lines.push(`${freed} (${removed}); ${left}.`);
  if (result.maxSizeMet === false) {
    lines.push(
      `The cache still exceeds --max-size ${maxSize ?? ''} because entries in use were skipped; run it again later.`,
    );
  }
  if (result.fillsInProgress > 0) {
    lines.push(`${count(result.fillsInProgress, 'download', 'downloads')} in progress left alone.`);
  }
  const { freeBytes, totalBytes } = result.volume;
  lines.push(`Volume: ${formatByteSize(freeBytes)} free of ${formatByteSize(totalBytes)} (${result.dir})`);
  return lines;
}

function why(
  reason: PruneReason,
  selection: PruneSelection,
  olderThan: string | undefined,
  maxSize: string | undefined,
): string {
  switch (reason) {
    case 'older-than':
      return `not accessed for more than ${olderThan ?? `${selection.olderThanMs ?? 0} ms`}`;
    case 'max-size':
      return `least recently accessed while the cache exceeds ${maxSize ?? `${selection.maxSizeBytes ?? 0} bytes`}`;
    case 'all':
      return 'every entry not in use (--all)';
  }
}
