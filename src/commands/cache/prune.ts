import { Flags } from '@oclif/core';
import { GatewayCommand } from '../../cli/gateway-command.js';
import { cacheLocationFlags } from '../../cli/cache-location-flags.js';
import { confirm } from '@inquirer/prompts';
import { canPrompt, isPromptAbort } from '../../cli/cert-issue.js';
import { isExitSignal } from '../../cli/cli-error.js';
import { countOf, startProgress } from '../../cli/progress-display.js';
import type { ProgressDisplay } from '../../cli/progress-display.js';
import { renderError } from '../../cli/render-error.js';
import { GatewayError, toGatewayError } from '../../core/errors.js';
import { formatByteSize } from '../../core/cache/byte-size.js';
import { resolveCacheLocation } from '../../core/cache/cache-location.js';
import { parsePruneSelection, pruneCache } from '../../core/cache/cache-prune.js';
import type { PruneReason, PruneResult, PruneSelection } from '../../core/cache/cache-prune.js';
import { formatEntryAge } from '../../core/cache/entry-age.js';

export default class CachePrune extends GatewayCommand {
  static override summary = 'Remove cached artifacts by age of last access or down to a size limit.';

  static override description = `Removes complete entries of the artifact cache chosen by --older-than (last access longer ago than the age), --max-size (least recently accessed first until the cache totals at most the size) or --all; --older-than and --max-size combine. --quarantine removes the entries cache verify moved to quarantine/, alone or with the others. At least one of them is required. Files left by crashes (interrupted downloads of processes that are gone, metadata without bytes and the like) are removed too.

--all asks for confirmation in a terminal; without one (a script, a timer) it refuses unless --yes is given.

The one-line summary goes to stderr, with a progress line while it runs when stderr is a terminal; --verbose (or --dry-run) lists every entry and file on stdout.

Safe while serve runs: entries serve is sending to a device are skipped and reported as in use, downloads in progress are left alone, and serve downloads a removed artifact again the next time a device asks for it. --dry-run reports the same plan without removing anything.

Ages are Go durations (720h, 90m) or days (30d). Sizes take K, M, G, T or KiB, MiB, GiB, TiB (powers of 1024), KB, MB, GB, TB (powers of 1000) or plain bytes.`;

  static override examples = [
    '<%= config.bin %> <%= command.id %> --older-than 30d --dry-run',
    '<%= config.bin %> <%= command.id %> --config /etc/mender/mender-gateway.conf --max-size 20GiB',
    '<%= config.bin %> <%= command.id %> --path /var/cache/mender-gateway --older-than 720h --max-size 50G --json',
    '<%= config.bin %> <%= command.id %> --all',
    '<%= config.bin %> <%= command.id %> --all --quarantine --yes --verbose',
  ];

  static override enableJsonFlag = true;

  static override flags = {
    ...cacheLocationFlags,
    'older-than': Flags.string({
      helpValue: 'AGE',
      summary: 'Remove entries last accessed longer ago than this: 30d, 720h, 90m.',
    }),
    'max-size': Flags.string({
      helpValue: 'SIZE',
      summary:
        'Remove least recently accessed entries until the cache totals at most this: 10GiB, 500M, 1.5G.',
    }),
    all: Flags.boolean({
      summary: 'Remove every entry that is not in use (asks first in a terminal; --yes skips the question).',
      exclusive: ['older-than', 'max-size'],
    }),
    quarantine: Flags.boolean({
      summary: 'Remove the entries cache verify moved to quarantine/.',
    }),
    yes: Flags.boolean({
      char: 'y',
      summary: 'Do not ask before --all removes every entry (required without a terminal).',
    }),
    'dry-run': Flags.boolean({
      summary: 'Report what would be removed; remove nothing.',
    }),
    verbose: Flags.boolean({
      summary: 'List every entry and file removed (always listed with --dry-run).',
    }),
  };

  async run(): Promise<PruneResult> {
    const { flags } = await this.parse(CachePrune);
    const json = this.jsonEnabled();
    let result: PruneResult;
    let progress: ProgressDisplay | undefined;
    const started = performance.now();
    try {
      const selection = parsePruneSelection({
        olderThan: flags['older-than'],
        maxSize: flags['max-size'],
        all: flags.all,
        quarantine: flags.quarantine,
      });
      const location = await resolveCacheLocation({ path: flags.path, configPath: flags.config });
      for (const warning of location.warnings) this.logToStderr(`warning: ${warning}`);
      if (flags.all && !flags['dry-run'] && !flags.yes) {
        if (!(await confirmPruneAll(location.dir, selection, json))) {
          this.logToStderr('Nothing removed.');
          this.exit(1);
        }
      }
      progress = startProgress('Pruning the cache', { json });
      const display = progress;
      result = await pruneCache(location.dir, selection, {
        dryRun: flags['dry-run'],
        onProgress: display.drawing
          ? (p) => display.update(`${countOf(p.done, p.total)}, ${formatByteSize(p.bytes)} freed`)
          : undefined,
      });
      progress.stop();
    } catch (err) {
      progress?.stop('failed');
      if (isExitSignal(err)) throw err;
      if (isPromptAbort(err)) this.exit(130);
      if (json) throw toGatewayError(err);
      const { text, exitCode } = renderError(err);
      this.logToStderr(text);
      this.exit(exitCode);
    }
    if (!json) {
      const { items, summary } = renderPrune(result, flags['older-than'], flags['max-size']);
      if (flags.verbose || result.dryRun) for (const line of items) this.log(line);
      const seconds = ((performance.now() - started) / 1000).toFixed(1);
      const [first, ...rest] = summary;
      this.logToStderr(`${first ?? ''} in ${seconds} s`);
      for (const line of rest) this.logToStderr(line);
    }
    return result;
  }
}

/**
 * `--all` empties the cache, which on a satellite link may mean gigabytes to download again:
 * ask in a terminal, refuse without one (docs/cache.md, "mender-gw cache prune").
 */
async function confirmPruneAll(dir: string, selection: PruneSelection, json: boolean): Promise<boolean> {
  if (!canPrompt({ json })) {
    throw new GatewayError(
      'MGW_CACHE_INVALID_INPUT',
      '--all removes every cache entry and needs a confirmation, but there is no terminal to ask in',
      { hint: 'add --yes to confirm (or --dry-run to see what would be removed)' },
    );
  }
  const plan = await pruneCache(dir, selection, { dryRun: true });
  if (plan.removed.length === 0) return true; // nothing of value to lose: debris only
  const count = plan.removed.length === 1 ? '1 entry' : `${plan.removed.length} entries`;
  return confirm({
    message: `Remove ${count} (${formatByteSize(plan.removed.reduce((sum, e) => sum + e.size, 0))}) from ${dir}? Devices then download them again`,
    default: false,
  });
}

function renderPrune(
  result: PruneResult,
  olderThan: string | undefined,
  maxSize: string | undefined,
): { items: string[]; summary: string[] } {
  const now = Date.parse(result.prunedAt);
  const items: string[] = [];
  const verb = result.dryRun ? 'would remove' : 'removed';
  for (const entry of result.removed) {
    const name = entry.artifactName ?? '(unknown artifact)';
    const age = formatEntryAge(now - Date.parse(entry.lastAccessAt));
    items.push(
      `${verb} ${name} (${formatByteSize(entry.size)}, last access ${age} ago, ${entry.hits} hits, key ${entry.key.slice(0, 12)}): ${why(entry.reason, result.selection, olderThan, maxSize)}`,
    );
  }
  for (const entry of result.skipped) {
    items.push(
      `skipped ${entry.artifactName ?? '(unknown artifact)'} (${formatByteSize(entry.size)}, key ${entry.key.slice(0, 12)}): in use by a running serve`,
    );
  }
  for (const item of result.debris) {
    items.push(`${verb} debris ${item.file} (${formatByteSize(item.bytes)}): ${item.reason}`);
  }
  for (const entry of result.quarantined) {
    items.push(
      `${verb} quarantined ${entry.artifactName ?? '(unknown artifact)'} (${formatByteSize(entry.bytes)}, ${entry.folder})`,
    );
  }

  const summary: string[] = [];
  const count = (n: number, one: string, many: string): string => `${n} ${n === 1 ? one : many}`;
  const what = [count(result.removed.length, 'entry', 'entries')];
  if (result.quarantined.length > 0) {
    what.push(count(result.quarantined.length, 'quarantined entry', 'quarantined entries'));
  }
  what.push(count(result.debris.length, 'debris file', 'debris files'));
  const freed = `${result.dryRun ? 'would free' : 'freed'} ${formatByteSize(result.freedBytes)}`;
  const left = `${count(result.remaining.entries, 'entry', 'entries')} (${formatByteSize(result.remaining.bytes)}) ${result.dryRun ? 'would remain' : 'remain'}`;
  summary.push(
    `${result.dryRun ? 'would remove' : 'removed'} ${what.join(', ')}: ${freed}; ${left}${result.skipped.length > 0 ? `; ${count(result.skipped.length, 'entry', 'entries')} in use skipped` : ''}`,
  );
  if (result.maxSizeMet === false) {
    summary.push(
      `The cache still exceeds --max-size ${maxSize ?? ''} because entries in use were skipped; run it again later.`,
    );
  }
  if (result.fillsInProgress > 0) {
    summary.push(`${count(result.fillsInProgress, 'download', 'downloads')} in progress left alone.`);
  }
  const { freeBytes, totalBytes } = result.volume;
  summary.push(`Volume: ${formatByteSize(freeBytes)} free of ${formatByteSize(totalBytes)} (${result.dir})`);
  return { items, summary };
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
