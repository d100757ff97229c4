/**
 * Regenerate docs/config.schema.json from the zod schema of mender-gateway.conf, formatted
 * with the project's Prettier settings so `npm run lint` accepts it. Run with
 * `npm run config-schema`; test/unit/config/config-json-schema.test.ts fails when the
 * committed file is stale.
 */
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import * as prettier from 'prettier';
import { configJsonSchema } from '../src/core/config/config-schema.js';

const target = fileURLToPath(new URL('../docs/config.schema.json', import.meta.url));
const options = (await prettier.resolveConfig(target)) ?? {};
const text = await prettier.format(JSON.stringify(configJsonSchema()), { ...options, filepath: target });
await writeFile(target, text);
process.stdout.write(`wrote ${target}\n`);
