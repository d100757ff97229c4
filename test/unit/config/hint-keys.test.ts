import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { CONFIG_TABLE } from '../../../src/core/config/config-table.js';

const SRC = fileURLToPath(new URL('../../../src', import.meta.url));

/** Dotted names that start like a key of mender-gateway.conf: `HTTPS.Listen`, `ArtifactsCache.Path`. */
const KEY_LIKE =
  /(?<![\w$])(?:Features|HTTPS?|UpstreamServer|Metrics|Drain|DeviceConnections|ArtifactsProxy|ArtifactsCache|mTLS|DeviceSystem)(?:\.[A-Za-z]+)+/g;

/** Every key and section of the table, and each dotted tail of one (`ArtifactsCache.Path`). */
const NAMES = new Set(
  CONFIG_TABLE.flatMap(({ key }) => {
    const segments = key.split('.');
    const names: string[] = [];
    for (let start = 0; start < segments.length; start++)
      for (let end = start + 1; end <= segments.length; end++)
        names.push(segments.slice(start, end).join('.'));
    return names;
  }),
);

function* tsFiles(dir: string): Generator<string> {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* tsFiles(path);
    else if (path.endsWith('.ts')) yield path;
  }
}

/** The text of every string literal and template part in a file (comments are not messages). */
function stringLiterals(file: string): string[] {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const texts: string[] = [];
  const visit = (node: ts.Node): void => {
    if (
      ts.isStringLiteral(node) ||
      ts.isNoSubstitutionTemplateLiteral(node) ||
      ts.isTemplateHead(node) ||
      ts.isTemplateMiddle(node) ||
      ts.isTemplateTail(node)
    )
      texts.push(node.text);
    ts.forEachChild(node, visit);
  };
  visit(source);
  return texts;
}

/** Whole keys and sections: what `key()` accepts. */
const KEYS = new Set(
  CONFIG_TABLE.flatMap(({ key }) => key.split('.').map((_, i, all) => all.slice(0, i + 1).join('.'))),
);

describe('config keys named in messages and hints', () => {
  it('every key a string in src/ names exists in the config table', () => {
    const unknown: string[] = [];
    for (const file of tsFiles(SRC)) {
      for (const text of stringLiterals(file)) {
        for (const [name] of text.matchAll(KEY_LIKE)) {
          if (!NAMES.has(name)) unknown.push(`${relative(SRC, file)}: ${name}`);
        }
      }
    }
    expect(unknown).toEqual([]);
  });

  it('messages name whole keys through key(), so the compiler checks them against the table', () => {
    const literal: string[] = [];
    for (const file of tsFiles(SRC)) {
      // The table's own descriptions are documentation of the keys, checked by the test above.
      if (file.endsWith('config-table.ts')) continue;
      for (const text of stringLiterals(file)) {
        // A literal that is exactly a key is an argument typed by the table (defaultOf, keyPath, …).
        if (KEYS.has(text)) continue;
        for (const [name] of text.matchAll(KEY_LIKE)) {
          if (KEYS.has(name)) literal.push(`${relative(SRC, file)}: ${name} in ${JSON.stringify(text)}`);
        }
      }
    }
    expect(literal).toEqual([]);
  });
});
