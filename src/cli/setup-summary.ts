import { resolveSetupPaths, SETUP_DEFAULTS } from '../core/setup/index.js';
import type { SetupAnswers } from '../core/setup/index.js';

/**
 * What the `config init` wizard shows before it writes: the answers in a few lines, and the
 * `--no-prompt` command line that gives the same configuration, so a run can be repeated on
 * the next site or in automation. Secrets never appear: they are passed through the
 * environment variables the flags read (MTLS_MENDER_PASSWORD, ARTIFACTS_PROXY_CACHE_SECRET).
 */

/** The environment variable each secret flag reads. */
export const SECRET_FLAG_ENV = {
  'mender-password': 'MTLS_MENDER_PASSWORD',
  'signature-secret': 'ARTIFACTS_PROXY_CACHE_SECRET',
} as const;

/** POSIX shell quoting, only where needed. */
export function shellQuote(arg: string): string {
  return /^[A-Za-z0-9_/.,:@%+=-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** The answers, one line each, for the "write this?" step. */
export function setupSummary(raw: SetupAnswers, out: string, cwd: string): string[] {
  const answers = resolveSetupPaths(raw, cwd);
  const listen = `${answers.listenAddress ?? 'all interfaces'}, port ${answers.httpsPort}`;
  const lines = [
    `  upstream server      ${answers.upstreamUrl}${answers.upstreamCa === undefined ? '' : ` (CA ${answers.upstreamCa})`}`,
    `  gateway name         ${answers.gatewayName}${answers.gatewayIp === undefined ? '' : ` (address ${answers.gatewayIp})`}`,
    `  HTTPS listens on     ${listen}`,
  ];
  if (answers.createCerts) {
    const caKey = answers.keepCaKey === true ? `${answers.certDir}/ca.key` : (answers.caKeyOut ?? '?');
    lines.push(`  certificates         new CA and server certificate in ${answers.certDir}; CA key ${caKey}`);
  } else {
    lines.push(`  certificates         ${answers.serverCert ?? '?'} (key ${answers.serverKey ?? '?'})`);
  }
  lines.push(
    `  artifacts proxy      ${answers.artifactsProxy ? `on, storage ${answers.domainWhitelist.join(', ')}` : 'off'}`,
  );
  if (answers.artifactsProxy)
    lines.push(`  artifacts cache      ${answers.cache ? answers.cachePath : 'off'}`);
  lines.push(
    answers.mtls
      ? `  mTLS                 on, device CA ${answers.mtlsCa ?? 'the new CA'}, user ${answers.menderUsername ?? '?'}; health on http://127.0.0.1:${answers.healthPort ?? SETUP_DEFAULTS.healthPort}`
      : '  mTLS                 off',
    `  Device System        ${answers.systemId === undefined ? 'off' : `system ID ${answers.systemId}`}`,
    `  configuration        ${out} (${answers.serviceGroup === undefined ? 'mode 0600' : `group ${answers.serviceGroup}, mode 0640`})`,
  );
  return lines;
}

/**
 * The `--no-prompt` command that writes the same configuration. A generated SignatureSecret
 * is left out: a fresh run generates another and a `--force` run keeps the existing one.
 */
export function noPromptCommandLine(
  raw: SetupAnswers,
  options: { out: string; cwd: string; bin: string; force?: boolean | undefined },
): string {
  const answers = resolveSetupPaths(raw, options.cwd);
  const env: string[] = [];
  const args: string[] = ['config', 'init', '--no-prompt', '--out', options.out];
  const add = (flag: string, value?: string | number): void => {
    args.push(`--${flag}`);
    if (value !== undefined) args.push(String(value));
  };
  if (options.force === true) add('force');
  add('upstream-url', answers.upstreamUrl);
  if (answers.upstreamCa !== undefined) add('upstream-ca', answers.upstreamCa);
  add('gateway-name', answers.gatewayName);
  if (answers.gatewayIp !== undefined) add('gateway-ip', answers.gatewayIp);
  add('https-port', answers.httpsPort);
  if (answers.listenAddress !== undefined) add('listen-address', answers.listenAddress);
  if (answers.createCerts) {
    add('create-certs');
    add('cert-dir', answers.certDir);
    if (answers.keepCaKey === true) add('keep-ca-key');
    else if (answers.caKeyOut !== undefined) add('ca-key-out', answers.caKeyOut);
  } else {
    add('server-cert', answers.serverCert ?? '');
    add('server-key', answers.serverKey ?? '');
  }
  if (answers.artifactsProxy) {
    add('artifacts-proxy');
    add('domain-whitelist', answers.domainWhitelist.join(','));
    if (answers.cache) {
      add('enable-cache');
      add('cache-path', answers.cachePath);
      if (answers.signatureSecretGenerated !== true) env.push(`${SECRET_FLAG_ENV['signature-secret']}=…`);
    } else {
      add('no-enable-cache');
    }
  } else {
    add('no-artifacts-proxy');
    add('no-enable-cache');
  }
  if (answers.mtls) {
    add('mtls');
    if (answers.mtlsCa !== undefined) add('mtls-ca', answers.mtlsCa);
    add('mender-username', answers.menderUsername ?? '');
    if (answers.healthPort !== undefined) add('health-port', answers.healthPort);
    env.push(`${SECRET_FLAG_ENV['mender-password']}=…`);
  } else {
    add('no-mtls');
  }
  if (answers.systemId !== undefined) add('system-id', answers.systemId);
  if (answers.serviceGroup !== undefined) add('service-group', answers.serviceGroup);
  return [...env, options.bin, ...args.map(shellQuote)].join(' ');
}
