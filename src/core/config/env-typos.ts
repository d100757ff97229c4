import type { ConfigIssue } from './gateway-config.js';
import { ENV_OVERRIDES } from './env-overrides.js';
import { closestKey } from './unknown-keys.js';

/** Variables other programs read that look like ours but are not typos (proxy settings, curl). */
const OTHER_PROGRAMS = new Set([
  'HTTP_PROXY',
  'HTTPS_PROXY',
  'NO_PROXY',
  'ALL_PROXY',
  'HTTP_PROXY_REQUEST_FULLURI',
]);

const KNOWN = ENV_OVERRIDES.flatMap((e) => [e.env, ...(e.aliases ?? []).map((a) => a.env)]);
/** First words of the gateway's variables (`HTTPS`, `MTLS`, `ARTIFACTS`, …). */
const PREFIXES = new Set(KNOWN.map((name) => name.split('_')[0]));

/**
 * Warnings for environment variables that look like a misspelt gateway variable
 * (`HTTPS_LISTN` → `HTTPS_LISTEN`): the gateway ignores unknown variables, as Mender Gateway
 * does, so a typo in a compose file would otherwise silently leave the file's value in force.
 * Only names starting with one of the gateway's own first words and close to a known name
 * are reported, so unrelated variables never warn.
 */
export function checkEnvTypos(env: NodeJS.ProcessEnv): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  for (const name of Object.keys(env).sort()) {
    if (KNOWN.includes(name) || OTHER_PROGRAMS.has(name.toUpperCase())) continue;
    if (!PREFIXES.has(name.toUpperCase().split('_')[0])) continue;
    const guess = closestKey(name, KNOWN);
    if (guess === undefined) continue;
    issues.push({
      path: '$',
      source: `env ${name}`,
      severity: 'warning',
      message: `environment variable ${name} is not a gateway setting and is ignored (did you mean ${guess}?)`,
      hint: `rename it to ${guess}, or unset it`,
    });
  }
  return issues;
}
