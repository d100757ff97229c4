/** Variables the Go HTTP client honours for proxying (it reads both cases). */
const PROXY_VARIABLE = /^(https?|no|all|ftp)_proxy$/i;

/**
 * The daemon's environment: the runner's own, minus proxy variables (the 3.4 client honours
 * HTTPS_PROXY, which would send a loopback test server's traffic elsewhere), plus `extra`,
 * which may set proxy variables back on purpose.
 */
export function daemonEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!PROXY_VARIABLE.test(key)) env[key] = value;
  }
  return { ...env, ...extra };
}
