import type { ConfigIssue } from './gateway-config.js';
import { configIssue, formatJsonPath, type JsonPath } from './config-issue.js';
import { CONFIG_KEY_TREE, type KeyNode } from './config-table.js';

/**
 * Key hygiene before validation, mirroring Go's `encoding/json` (what Mender Gateway
 * reads its config with) where that is harmless and warning where it hides mistakes:
 *
 * - Go matches keys case-insensitively, so `"listen"` works in Mender Gateway. We accept it
 *   too (renamed to `Listen`) and warn, because other tools and our docs use the exact case.
 * - Go ignores unknown keys. We ignore them as well, but warn with the path and the closest
 *   known key (`$.HTTPS.Lisen: unknown key (did you mean "Listen"?)`): a typo in a key
 *   otherwise silently turns a setting into its default.
 * - `null` leaves a Go field at its zero value: we drop it (same as "not set").
 *
 * The known keys are those of the config table (`config-table.ts`), the one list of keys.
 */

/** Every object key the table knows, with the paths where it may appear (for "belongs under …" hints). */
function knownKeyLocations(tree: KeyNode): Map<string, JsonPath[]> {
  const locations = new Map<string, JsonPath[]>();
  const visit = (node: KeyNode, path: JsonPath): void => {
    for (const [key, child] of node.children) {
      const list = locations.get(key.toLowerCase()) ?? [];
      list.push(path);
      locations.set(key.toLowerCase(), list);
      visit(child, [...path, key]);
    }
    if (node.items !== undefined) visit(node.items, [...path, 0]);
  };
  visit(tree, []);
  return locations;
}

const LOCATIONS = knownKeyLocations(CONFIG_KEY_TREE);

/** Levenshtein distance, case-insensitive (keys are short; O(n·m) is fine). */
export function editDistance(a: string, b: string): number {
  const s = a.toLowerCase();
  const t = b.toLowerCase();
  let previous = Array.from({ length: t.length + 1 }, (_, j) => j);
  for (let i = 1; i <= s.length; i++) {
    const current = [i];
    for (let j = 1; j <= t.length; j++) {
      const cost = s[i - 1] === t[j - 1] ? 0 : 1;
      current[j] = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + cost);
    }
    previous = current;
  }
  return previous[t.length] ?? Math.max(s.length, t.length);
}

/** The closest candidate within a small edit distance, if any. */
export function closestKey(key: string, candidates: readonly string[]): string | undefined {
  const limit = key.length <= 4 ? 1 : key.length <= 10 ? 2 : 3;
  let best: { key: string; distance: number } | undefined;
  for (const candidate of candidates) {
    const distance = editDistance(key, candidate);
    if (distance <= limit && (best === undefined || distance < best.distance))
      best = { key: candidate, distance };
  }
  return best?.key;
}

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

export interface KeyCheckResult {
  /** A copy with keys canonicalised and nulls removed; unknown keys are kept (zod strips them). */
  value: unknown;
  warnings: ConfigIssue[];
}

/**
 * Canonicalise key case, drop nulls and warn about unknown keys in `json` (the config
 * file's parsed content), against the keys of the config table. `source` names the file for
 * the warnings.
 */
export function checkKeys(json: unknown, source: string): KeyCheckResult {
  const warnings: ConfigIssue[] = [];

  const visit = (value: unknown, node: KeyNode, path: JsonPath): unknown => {
    if (node.children.size > 0 && isPlainObject(value)) {
      const known = [...node.children.keys()];
      const out: Record<string, unknown> = {};
      for (const [key, child] of Object.entries(value)) {
        if (child === null) continue;
        let canonical: string | undefined = known.includes(key) ? key : undefined;
        if (canonical === undefined) {
          const folded = known.find((k) => k.toLowerCase() === key.toLowerCase());
          if (folded !== undefined && !(folded in value)) {
            canonical = folded;
            warnings.push(
              configIssue(
                'warning',
                [...path, key],
                source,
                `key accepted as "${folded}" (Mender Gateway matches keys case-insensitively)`,
                `write "${folded}"`,
              ),
            );
          }
        }
        if (canonical === undefined) {
          warnings.push(unknownKey(key, path, known, LOCATIONS, source));
          out[key] = child;
          continue;
        }
        const childNode = node.children.get(canonical);
        out[canonical] = childNode === undefined ? child : visit(child, childNode, [...path, canonical]);
      }
      return out;
    }
    const items = node.items;
    if (items !== undefined && Array.isArray(value)) {
      return value.map((item, index) => visit(item, items, [...path, index]));
    }
    return value;
  };

  return { value: visit(json, CONFIG_KEY_TREE, []), warnings };
}

function unknownKey(
  key: string,
  path: JsonPath,
  siblings: readonly string[],
  locations: ReadonlyMap<string, JsonPath[]>,
  source: string,
): ConfigIssue {
  const suggestion = closestKey(key, siblings);
  if (suggestion !== undefined) {
    return configIssue(
      'warning',
      [...path, key],
      source,
      `unknown key (did you mean "${suggestion}"?)`,
      `rename it to "${suggestion}"; unknown keys are ignored`,
    );
  }
  const elsewhere = locations.get(key.toLowerCase());
  if (elsewhere !== undefined && elsewhere.length > 0) {
    const where = elsewhere.map((p) => formatJsonPath(p)).join(' or ');
    return configIssue(
      'warning',
      [...path, key],
      source,
      `unknown key here ("${key}" belongs under ${where})`,
      'move it; keys in the wrong place are ignored',
    );
  }
  return configIssue(
    'warning',
    [...path, key],
    source,
    'unknown key',
    'remove it or check the spelling against docs/configuration.md; unknown keys are ignored',
  );
}
