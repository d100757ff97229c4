import { z } from 'zod';
import type { ConfigIssue } from './gateway-config.js';
import { CONFIG_KEY_TREE, type KeyNode } from './config-table.js';
import {
  configIssue,
  isSecretPath,
  jsonTypeName,
  quoteValue,
  valueAt,
  type ConfigSources,
  type JsonPath,
} from './config-issue.js';

/**
 * zod schema of the RAW `mender-gateway.conf` JSON, in Mender's PascalCase vocabulary
 * (docs/protocol.md §6.2), after environment overrides, built from the config table
 * (`config-table.ts`) and the value kinds (`config-kinds.ts`). It validates types and the syntax of
 * single values; defaults, path resolution and cross-field rules live in
 * `build-gateway-config.ts` and `config-checks.ts`, so the exported JSON Schema
 * (`docs/config.schema.json`, input side) describes exactly what a user may write.
 *
 * Conventions shared with Go's `encoding/json`, which Mender Gateway uses:
 * - every key is optional; `""` and `null` mean "not set" (Go's zero value);
 * - keys are matched case-insensitively (`unknown-keys.ts` canonicalises them first);
 * - unknown keys are ignored, with a warning (`unknown-keys.ts`).
 */

/** The zod object of one section of the key tree; every key optional. */
function sectionSchema(node: KeyNode): z.ZodObject {
  const shape: Record<string, z.ZodType> = {};
  for (const [name, child] of node.children) {
    const schema =
      child.entry === undefined ? sectionSchema(child) : child.entry.type.schema(child.entry.description);
    shape[name] = schema.optional();
  }
  return z.object(shape);
}

export const rawConfigSchema = sectionSchema(CONFIG_KEY_TREE).meta({
  title: 'mender-gateway.conf',
  description:
    'Mender Gateway configuration as read by mender-gw. Environment variables override these keys; see docs/configuration.md.',
});

/** The validated file and environment, before defaults; read it with `rawValue()` (build-gateway-config.ts). */
export type RawConfig = Record<string, unknown>;

export type RawValidation = { ok: true; data: RawConfig } | { ok: false; issues: ConfigIssue[] };

/** Validate the overlaid JSON and turn zod's issues into {@link ConfigIssue}s. */
export function validateRawConfig(raw: unknown, sources: ConfigSources): RawValidation {
  const result = rawConfigSchema.safeParse(raw);
  if (result.success) return { ok: true, data: result.data };
  return { ok: false, issues: result.error.issues.map((issue) => toConfigIssue(issue, raw, sources)) };
}

const EXPECTED: Readonly<Record<string, { noun: string; hint: string }>> = {
  boolean: { noun: 'a boolean', hint: 'write true or false, without quotes' },
  string: { noun: 'a string', hint: 'put the value in double quotes' },
  number: { noun: 'a number', hint: 'write a number without quotes' },
  object: { noun: 'an object', hint: 'write a JSON object: { "Key": value, … }' },
  array: { noun: 'an array', hint: 'write a JSON array, e.g. ["a", "b"]' },
};

function toConfigIssue(issue: z.core.$ZodIssue, raw: unknown, sources: ConfigSources): ConfigIssue {
  const path: JsonPath = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
  const value = valueAt(raw, path);
  const secret = isSecretPath(path);
  const source = sources.of(path);
  const shown = secret ? jsonTypeName(value) : quoteValue(value);
  const make = (message: string, hint: string): ConfigIssue =>
    configIssue('error', path, source, message, hint);

  if (issue.code === 'custom') {
    const hint = (issue.params as { hint?: unknown } | undefined)?.hint;
    return make(issue.message, typeof hint === 'string' ? hint : '');
  }
  if (issue.code === 'invalid_type') {
    const expected = EXPECTED[issue.expected] ?? { noun: issue.expected, hint: '' };
    if (value === undefined) return make(`required key is missing (expected ${expected.noun})`, 'add it');
    return make(`expected ${expected.noun}, got ${shown}`, expected.hint);
  }
  if (issue.code === 'invalid_value') {
    if (path.at(-1) === 'MinimumTLSVersion') {
      const hint =
        typeof value === 'number'
          ? `write the version as a string: "${value.toFixed(1)}"`
          : 'use "1.2" or "1.3" ("1.0" and "1.1" are accepted but obsolete)';
      return make(`${shown} is not a TLS version`, hint);
    }
    const options = issue.values.map((v) => JSON.stringify(v)).join(', ');
    return make(`${shown} is not one of ${options}`, `use one of ${options}`);
  }
  if (issue.code === 'invalid_union') {
    return make(
      `${shown} is not a valid inventory value`,
      'use a string, a number, or an array of only strings or only numbers',
    );
  }
  if (issue.code === 'too_small') return make('must not be empty', 'give it a value or remove the key');
  return make(issue.message, '');
}

/**
 * The JSON Schema of what users may write (`io: 'input'`), committed as
 * `docs/config.schema.json` for editors and CI (`npm run config-docs` regenerates it;
 * a unit test fails when it is stale).
 */
export function configJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(rawConfigSchema, { io: 'input' });
}
