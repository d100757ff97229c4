import { GatewayCommand } from '../../cli/gateway-command.js';
import { cacheLocationFlags } from '../../cli/cache-location-flags.js';
import Table from 'cli-table3';
import { renderError } from '../../cli/render-error.js';
import { toGatewayError } from '../../core/errors.js';
import { formatByteSize } from '../../core/cache/byte-size.js';
import { inspectCache } from '../../core/cache/cache-inspect.js';
import type { CacheInspection, CachedArtifact, CacheFill } from '../../core/cache/cache-inspect.js';
import { resolveCacheLocation } from '../../core/cache/cache-location.js';
import { formatEntryAge } from '../../core/cache/entry-age.js';
import { key } from '../../core/config-key.js';

export default class CacheLs extends GatewayCommand {
  static override summary =
    'List the artifacts in the gateway cache, with their use and the free space left.';

  static override description = `Reads the cache directory without changing anything, so it is safe while serve runs. For each artifact: its name and compatible device types (read from the artifact's own header; the name falls back to the one recorded at download when the header is compressed with xz or zstd), size, state (complete, or filling while serve is downloading it), last access, hits and bytes served, and the start of its cache key. Entries being sent to a device are marked "in use".

Totals count complete entries only. Files left by a crash are counted as debris; "cache prune" removes them.

The directory is ${key('Features.ArtifactsProxy.ArtifactsCache.Path')} of the configuration (with its environment overrides), or --path.`;

  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --config /etc/mender/mender-gateway.conf',
    '<%= config.bin %> <%= command.id %> --path /var/cache/mender-gateway --json',
  ];

  static override enableJsonFlag = true;

  static override flags = {
    ...cacheLocationFlags,
  };

  async run(): Promise<CacheInspection> {
    const { flags } = await this.parse(CacheLs);
    let result: CacheInspection;
    try {
      const location = await resolveCacheLocation({ path: flags.path, configPath: flags.config });
      for (const warning of location.warnings) this.logToStderr(`warning: ${warning}`);
      result = await inspectCache(location.dir);
    } catch (err) {
      if (this.jsonEnabled()) throw toGatewayError(err);
      const { text, exitCode } = renderError(err);
      this.logToStderr(text);
      this.exit(exitCode);
    }
    for (const line of renderInspection(result)) this.log(line);
    return result;
  }
}

function renderInspection(result: CacheInspection): string[] {
  const now = Date.parse(result.inspectedAt);
  const lines: string[] = [];
  const rows = [...result.entries.map((e) => entryRow(e, now)), ...result.fills.map((f) => fillRow(f, now))];
  if (rows.length === 0) {
    lines.push(`No cached artifacts in ${result.dir}.`);
  } else {
    const table = new Table({
      head: ['Artifact', 'Device types', 'Size', 'State', 'Last access', 'Hits', 'Served', 'Key'],
      colAligns: ['left', 'left', 'right', 'left', 'left', 'right', 'right', 'left'],
      style: { head: [], border: [], compact: true },
      wordWrap: true,
    });
    table.push(...rows);
    lines.push(table.toString());
  }
  const { totals, volume } = result;
  const count = (n: number, one: string, many: string): string => `${n} ${n === 1 ? one : many}`;
  const summary = [`${count(totals.entries, 'entry', 'entries')}, ${formatByteSize(totals.bytes)}`];
  if (totals.fills > 0) {
    const fills = count(totals.fills, 'download', 'downloads');
    summary.push(`${fills} in progress (${formatByteSize(totals.fillBytes)} so far)`);
  }
  if (totals.debrisFiles > 0) {
    const debris = count(totals.debrisFiles, 'debris file', 'debris files');
    summary.push(`${debris}, ${formatByteSize(totals.debrisBytes)} (cache prune removes them)`);
  }
  lines.push(`Total: ${summary.join('; ')}`);
  lines.push(
    `Volume: ${formatByteSize(volume.freeBytes)} free of ${formatByteSize(volume.totalBytes)} (${result.dir})`,
  );
  return lines;
}

function entryRow(entry: CachedArtifact, now: number): string[] {
  return [
    entry.artifactName ?? '(unknown)',
    deviceTypes(entry.deviceTypes, entry.header),
    formatByteSize(entry.size),
    entry.inUse ? 'complete, in use' : 'complete',
    lastAccess(entry.lastAccessAt, now),
    String(entry.hits),
    formatByteSize(entry.bytesServed),
    shortKey(entry.key),
  ];
}

function fillRow(fill: CacheFill, now: number): string[] {
  return [
    fill.artifactName ?? '(not known yet)',
    deviceTypes(fill.deviceTypes, fill.header),
    `${formatByteSize(fill.bytesOnDisk)} so far`,
    `filling (pid ${fill.pid})`,
    lastAccess(fill.lastWriteAt, now),
    '-',
    '-',
    shortKey(fill.key),
  ];
}

function deviceTypes(types: string[] | undefined, header: CachedArtifact['header']): string {
  if (types !== undefined) return types.join(', ');
  switch (header.status) {
    case 'compressed':
      return `unknown (compressed header: ${header.compression})`;
    case 'unreadable':
      return 'unknown (unreadable header)';
    case 'skipped':
    case 'read':
      return 'unknown';
  }
}

function lastAccess(iso: string, now: number): string {
  const at = Date.parse(iso);
  if (Number.isNaN(at)) return 'unknown';
  return `${iso.slice(0, 16).replace('T', ' ')}Z (${formatEntryAge(now - at)} ago)`;
}

function shortKey(key: string): string {
  return key.slice(0, 12);
}
