// Fails when folders import each other in a cycle (CONTRIBUTING.md §2): every relative import
// and re-export of the TypeScript files under src/, test/, bench/ and scripts/ is resolved to a
// file, files are grouped by folder, and each strongly connected group of two or more folders is
// printed with one import per edge. Type-only imports are left out: they vanish from the compiled
// code, and feature folders may import the `Exchange` and `Interceptor` types from server/, which
// composes them. Files directly in src/core/ (errors.ts, the index) count as their own node, not
// as a folder that contains every feature; test/support/ with its subfolders is one package.
// Part of `npm run lint`.
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';

const ROOT = resolve(dirname(new URL(import.meta.url).pathname), '..');
const ROOTS = ['src', 'test', 'bench', 'scripts'];
const SKIP_DIRS = new Set(['node_modules', 'dist', 'results', 'fixtures']);

function* sourceFiles(dir: string): Generator<string> {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) {
      if (!SKIP_DIRS.has(name)) yield* sourceFiles(path);
    } else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) {
      yield path;
    }
  }
}

/** The value (not type-only) module specifiers of one file: imports, re-exports, import(). */
function valueImports(file: string): string[] {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const clause = node.importClause;
      const named = clause?.namedBindings;
      const typeOnly =
        clause !== undefined &&
        (clause.phaseModifier === ts.SyntaxKind.TypeKeyword ||
          (clause.name === undefined &&
            named !== undefined &&
            ts.isNamedImports(named) &&
            named.elements.length > 0 &&
            named.elements.every((e) => e.isTypeOnly)));
      if (!typeOnly) found.push(node.moduleSpecifier.text);
    } else if (
      ts.isExportDeclaration(node) &&
      node.moduleSpecifier &&
      ts.isStringLiteral(node.moduleSpecifier)
    ) {
      const clause = node.exportClause;
      const typeOnly =
        node.isTypeOnly ||
        (clause !== undefined &&
          ts.isNamedExports(clause) &&
          clause.elements.length > 0 &&
          clause.elements.every((e) => e.isTypeOnly));
      if (!typeOnly) found.push(node.moduleSpecifier.text);
    } else if (
      ts.isCallExpression(node) &&
      node.expression.kind === ts.SyntaxKind.ImportKeyword &&
      node.arguments[0] !== undefined &&
      ts.isStringLiteralLike(node.arguments[0])
    ) {
      found.push(node.arguments[0].text);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** `./x.js` → the `.ts` file it compiles from, or undefined for packages and non-sources. */
function resolveImport(from: string, specifier: string): string | undefined {
  if (!specifier.startsWith('.')) return undefined;
  const target = resolve(dirname(from), specifier);
  const candidates = [target.replace(/\.js$/, '.ts'), `${target}.ts`, join(target, 'index.ts')];
  return candidates.find((c) => c.endsWith('.ts') && existsSync(c) && statSync(c).isFile());
}

function nodeOf(file: string): string {
  const rel = relative(ROOT, file);
  const dir = dirname(rel);
  if (dir === 'test/support' || dir.startsWith('test/support/')) return 'test/support';
  return dir === 'src/core' ? rel : dir;
}

const files = ROOTS.filter((r) => existsSync(join(ROOT, r))).flatMap((r) => [...sourceFiles(join(ROOT, r))]);
/** folder → folder → one example import "file → file". */
const edges = new Map<string, Map<string, string>>();
for (const file of files) {
  const from = nodeOf(file);
  for (const specifier of valueImports(file)) {
    const target = resolveImport(file, specifier);
    if (target === undefined) continue;
    const to = nodeOf(target);
    if (to === from) continue;
    const edge = `${relative(ROOT, file)} → ${relative(ROOT, target)}`;
    const out = edges.get(from) ?? new Map<string, string>();
    edges.set(from, out);
    if (!out.has(to)) out.set(to, edge);
  }
}

// Tarjan's strongly connected components.
const visited = new Map<string, { index: number; low: number }>();
const stack: string[] = [];
const onStack = new Set<string>();
const cycles: string[][] = [];
function connect(v: string): void {
  const own = { index: visited.size, low: visited.size };
  visited.set(v, own);
  stack.push(v);
  onStack.add(v);
  for (const w of edges.get(v)?.keys() ?? []) {
    const seen = visited.get(w);
    if (seen === undefined) {
      connect(w);
      own.low = Math.min(own.low, visited.get(w)?.low ?? own.low);
    } else if (onStack.has(w)) {
      own.low = Math.min(own.low, seen.index);
    }
  }
  if (own.low === own.index) {
    const component: string[] = [];
    for (let w = stack.pop(); w !== undefined; w = w === v ? undefined : stack.pop()) {
      onStack.delete(w);
      component.push(w);
    }
    if (component.length > 1) cycles.push(component.sort());
  }
}
for (const v of [...edges.keys()].sort()) if (!visited.has(v)) connect(v);

if (cycles.length === 0) {
  process.stdout.write(`import cycles: none between ${new Set(files.map(nodeOf)).size} folders\n`);
} else {
  for (const component of cycles) {
    const members = new Set(component);
    process.stderr.write(`import cycle between ${component.join(', ')}:\n`);
    for (const from of component) {
      for (const [to, example] of edges.get(from) ?? []) {
        if (members.has(to)) process.stderr.write(`  ${from} → ${to} (${example})\n`);
      }
    }
  }
  process.exitCode = 1;
}
