import { describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { referenceTable, updateReference } from '../../../src/core/config/config-reference.js';

const REFERENCE = fileURLToPath(new URL('../../../docs/configuration.md', import.meta.url));

describe('the reference tables of docs/configuration.md', () => {
  it('are current (regenerate with: npm run config-docs)', async () => {
    const committed = await readFile(REFERENCE, 'utf8');
    expect(updateReference(committed)).toBe(committed);
  });

  it('render the default, the variable and its aliases of a key', () => {
    const table = referenceTable('HTTPS');
    expect(table).toContain(
      '| `HTTPS.Listen` | `HTTPS_LISTEN` | host:port | `:443` | Where it listens. | Mender (1.0.0) |',
    );
    expect(table).toContain(
      '(also `HTTPS_MINMUM_TLS_VERSION`, the misspelling from older Mender docs, with a warning)',
    );
  });

  it('refuse a region for a section the table does not have, and a table section without a region', () => {
    expect(() =>
      updateReference('<!-- BEGIN GENERATED: config-reference Nope -->\n<!-- END GENERATED -->\n'),
    ).toThrow(/no key of the config table is in section Nope/);
    expect(() => updateReference('# nothing generated\n')).toThrow(/no generated region for section\(s\) /);
  });
});
