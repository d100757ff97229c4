/**
 * Regenerate the documents derived from the config table (src/core/config/config-table.ts):
 * docs/config.schema.json (formatted with the project's Prettier settings) and the reference
 * tables of docs/configuration.md (between its "BEGIN GENERATED: config-reference" markers).
 *
 *   npm run config-docs          rewrite both files
 *   npm run check-config-docs    (--check) write nothing; exit 1 naming each stale file
 *
 * `npm run lint` runs the check, so CI (scripts/test.sh) fails on stale docs.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as prettier from 'prettier';
import { configJsonSchema } from '../src/core/config/config-schema.js';
import { updateReference } from '../src/core/config/config-reference.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const schemaFile = fileURLToPath(new URL('../docs/config.schema.json', import.meta.url));
const referenceFile = fileURLToPath(new URL('../docs/configuration.md', import.meta.url));
const check = process.argv.includes('--check');

const options = (await prettier.resolveConfig(schemaFile)) ?? {};
const wanted: { file: string; text: string }[] = [
  {
    file: schemaFile,
    text: await prettier.format(JSON.stringify(configJsonSchema()), { ...options, filepath: schemaFile }),
  },
  { file: referenceFile, text: updateReference(await readFile(referenceFile, 'utf8')) },
];

let stale = 0;
for (const { file, text } of wanted) {
  const name = relative(root, file);
  const current = await readFile(file, 'utf8').catch(() => '');
  if (current === text) continue;
  if (check) {
    stale++;
    process.stderr.write(
      `${name} is stale: it differs from what src/core/config/config-table.ts generates; run: npm run config-docs\n`,
    );
  } else {
    await writeFile(file, text);
    process.stdout.write(`wrote ${name}\n`);
  }
}
if (stale > 0) process.exit(1);
