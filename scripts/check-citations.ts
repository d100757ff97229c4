// Fails when a comment, test name or document cites something that is not in the repository
// (CONTRIBUTING.md §7): a private research document or tracker item, or a `docs/<file>.md`
// (or `CONTRIBUTING.md`, `README.md`, `CHANGELOG.md`) reference whose file or numbered section
// heading does not exist. Prints file:line for each and exits 1; run with `npm run check-citations`.
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';

const ROOTS = ['src', 'test', 'bench', 'docs', 'README.md', 'CONTRIBUTING.md'];
const EXTENSIONS = new Set(['.ts', '.js', '.mjs', '.cjs', '.md', '.sh']);
const SKIP_DIRS = new Set(['node_modules', 'dist', 'results']);

// Between two words of a citation: spaces, or a line break followed by a comment leader.
const GAP = String.raw`(?:[ \t]*\n[ \t]*(?:\*(?!/)|//|#)?[ \t]*|[ \t]+)`;

const FORBIDDEN: readonly { what: string; pattern: RegExp }[] = [
  { what: 'cites the external "protocol doc"', pattern: new RegExp(String.raw`protocol${GAP}doc\b`, 'gi') },
  { what: 'cites the external "style doc"', pattern: new RegExp(String.raw`style${GAP}doc\b`, 'gi') },
  { what: 'cites the external "landscape" notes', pattern: new RegExp(String.raw`landscape${GAP}?§`, 'gi') },
  { what: 'cites the external "client notes"', pattern: new RegExp(String.raw`client${GAP}notes\b`, 'gi') },
  { what: 'cites an issue-tracker item', pattern: new RegExp(String.raw`\bissue${GAP}#\d`, 'gi') },
];

const SECTION = String.raw`§\d+(?:\.\d+)*`;
const DOC_REFERENCE = new RegExp(
  String.raw`(?<![\w/.-])((?:docs/[\w./-]+|CONTRIBUTING|README|CHANGELOG)\.md)` +
    String.raw`(?:${GAP}(${SECTION}(?:(?:,|;|${GAP}and|${GAP}or)${GAP}?${SECTION})*))?`,
  'g',
);

interface Problem {
  file: string;
  line: number;
  message: string;
}

function* sourceFiles(path: string): Generator<string> {
  if (!existsSync(path)) return;
  if (statSync(path).isFile()) {
    if (EXTENSIONS.has(extname(path))) yield path;
    return;
  }
  for (const entry of readdirSync(path, { withFileTypes: true }).sort((a, b) =>
    a.name.localeCompare(b.name),
  )) {
    const child = join(path, entry.name);
    if (entry.isDirectory()) {
      if (!SKIP_DIRS.has(entry.name)) yield* sourceFiles(child);
    } else if (EXTENSIONS.has(extname(entry.name))) {
      yield child;
    }
  }
}

const headingCache = new Map<string, Set<string> | undefined>();

/** Section numbers of a Markdown file's headings (`## 2. …`, `### 2.1 …`); undefined if absent. */
function sectionsOf(doc: string): Set<string> | undefined {
  if (!headingCache.has(doc)) {
    let sections: Set<string> | undefined;
    if (existsSync(doc) && statSync(doc).isFile()) {
      sections = new Set();
      for (const line of readFileSync(doc, 'utf8').split('\n')) {
        const heading = /^#{1,6}\s+(\d+(?:\.\d+)*)[.\s]/.exec(line);
        if (heading?.[1] !== undefined) sections.add(heading[1]);
      }
    }
    headingCache.set(doc, sections);
  }
  return headingCache.get(doc);
}

function lineOf(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

function check(file: string): Problem[] {
  const text = readFileSync(file, 'utf8');
  const problems: Problem[] = [];
  for (const { what, pattern } of FORBIDDEN) {
    for (const match of text.matchAll(pattern)) {
      const excerpt = text.slice(match.index, match.index + 50).split('\n')[0] ?? '';
      problems.push({ file, line: lineOf(text, match.index), message: `${what}: ${excerpt}` });
    }
  }
  for (const match of text.matchAll(DOC_REFERENCE)) {
    const doc = match[1] ?? '';
    const sections = sectionsOf(doc);
    const line = lineOf(text, match.index);
    if (sections === undefined) {
      problems.push({ file, line, message: `${doc} does not exist` });
      continue;
    }
    for (const section of (match[2] ?? '').matchAll(/§(\d+(?:\.\d+)*)/g)) {
      if (section[1] !== undefined && !sections.has(section[1]))
        problems.push({ file, line, message: `${doc} has no section §${section[1]}` });
    }
  }
  return problems;
}

const self = join('scripts', 'check-citations.ts');
const files = ROOTS.flatMap((root) => [...sourceFiles(root)]).filter((file) => file !== self);
const problems = files.flatMap(check);
for (const { file, line, message } of problems) process.stderr.write(`${file}:${line}: ${message}\n`);
if (problems.length > 0) {
  process.stderr.write(`check-citations: ${problems.length} citation(s) of missing documents or sections\n`);
  process.exit(1);
}
process.stdout.write(`check-citations: ${files.length} files, every cited document and section exists\n`);
