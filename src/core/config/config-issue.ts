import type { ConfigIssue } from './gateway-config.js';
import { SECRET_KEYS } from './config-table.js';

/**
 * Helpers for {@link ConfigIssue}: JSON paths, where a value came from, quoting values
 * without leaking secrets, one-line rendering.
 *
 * Every config problem says what, where and what next (CONTRIBUTING.md §6): the JSON path
 * (`$.HTTPS.Listen`), the source (`file …`, `env HTTPS_LISTEN`, `defaults`) and a hint.
 */

export type JsonPath = readonly (string | number)[];

/**
 * Whether the value at `path` is a secret (or inside one) and must never be echoed: the
 * table's `secret` keys (docs/protocol.md §6.7: never log passwords; the HMAC key signs cache
 * links, docs/protocol.md §4.4).
 */
export function isSecretPath(path: JsonPath): boolean {
  for (let n = 1; n <= path.length; n++) {
    if (SECRET_KEYS.has(path.slice(0, n).join('.'))) return true;
  }
  return false;
}

/** `['HTTPS','Listen']` → `$.HTTPS.Listen`; array indexes as `[0]`; odd keys as `["a b"]`. */
export function formatJsonPath(path: JsonPath): string {
  let out = '$';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(segment)) out += `.${segment}`;
    else out += `[${JSON.stringify(segment)}]`;
  }
  return out;
}

/** A value for a message: JSON, shortened; secrets are never shown. */
export function quoteValue(value: unknown, secret = false): string {
  if (secret) return 'the value (not shown: secret)';
  const text = value === undefined ? 'nothing' : JSON.stringify(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** What kind of JSON value this is, for "expected X, got Y" messages. */
export function jsonTypeName(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'an array';
  const type = typeof value;
  return type === 'object' ? 'an object' : `a ${type}`;
}

/** Read the value at a JSON path (undefined when absent). */
export function valueAt(root: unknown, path: JsonPath): unknown {
  let node: unknown = root;
  for (const segment of path) {
    if (typeof node !== 'object' || node === null) return undefined;
    node = (node as Record<string | number, unknown>)[segment];
  }
  return node;
}

/**
 * Where each configuration value came from. Env overrides win over the file (docs/protocol.md §6.2), so the
 * env map is consulted first; an array element belongs to the
 * variable that set the whole array.
 */
export class ConfigSources {
  constructor(
    /** Absolute path of the config file, or undefined when running from the environment only. */
    readonly file: string | undefined,
    /** The file's JSON after key canonicalisation (not the env overlay). */
    private readonly fileJson: unknown,
    /** `'HTTPS.Listen'` → `'HTTPS_LISTEN'`. */
    private readonly envByPath: ReadonlyMap<string, string>,
  ) {}

  /** The env var that set `path` (or one of its parents), if any. */
  envVar(path: JsonPath): string | undefined {
    for (let n = path.length; n > 0; n--) {
      const name = this.envByPath.get(path.slice(0, n).join('.'));
      if (name !== undefined) return name;
    }
    return undefined;
  }

  inFile(path: JsonPath): boolean {
    return this.file !== undefined && valueAt(this.fileJson, path) !== undefined;
  }

  /** Set by the file or the environment (as opposed to a default). */
  isSet(path: JsonPath): boolean {
    return this.envVar(path) !== undefined || this.inFile(path);
  }

  /** `env HTTPS_LISTEN`, `file /etc/mender/mender-gateway.conf` or `defaults`. */
  of(path: JsonPath): string {
    const env = this.envVar(path);
    if (env !== undefined) return `env ${env}`;
    if (this.inFile(path)) return this.fileSource();
    return 'defaults';
  }

  /** The source to blame for a whole-document problem. */
  fileSource(): string {
    return this.file === undefined ? 'environment' : `file ${this.file}`;
  }
}

export function configIssue(
  severity: ConfigIssue['severity'],
  path: JsonPath,
  source: string,
  message: string,
  hint: string,
): ConfigIssue {
  return { path: formatJsonPath(path), source, severity, message, hint };
}

/**
 * One line per issue, e.g.
 * `error $.HTTPS.Listen (env HTTPS_LISTEN): "abc" is not host:port — use e.g. ":443" or "0.0.0.0:8443"`.
 */
export function formatConfigIssue(issue: ConfigIssue): string {
  const hint = issue.hint === '' ? '' : ` — ${issue.hint}`;
  return `${issue.severity} ${issue.path} (${issue.source}): ${issue.message}${hint}`;
}
