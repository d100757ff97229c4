import { readFile, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { GatewayError } from '../errors.js';
import type { ConfigIssue, GatewayConfig, LoadedConfig } from './gateway-config.js';
import { buildGatewayConfig, type ConfigDraft } from './build-gateway-config.js';
import { checkConfig, checkConfigFiles } from './config-checks.js';
import { DEFAULT_CONFIG_PATH } from './config-defaults.js';
import { ConfigSources, configIssue } from './config-issue.js';
import { validateRawConfig } from './config-schema.js';
import { applyEnvOverrides } from './env-overrides.js';
import { parseJsonWithLocation } from './json-location.js';
import { checkKeys } from './unknown-keys.js';
import { runStartupChecks } from './startup-checks.js';
import { checkEnvTypos } from './env-typos.js';
import { errnoCode } from '../file-errors.js';

export { DEFAULT_CONFIG_PATH } from './config-defaults.js';

export interface LoadConfigOptions {
  /**
   * The config file. When omitted, {@link DEFAULT_CONFIG_PATH} is used if it exists and
   * the environment alone otherwise (Docker usage, docs/protocol.md §6.2). An explicit path
   * must exist.
   */
  path?: string | undefined;
  /** Environment to read overrides from; defaults to `process.env`. */
  env?: NodeJS.ProcessEnv | undefined;
  /**
   * Check the files the configuration names (default true): that they are readable, and the
   * start-up checks of `serve` (certificates parse, key matches, CAs are CAs, the cache
   * directory is usable; see startup-checks.ts).
   */
  checkFiles?: boolean | undefined;
  /** Base for relative paths from env vars and for a relative `path`; defaults to `process.cwd()`. */
  cwd?: string | undefined;
}

const INVALID_HINT =
  'fix each error listed: the path names the key, the source says where the value came from (the file, an environment variable, or a default); `mender-gw config validate` re-checks without starting the gateway';

/**
 * Read `mender-gateway.conf`, apply environment overrides, validate, apply defaults and
 * check cross-field rules (docs/protocol.md §6.2, §9.11). The same code serves `serve`
 * and `config validate`, so both judge a config identically.
 *
 * Throws `MGW_CONFIG_UNREADABLE` when the file cannot be read or is not JSON (with
 * line:column), and one `MGW_CONFIG_INVALID` whose `details` is every {@link ConfigIssue}
 * (errors and warnings) otherwise. Never prints.
 */
export async function loadConfig(options: LoadConfigOptions = {}): Promise<LoadedConfig> {
  const evaluation = await evaluateConfig(options);
  const config = await validConfig(evaluation, options);
  return { config, warnings: evaluation.issues, envOverrides: evaluation.envOverrides };
}

/** The evaluated configuration, or the one error `serve` refuses it with. */
export async function validConfig(
  evaluation: ConfigEvaluation,
  options: LoadConfigOptions = {},
): Promise<GatewayConfig> {
  if (evaluation.config === undefined) {
    const error = invalid(evaluation.file, evaluation.issues);
    const nearby =
      evaluation.file === undefined ? await nearbyConfig(options.cwd ?? process.cwd()) : undefined;
    if (nearby === undefined) throw error;
    throw new GatewayError(error.code, error.message, {
      details: error.details,
      hint: `no --config was given and ${DEFAULT_CONFIG_PATH} does not exist, so only the environment was read; ${nearby} exists: pass --config ${nearby}`,
    });
  }
  return evaluation.config;
}

export interface ConfigEvaluation {
  /** Absolute path of the file read; undefined when running from the environment only. */
  file: string | undefined;
  /** Errors and warnings, in the order found. */
  issues: ConfigIssue[];
  /** Present exactly when there is no error. */
  config: GatewayConfig | undefined;
  /** Names of the environment variables that set a key, sorted. */
  envOverrides: string[];
  /** The settings as the file and environment give them, defaults filled in (when they validate). */
  effective?: unknown;
  /** Where each setting came from (when the settings validate). */
  sources?: ConfigSources;
  /**
   * Every value typed, defaulted and resolved, before the rules between keys and the file
   * checks: present when each value is valid on its own, even if `serve` would refuse the
   * whole. The offline `cache` commands read the cache path from it.
   */
  draft?: ConfigDraft;
}

/**
 * The whole pipeline without the final throw: for callers that report issues themselves
 * (`validateConfig`). Still throws `MGW_CONFIG_UNREADABLE`: without a document there is
 * nothing to list issues about.
 */
export async function evaluateConfig(options: LoadConfigOptions = {}): Promise<ConfigEvaluation> {
  const cwd = options.cwd ?? process.cwd();
  const env = options.env ?? process.env;
  const issues: ConfigIssue[] = [];

  const file = await readConfigFile(options.path, cwd);
  const fileSource = file === undefined ? 'environment' : `file ${file.path}`;
  if (file?.hadBom === true) {
    issues.push(
      configIssue(
        'warning',
        [],
        fileSource,
        'the file starts with a UTF-8 byte order mark; Mender Gateway would reject it',
        'save the file as UTF-8 without BOM',
      ),
    );
  }
  const json = file === undefined ? {} : parseConfigJson(file.text, file.path);
  let envOverrides: string[] = [];
  // Filled in as the pipeline gets that far.
  const reached: { effective?: unknown; sources?: ConfigSources; draft?: ConfigDraft } = {};
  const done = (config?: GatewayConfig): ConfigEvaluation => ({
    file: file?.path,
    issues,
    config,
    envOverrides,
    ...reached,
  });

  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    const got = Array.isArray(json) ? 'an array' : json === null ? 'null' : `a ${typeof json}`;
    issues.push(
      configIssue(
        'error',
        [],
        fileSource,
        `expected a JSON object at the top level, got ${got}`,
        'wrap the settings in { … }',
      ),
    );
    return done();
  }

  // Steps, each adding issues: key hygiene → env overlay → schema → defaults → cross-field → files.
  const keys = checkKeys(json, fileSource);
  issues.push(...keys.warnings);
  const fileJson = keys.value as Record<string, unknown>;

  const overlay = applyEnvOverrides(fileJson, env);
  envOverrides = [...new Set(overlay.envByPath.values())].sort();
  issues.push(...overlay.issues, ...checkEnvTypos(env));
  const sources = new ConfigSources(file?.path, fileJson, overlay.envByPath);
  reached.sources = sources;

  const validation = validateRawConfig(overlay.raw, sources);
  if (!validation.ok) {
    issues.push(...validation.issues);
    return done();
  }

  reached.effective = validation.data;
  const { draft, issues: buildIssues } = buildGatewayConfig(validation.data, sources, cwd);
  reached.draft = draft;
  issues.push(...buildIssues, ...checkConfig(draft, sources));
  if (options.checkFiles ?? true) {
    issues.push(...(await checkConfigFiles(draft, sources, overlay.raw)));
    issues.push(...(await runStartupChecks(draft, sources, issues)));
  }

  return done(issues.some((issue) => issue.severity === 'error') ? undefined : finalise(draft));
}

interface ConfigFile {
  path: string;
  text: string;
  hadBom: boolean;
}

async function readConfigFile(path: string | undefined, cwd: string): Promise<ConfigFile | undefined> {
  const explicit = path !== undefined;
  const absolute = resolve(cwd, path ?? DEFAULT_CONFIG_PATH);
  let text: string;
  try {
    text = await readFile(absolute, 'utf8');
  } catch (err) {
    const code = errnoCode(err);
    if (!explicit && code === 'ENOENT') return undefined; // env-only (Docker) usage
    throw unreadable(absolute, code, err);
  }
  const hadBom = text.startsWith('\uFEFF');
  return { path: absolute, text: hadBom ? text.slice(1) : text, hadBom };
}

function unreadable(path: string, code: string | undefined, cause: unknown): GatewayError {
  const fail = (message: string, hint: string): GatewayError =>
    new GatewayError('MGW_CONFIG_UNREADABLE', message, { cause, hint, details: { file: path } });
  if (code === 'ENOENT' || code === 'ENOTDIR') {
    return fail(
      `configuration file ${path} does not exist`,
      `check the --config path; without --config, ${DEFAULT_CONFIG_PATH} is read if it exists, else the environment variables alone`,
    );
  }
  if (code === 'EACCES' || code === 'EPERM') {
    return fail(
      `cannot read configuration file ${path}: permission denied`,
      'make the file readable by the user running mender-gw',
    );
  }
  if (code === 'EISDIR') {
    return fail(
      `${path} is a directory, not a configuration file`,
      'pass the path of the JSON file, e.g. /etc/mender/mender-gateway.conf',
    );
  }
  return fail(
    `cannot read configuration file ${path} (${code ?? 'error'})`,
    'check the path and its permissions',
  );
}

function parseConfigJson(text: string, path: string): unknown {
  const parsed = parseJsonWithLocation(text);
  if (parsed.ok) return parsed.value;
  // The reason never quotes the document (V8's own message does), so no secret leaks here.
  throw new GatewayError(
    'MGW_CONFIG_UNREADABLE',
    `${path}:${parsed.line}:${parsed.column}: invalid JSON: ${parsed.reason}`,
    {
      hint: 'fix the JSON syntax at that position; JSON allows no comments, no trailing commas and only double quotes',
      details: { file: path, line: parsed.line, column: parsed.column, reason: parsed.reason },
    },
  );
}

/** A configuration `config init` may have written in the working directory, when the default path is missing. */
async function nearbyConfig(cwd: string): Promise<string | undefined> {
  const candidate = resolve(cwd, 'mender-gateway.conf');
  return (await stat(candidate).catch(() => undefined))?.isFile() === true ? candidate : undefined;
}

function invalid(file: string | undefined, issues: ConfigIssue[]): GatewayError {
  const errors = issues.filter((issue) => issue.severity === 'error').length;
  const warnings = issues.length - errors;
  const where = file === undefined ? '(environment only)' : `in ${file}`;
  const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;
  const counts =
    warnings === 0 ? plural(errors, 'error') : `${plural(errors, 'error')}, ${plural(warnings, 'warning')}`;
  // A configuration whose only errors are, say, TLS material exits with MGW_TLS_MATERIAL, the
  // code operators look up in docs/operator-guide.md (Troubleshooting).
  const codes = new Set(
    issues.filter((i) => i.severity === 'error').map((i) => i.code ?? 'MGW_CONFIG_INVALID'),
  );
  const code = codes.size === 1 ? ([...codes][0] ?? 'MGW_CONFIG_INVALID') : 'MGW_CONFIG_INVALID';
  return new GatewayError(code, `invalid configuration ${where}: ${counts}`, {
    hint: INVALID_HINT,
    details: issues,
  });
}

/** After checkConfig found no error the upstream URL is present. */
function finalise(draft: ConfigDraft): GatewayConfig {
  const { url } = draft.upstream;
  if (url === undefined) throw new Error('bug: configuration without upstream URL passed the checks');
  return { ...draft, upstream: { ...draft.upstream, url } };
}
