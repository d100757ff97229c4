import { describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { configJsonSchema } from '../../../src/core/config/config-schema.js';
import { ENV_OVERRIDES } from '../../../src/core/config/env-overrides.js';

const SCHEMA_FILE = fileURLToPath(new URL('../../../docs/config.schema.json', import.meta.url));

interface JsonSchemaNode {
  properties?: Record<string, JsonSchemaNode>;
}

describe('docs/config.schema.json', () => {
  it('is current (regenerate with: npm run config-docs)', async () => {
    // Compared as data: the file is Prettier-formatted, the generator's output is not.
    const committed: unknown = JSON.parse(await readFile(SCHEMA_FILE, 'utf8'));
    expect(committed).toEqual(JSON.parse(JSON.stringify(configJsonSchema())));
  });

  it('has a property for every environment override', () => {
    const schema = configJsonSchema() as JsonSchemaNode;
    for (const { env, path } of ENV_OVERRIDES) {
      let node: JsonSchemaNode | undefined = schema;
      for (const key of path) node = node?.properties?.[key];
      expect(node, `${env} → ${path.join('.')}`).toBeDefined();
    }
  });
});
