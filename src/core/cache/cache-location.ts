import { resolve } from 'node:path';
import { GatewayError, isGatewayError } from '../errors.js';
import { loadConfig } from '../config/load-config.js';

/** Where the offline `cache` commands look, and why there. */
export interface CacheLocation {
  /** Absolute path of the cache directory. */
  dir: string;
  /** `path`: given directly; `config`: `Features.ArtifactsProxy.ArtifactsCache.Path` of the configuration. */
  source: 'path' | 'config';
  /** The configuration file read (`source: 'config'`); undefined for `path` or an environment-only configuration. */
  configFile: string | undefined;
  /** Things worth telling the operator, e.g. that the configuration has the cache disabled. */
  warnings: string[];
}

export interface CacheLocationOptions {
  /** The cache directory itself (`--path`); wins over the configuration. */
  path?: string | undefined;
  /** The configuration file (`--config`); default semantics of {@link loadConfig} when omitted. */
  configPath?: string | undefined;
  env?: NodeJS.ProcessEnv | undefined;
  cwd?: string | undefined;
}

/**
 * Find the artifact cache directory for `cache ls`, `prune` and `verify`: `path` when given,
 * otherwise `ArtifactsCache.Path` from the same configuration `serve` reads (file plus
 * environment overrides). Referenced certificates are not checked: the commands do not
 * need them and may run as a user who cannot read the gateway's key.
 */
export async function resolveCacheLocation(options: CacheLocationOptions = {}): Promise<CacheLocation> {
  const cwd = options.cwd ?? process.cwd();
  if (options.path !== undefined) {
    return { dir: resolve(cwd, options.path), source: 'path', configFile: undefined, warnings: [] };
  }
  let loaded: Awaited<ReturnType<typeof loadConfig>>;
  try {
    loaded = await loadConfig({ path: options.configPath, env: options.env, cwd, checkFiles: false });
  } catch (err) {
    if (!isGatewayError(err)) throw err;
    const more = 'or name the cache directory itself with --path';
    throw new GatewayError(err.code, err.message, {
      cause: err,
      details: err.details,
      hint: err.hint === undefined ? more : `${err.hint}; ${more}`,
    });
  }
  const { config } = loaded;
  const warnings: string[] = [];
  const where = config.sourceFile ?? 'the environment-only configuration';
  if (!config.artifactsProxy.cache.enabled) {
    warnings.push(
      `the artifact cache is disabled in ${where}; using its path ${config.artifactsProxy.cache.path}`,
    );
  }
  return { dir: config.artifactsProxy.cache.path, source: 'config', configFile: config.sourceFile, warnings };
}
