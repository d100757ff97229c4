import type { ConfigIssue } from './gateway-config.js';
import { configIssue, quoteValue } from './config-issue.js';
import type { EnvKind } from './config-kinds.js';
import { CONFIG_TABLE, type ConfigEntry, type EnvAlias } from './config-table.js';

/**
 * Environment variables that override `mender-gateway.conf` (docs/protocol.md §6.2; Mender
 * Gateway 2.0.0 made every setting overridable). The names come from the config table
 * (`config-table.ts`), not from a rule on key names, because Mender's names do not follow one
 * (`ARTIFACTS_PROXY_CACHE_SECRET` sets `…ArtifactsCache.SignatureSecret`) and two documented
 * spellings exist for some.
 *
 * Overlay rules:
 * - An env var wins over the file value of the same key.
 * - An empty value counts as unset, so `-e HTTPS_LISTEN=` in a compose file does not
 *   wipe the file's value (and as in the config file, where `""` means "not set").
 * - Booleans accept exactly Go's `strconv.ParseBool` set (docs/protocol.md §6.2).
 * - Lists (`ARTIFACTS_PROXY_DOMAIN_WHITELIST`) are split on commas and/or whitespace
 *   (the format is unpublished; docs/protocol.md §9.17).
 * - Whole numbers (`DEVICE_CONNECTIONS_MAX_PER_IP`) must be digits only; they become JSON numbers.
 * - Everything else is copied as a string and validated by the schema like a file value,
 *   so a bad `HTTPS_LISTEN` is reported by the same check as a bad `HTTPS.Listen`.
 * The kind of parsing follows the key's value kind (`config-kinds.ts`).
 */

export type { EnvKind } from './config-kinds.js';
export type { EnvAlias } from './config-table.js';

export interface EnvOverride {
  env: string;
  /** JSON path of the key it overrides. */
  path: readonly string[];
  kind: EnvKind;
  /** Other accepted names; `env` wins when both are set. */
  aliases?: readonly EnvAlias[];
  /** The value must never be echoed. */
  secret?: boolean;
  /** A mender-gw extension, not a Mender Gateway setting. */
  extension?: boolean;
}

/** Every key of the table that has a variable, in the table's order. */
export const ENV_OVERRIDES: readonly EnvOverride[] = (CONFIG_TABLE as readonly ConfigEntry[]).flatMap(
  (entry) => {
    const kind = entry.type.env;
    if (entry.env === undefined || kind === undefined) return [];
    return [
      {
        env: entry.env,
        path: entry.key.split('.'),
        kind,
        ...(entry.envAliases === undefined ? {} : { aliases: entry.envAliases }),
        ...(entry.secret === true ? { secret: true } : {}),
        ...(entry.since === 'extension' ? { extension: true } : {}),
      },
    ];
  },
);

const GO_TRUE = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);
const GO_FALSE = new Set(['0', 'f', 'F', 'FALSE', 'false', 'False']);

/** Go `strconv.ParseBool`; `undefined` when the text is not one of its twelve spellings. */
export function parseGoBool(text: string): boolean | undefined {
  if (GO_TRUE.has(text)) return true;
  if (GO_FALSE.has(text)) return false;
  return undefined;
}

/** Split a list given in one variable: commas and/or whitespace separate entries. */
export function splitEnvList(text: string): string[] {
  return text.split(/[\s,]+/).filter((entry) => entry !== '');
}

export interface EnvOverlayResult {
  /** A copy of the file's JSON with every applicable env var applied. */
  raw: Record<string, unknown>;
  /** Which variable set which JSON path (`'HTTPS.Listen'` → `'HTTPS_LISTEN'`). */
  envByPath: Map<string, string>;
  /** Values that could not be applied (bad booleans) and alias warnings. */
  issues: ConfigIssue[];
}

/**
 * Apply the environment on top of the file's JSON. Pure: the input is not modified and
 * `env` defaults to `process.env` only here, so tests pass their own object.
 */
export function applyEnvOverrides(
  fileJson: Record<string, unknown>,
  env: NodeJS.ProcessEnv = process.env,
): EnvOverlayResult {
  const raw = structuredClone(fileJson);
  const envByPath = new Map<string, string>();
  const issues: ConfigIssue[] = [];

  for (const entry of ENV_OVERRIDES) {
    const chosen = pickVariable(entry, env, issues);
    if (chosen === undefined) continue;
    const { name, text } = chosen;
    const source = `env ${name}`;

    let value: unknown;
    switch (entry.kind) {
      case 'bool': {
        const parsed = parseGoBool(text);
        if (parsed === undefined) {
          issues.push(
            configIssue(
              'error',
              entry.path,
              source,
              `${quoteValue(text, entry.secret)} is not a boolean`,
              `set ${name} to true or false (Go's strconv.ParseBool set is accepted: 1, t, T, TRUE, true, True, 0, f, F, FALSE, false, False)`,
            ),
          );
          continue;
        }
        value = parsed;
        break;
      }
      case 'csv':
        value = splitEnvList(text);
        break;
      case 'integer':
        // Digits only: the schema then checks the number like a file value.
        if (!/^\d+$/.test(text)) {
          issues.push(
            configIssue(
              'error',
              entry.path,
              source,
              `${quoteValue(text, entry.secret)} is not a whole number`,
              `set ${name} to a whole number such as 1024`,
            ),
          );
          continue;
        }
        value = Number(text);
        break;
      case 'string':
      case 'duration':
        value = text;
        break;
    }
    if (setAt(raw, entry.path, value)) envByPath.set(entry.path.join('.'), name);
  }
  return { raw, envByPath, issues };
}

/** The variable to use for an entry: the primary name, else the first alias that is set. */
function pickVariable(
  entry: EnvOverride,
  env: NodeJS.ProcessEnv,
  issues: ConfigIssue[],
): { name: string; text: string } | undefined {
  const primary = nonEmpty(env[entry.env]);
  for (const alias of entry.aliases ?? []) {
    const text = nonEmpty(env[alias.env]);
    if (text === undefined) continue;
    const source = `env ${alias.env}`;
    if (primary !== undefined) {
      if (text !== primary || alias.warning !== undefined) {
        issues.push(
          configIssue(
            'warning',
            entry.path,
            source,
            `both ${entry.env} and ${alias.env} are set; ${entry.env} wins`,
            `unset ${alias.env}`,
          ),
        );
      }
      continue;
    }
    if (alias.warning !== undefined) {
      issues.push(configIssue('warning', entry.path, source, alias.warning, `rename it to ${entry.env}`));
    }
    return { name: alias.env, text };
  }
  return primary === undefined ? undefined : { name: entry.env, text: primary };
}

function nonEmpty(text: string | undefined): string | undefined {
  return text === undefined || text === '' ? undefined : text;
}

/**
 * Set `value` at `path`, creating missing objects. Returns false when a parent in the file
 * is not an object (e.g. `"HTTPS": true`): the schema reports that, and there is nowhere to
 * put the override.
 */
function setAt(root: Record<string, unknown>, path: readonly string[], value: unknown): boolean {
  let node: Record<string, unknown> = root;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (next === undefined || next === null) {
      const created: Record<string, unknown> = {};
      node[key] = created;
      node = created;
    } else if (typeof next === 'object' && !Array.isArray(next)) {
      node = next as Record<string, unknown>;
    } else {
      return false;
    }
  }
  const last = path.at(-1);
  if (last === undefined) return false;
  node[last] = value;
  return true;
}
