import { CONFIG_TABLE, type ConfigEntry } from './config-table.js';

/**
 * The reference tables of docs/configuration.md, rendered from the config table. The document
 * keeps its headings and prose; each table sits between a pair of markers naming its section
 * (a key prefix such as `HTTPS` or `Features.mTLS`, or `Other` for top-level keys):
 *
 *     <!-- BEGIN GENERATED: config-reference HTTPS -->
 *     …
 *     <!-- END GENERATED -->
 *
 * `npm run config-docs` rewrites the regions; `npm run lint` fails when they are stale.
 */

const BEGIN = /^<!-- BEGIN GENERATED: config-reference (\S+) -->$/;
const END = '<!-- END GENERATED -->';

/** The docs section listing a key: its parent path, `Other` for top-level keys, or the entry's own. */
export function referenceSection(entry: ConfigEntry): string {
  if (entry.section !== undefined) return entry.section;
  const parent = entry.key.split('.').slice(0, -1).join('.');
  return parent === '' ? 'Other' : parent;
}

const code = (text: string): string => `\`${text}\``;

function keyCell(entry: ConfigEntry): string {
  if (entry.docKey !== undefined) return entry.docKey;
  const segments = entry.key.split('.');
  // Four levels deep (…ArtifactsCache.Path) the section heading already names the rest.
  return code(segments.length > 3 ? `…${segments.slice(-2).join('.')}` : entry.key);
}

function envCell(entry: ConfigEntry): string {
  if (entry.env === undefined) return '— (file only)';
  const aliases = (entry.envAliases ?? []).map((a) => ` (also ${code(a.env)}, ${a.doc})`).join('');
  return code(entry.env) + aliases;
}

function defaultCell(entry: ConfigEntry): string {
  if (entry.defaultDoc !== undefined) return entry.defaultDoc;
  const value = entry.default;
  if (value === undefined) return '—';
  return code(typeof value === 'string' && entry.type.kind !== 'enum' ? value : JSON.stringify(value));
}

function originCell(entry: ConfigEntry): string {
  const base = entry.since === 'extension' ? 'mender-gw extension' : `Mender (${entry.since})`;
  return entry.originNote === undefined ? base : `${base}, ${entry.originNote}`;
}

/** The Markdown table of one section. */
export function referenceTable(section: string): string {
  const entries = (CONFIG_TABLE as readonly ConfigEntry[]).filter((e) => referenceSection(e) === section);
  const rows = entries.map((e) =>
    [
      keyCell(e),
      envCell(e),
      e.type.doc + (e.secret === true ? '; secret' : ''),
      defaultCell(e),
      e.doc,
      originCell(e),
    ].join(' | '),
  );
  return [
    '| Key | Env | Type | Default | Meaning | Origin |',
    '| --- | --- | --- | --- | --- | --- |',
    ...rows.map((row) => `| ${row} |`),
  ].join('\n');
}

/**
 * `markdown` with every generated region replaced by its current table. Throws when a region
 * names an unknown section, is not closed, or a section of the table has no region (a new
 * section needs a heading, its prose and a pair of markers by hand).
 */
export function updateReference(markdown: string): string {
  const lines = markdown.split('\n');
  const out: string[] = [];
  const seen = new Set<string>();
  const sections = new Set((CONFIG_TABLE as readonly ConfigEntry[]).map(referenceSection));
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    out.push(line);
    const section = BEGIN.exec(line)?.[1];
    if (section === undefined) continue;
    if (!sections.has(section))
      throw new Error(`line ${i + 1}: no key of the config table is in section ${section}`);
    const end = lines.indexOf(END, i + 1);
    if (end === -1) throw new Error(`line ${i + 1}: "${line}" has no "${END}"`);
    out.push(referenceTable(section), END);
    seen.add(section);
    i = end;
  }
  const missing = [...sections].filter((s) => !seen.has(s));
  if (missing.length > 0) {
    throw new Error(
      `no generated region for section(s) ${missing.join(', ')}: add a heading and "<!-- BEGIN GENERATED: config-reference ${missing[0] ?? ''} -->" / "${END}"`,
    );
  }
  return out.join('\n');
}
