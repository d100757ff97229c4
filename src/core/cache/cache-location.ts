import { resolve } from 'node:path';
import { GatewayError, isGatewayError } from '../errors.js';
import { evaluateConfig, validConfig } from '../config/load-config.js';
import type { ConfigEvaluation } from '../config/load-config.js';
import { key } from '../config-key.js';

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
  const load = { path: options.configPath, env: options.env, cwd, checkFiles: false };
  const more = 'or name the cache directory itself with --path';
  let evaluation: ConfigEvaluation;
  try {
    evaluation = await evaluateConfig(load);
    // The cache needs only its own path: a configuration serve would refuse for another reason
    // (a missing certificate, mTLS without a user) still says where the cache is, and an
    // operator cleaning up a broken gateway's disk must be able to use these commands.
    const draft = evaluation.draft;
    const cachePath = `$.${key('Features.ArtifactsProxy.ArtifactsCache.Path')}`;
    const errors = evaluation.issues.filter((i) => i.severity === 'error');
    // Without a file (no --config and no default file) the errors most likely mean a forgotten
    // --config: validConfig's error names the path looked for and any file nearby.
    if (
      evaluation.config === undefined &&
      (draft === undefined || evaluation.file === undefined || errors.some((i) => i.path === cachePath))
    )
      await validConfig(evaluation, load);
    const cache = (evaluation.config ?? draft)?.artifactsProxy.cache;
    if (cache === undefined) throw new Error('internal: a configuration without its cache settings');
    const warnings: string[] = [];
    const where = evaluation.file ?? 'the environment-only configuration';
    if (evaluation.config === undefined) {
      warnings.push(
        `${where} has ${String(errors.length)} error(s), so serve would refuse it (mender-gw config validate lists them); its cache path was used anyway`,
      );
    }
    if (!cache.enabled)
      warnings.push(`the artifact cache is disabled in ${where}; using its path ${cache.path}`);
    return { dir: cache.path, source: 'config', configFile: evaluation.file, warnings };
  } catch (err) {
    if (!isGatewayError(err)) throw err;
    throw new GatewayError(err.code, err.message, {
      cause: err,
      details: err.details,
      hint: err.hint === undefined ? more : `${err.hint}; ${more}`,
    });
  }
}
