import { GatewayCommand } from '../../cli/gateway-command.js';
import { cacheLocationFlags } from '../../cli/cache-location-flags.js';
import { outputWidth, renderCsv, renderFittedTable, truncateMiddle } from '../../cli/fit-table.js';
import type { TableColumn } from '../../cli/fit-table.js';
import { orderRows, parseTableOptions, tableFlags } from '../../cli/table-options.js';
import type { TableOptions } from '../../cli/table-options.js';
import { renderError } from '../../cli/render-error.js';
import { toGatewayError } from '../../core/errors.js';
import { formatByteSize } from '../../core/cache/byte-size.js';
import { inspectCache } from '../../core/cache/cache-inspect.js';
import type { CacheInspection, CachedArtifact, CacheFill } from '../../core/cache/cache-inspect.js';
import type { QuarantinedEntry } from '../../core/cache/cache-quarantine.js';
import { resolveCacheLocation } from '../../core/cache/cache-location.js';
import { formatEntryAge } from '../../core/cache/entry-age.js';
import { key } from '../../core/config-key.js';

/** One line of the table: a complete entry, a download in progress or a quarantined entry. */
interface LsRow {
  artifact: string;
  types: string;
  size: number;
  sizeText: string;
  status: string;
  /** ISO 8601; last access, last write of a fill, or when it was quarantined. */
  at: string | undefined;
  now: number;
  hits: number | undefined;
  served: number | undefined;
  key: string;
  created: string | undefined;
  sha256: string | undefined;
  origin: string | undefined;
}

const bytesText = (value: number | undefined): string => (value === undefined ? '-' : formatByteSize(value));

/** The columns of `cache ls`, in their default order (docs/cache.md, "mender-gw cache ls"). */
const LS_COLUMNS: TableColumn<LsRow>[] = [
  {
    id: 'artifact',
    header: 'Artifact',
    text: (r) => r.artifact,
    raw: (r) => r.artifact,
    shownByDefault: true,
    priority: 10,
    shorten: 'middle',
    minWidth: 20,
  },
  {
    id: 'types',
    header: 'Device types',
    text: (r) => r.types,
    raw: (r) => r.types,
    shownByDefault: true,
    priority: 6,
    shorten: 'middle',
    minWidth: 10,
  },
  {
    id: 'size',
    header: 'Size',
    align: 'right',
    text: (r) => r.sizeText,
    raw: (r) => r.size,
    shownByDefault: true,
    priority: 9,
    shorten: 'none',
  },
  {
    id: 'status',
    header: 'Status',
    text: (r) => r.status,
    raw: (r) => r.status,
    shownByDefault: true,
    priority: 8,
    shorten: 'end',
    minWidth: 11,
  },
  {
    id: 'accessed',
    header: 'Accessed',
    align: 'right',
    text: (r) => age(r.at, r.now),
    raw: (r) => r.at,
    shownByDefault: true,
    priority: 4,
    shorten: 'none',
  },
  {
    id: 'hits',
    header: 'Hits',
    align: 'right',
    text: (r) => (r.hits === undefined ? '-' : String(r.hits)),
    raw: (r) => r.hits,
    shownByDefault: true,
    priority: 3,
    shorten: 'none',
  },
  {
    id: 'served',
    header: 'Served',
    align: 'right',
    text: (r) => bytesText(r.served),
    raw: (r) => r.served,
    shownByDefault: true,
    priority: 2,
    shorten: 'none',
  },
  {
    id: 'key',
    header: 'Key',
    text: (r) => r.key.slice(0, 12),
    raw: (r) => r.key,
    shownByDefault: true,
    priority: 7,
    shorten: 'prefix',
  },
  {
    id: 'added',
    header: 'Added',
    text: (r) => r.created ?? '-',
    raw: (r) => r.created,
    shownByDefault: false,
    priority: 1,
    shorten: 'none',
  },
  {
    id: 'sha256',
    header: 'SHA-256',
    text: (r) => r.sha256 ?? '-',
    raw: (r) => r.sha256,
    shownByDefault: false,
    priority: 1,
    shorten: 'middle',
  },
  {
    id: 'origin',
    header: 'Origin',
    text: (r) => r.origin ?? '-',
    raw: (r) => r.origin,
    shownByDefault: false,
    priority: 1,
    shorten: 'middle',
  },
];

export default class CacheLs extends GatewayCommand {
  static override summary =
    'List the artifacts in the gateway cache, with their use and the free space left.';

  static override description = `Reads the cache directory without changing anything, so it is safe while serve runs. For each artifact: its name and compatible device types (read from the artifact's own header; the name falls back to the one recorded at download when the header is compressed with xz or zstd), size, state (complete, or filling while serve is downloading it), last access, hits and bytes served, and the start of its cache key. Entries being sent to a device are marked "in use".

Entries cache verify moved to quarantine/ are listed too, with the status "quarantined"; cache prune --quarantine removes them.

The table fits the terminal (COLUMNS, else its width, else 80): long names are shortened in the middle and, when narrow, the less important columns are left out. --columns, --sort and --reverse choose and order them; --csv and --json give full values.

Totals count complete entries only. Files left by a crash are counted as debris; "cache prune" removes them.

The directory is ${key('Features.ArtifactsProxy.ArtifactsCache.Path')} of the configuration (with its environment overrides), or --path.`;

  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --config /etc/mender/mender-gateway.conf',
    '<%= config.bin %> <%= command.id %> --path /var/cache/mender-gateway --json',
    '<%= config.bin %> <%= command.id %> --columns artifact,size,hits --sort=-hits',
    '<%= config.bin %> <%= command.id %> --csv > cache.csv',
  ];

  static override enableJsonFlag = true;

  static override flags = {
    ...cacheLocationFlags,
    ...tableFlags(LS_COLUMNS.map((column) => column.id)),
  };

  async run(): Promise<CacheInspection> {
    const { flags } = await this.parse(CacheLs);
    let result: CacheInspection;
    let table: TableOptions<LsRow>;
    try {
      table = parseTableOptions(LS_COLUMNS, flags, 'MGW_CACHE_INVALID_INPUT');
      const location = await resolveCacheLocation({ path: flags.path, configPath: flags.config });
      for (const warning of location.warnings) this.logToStderr(`warning: ${warning}`);
      result = await inspectCache(location.dir);
    } catch (err) {
      if (this.jsonEnabled()) throw toGatewayError(err);
      const { text, exitCode } = renderError(err);
      this.logToStderr(text);
      this.exit(exitCode);
    }
    if (this.jsonEnabled()) return result;
    const rows = orderRows(lsRows(result), table);
    if (table.csv) {
      process.stdout.write(renderCsv(rows, table.columns));
      return result;
    }
    for (const line of renderInspection(result, rows, table)) this.log(line);
    return result;
  }
}

function lsRows(result: CacheInspection): LsRow[] {
  const now = Date.parse(result.inspectedAt);
  return [
    ...result.entries.map((entry) => entryRow(entry, now)),
    ...result.fills.map((fill) => fillRow(fill, now)),
    ...result.quarantined.map((entry) => quarantinedRow(entry, now)),
  ];
}

function renderInspection(result: CacheInspection, rows: LsRow[], table: TableOptions<LsRow>): string[] {
  const lines: string[] = [];
  const width = outputWidth();
  if (rows.length === 0) {
    lines.push(`No cached artifacts in ${result.dir}.`);
  } else {
    lines.push(...renderFittedTable(rows, table.columns, { width, explicit: table.explicit }));
  }
  const { totals, volume } = result;
  const count = (n: number, one: string, many: string): string => `${n} ${n === 1 ? one : many}`;
  lines.push(`Total: ${count(totals.entries, 'entry', 'entries')}, ${formatByteSize(totals.bytes)}`);
  if (totals.fills > 0) {
    const fills = count(totals.fills, 'download', 'downloads');
    lines.push(`  ${fills} in progress, ${formatByteSize(totals.fillBytes)} so far`);
  }
  if (totals.quarantined > 0) {
    const quarantined = count(totals.quarantined, 'quarantined entry', 'quarantined entries');
    lines.push(`  ${quarantined}, ${formatByteSize(totals.quarantinedBytes)} (cache prune --quarantine)`);
  }
  if (totals.debrisFiles > 0) {
    const debris = count(totals.debrisFiles, 'debris file', 'debris files');
    lines.push(`  ${debris}, ${formatByteSize(totals.debrisBytes)} (cache prune removes them)`);
  }
  const free = `Volume: ${formatByteSize(volume.freeBytes)} free of ${formatByteSize(volume.totalBytes)}`;
  lines.push(`${free} (${truncateMiddle(result.dir, Math.max(8, width - free.length - 3))})`);
  return lines;
}

function entryRow(entry: CachedArtifact, now: number): LsRow {
  return {
    artifact: entry.artifactName ?? '(unknown)',
    types: deviceTypes(entry.deviceTypes, entry.header),
    size: entry.size,
    sizeText: formatByteSize(entry.size),
    status: entry.inUse ? 'complete, in use' : 'complete',
    at: entry.lastAccessAt,
    now,
    hits: entry.hits,
    served: entry.bytesServed,
    key: entry.key,
    created: entry.createdAt,
    sha256: entry.sha256,
    origin: entry.origin,
  };
}

function fillRow(fill: CacheFill, now: number): LsRow {
  return {
    artifact: fill.artifactName ?? '(not known yet)',
    types: deviceTypes(fill.deviceTypes, fill.header),
    size: fill.bytesOnDisk,
    sizeText: `${formatByteSize(fill.bytesOnDisk)} so far`,
    status: `filling (pid ${fill.pid})`,
    at: fill.lastWriteAt,
    now,
    hits: undefined,
    served: undefined,
    key: fill.key,
    created: undefined,
    sha256: undefined,
    origin: undefined,
  };
}

function quarantinedRow(entry: QuarantinedEntry, now: number): LsRow {
  const why = entry.status === undefined ? '' : ` (${entry.status.replaceAll('-', ' ')})`;
  return {
    artifact: entry.artifactName ?? '(unknown)',
    types: '-',
    size: entry.bytes,
    sizeText: formatByteSize(entry.bytes),
    status: `quarantined${why}`,
    at: entry.quarantinedAt,
    now,
    hits: undefined,
    served: undefined,
    key: entry.key,
    created: undefined,
    sha256: undefined,
    origin: entry.folder,
  };
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

/** `3d 4h ago`: the full time is in --json and --csv. */
function age(iso: string | undefined, now: number): string {
  const at = iso === undefined ? Number.NaN : Date.parse(iso);
  if (Number.isNaN(at)) return 'unknown';
  return `${formatEntryAge(now - at)} ago`;
}
