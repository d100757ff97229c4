import { randomBytes } from 'node:crypto';
import { errnoCode, fileWriteError } from '../file-errors.js';
import { link, mkdir, open, rename, unlink } from 'node:fs/promises';
import { checkOutputTarget } from '../output-target.js';
import { basename, dirname, join, resolve } from 'node:path';
import { formatConfigIssue, validateConfig } from '../config/index.js';
import type { ConfigIssue } from '../config/index.js';
import { GatewayError } from '../errors.js';
import { checkOutputTargets, issueCaFiles, issueServerFiles, MAX_COMMON_NAME_LENGTH } from '../pki/index.js';
import type { CertificateSummary } from '../pki/index.js';
import type { SetupAnswers } from './setup-answers.js';
import { checkSetupAnswers, resolveSetupPaths, setupCertificatePaths } from './setup-answers.js';
import { buildSetupConfig, redactSetupConfig, renderSetupConfig } from './setup-config.js';
import { key } from '../config-key.js';

export interface ApplySetupOptions {
  answers: SetupAnswers;
  /** The configuration file to write. */
  out: string;
  /** Replace an existing configuration file (certificates are never replaced). */
  force?: boolean | undefined;
  /** Base of relative paths; default `process.cwd()`. */
  cwd?: string | undefined;
}

export interface SetupResult {
  /** Absolute path of the written configuration (mode 0600). */
  file: string;
  /** The written document with MenderPassword and SignatureSecret shown as "(secret)". */
  config: Record<string, unknown>;
  /** Certificates created with --create-certs (CA, then server). */
  certificates: CertificateSummary[];
  /** `config validate` warnings of the written file, formatted. */
  warnings: string[];
}

/** The configuration may hold the management password and the link secret. */
export const SETUP_FILE_MODE = 0o600;

const writeError = (path: string, err: unknown): GatewayError =>
  fileWriteError(path, err, 'Check that the directory is writable and has free space.');

async function checkConfigTarget(path: string, force: boolean): Promise<void> {
  await checkOutputTarget(path, { force, flag: '--out' });
}

function caCommonName(gatewayName: string): string {
  const name = `mender-gw CA ${gatewayName}`;
  return name.length <= MAX_COMMON_NAME_LENGTH ? name : 'mender-gw CA';
}

/** Validate the staged file exactly as `config validate` would, judged on the file alone (no environment). */
async function validateStaged(
  temp: string,
  out: string,
): Promise<{ errors: ConfigIssue[]; warnings: ConfigIssue[] }> {
  const verdict = await validateConfig({ path: temp, env: {} });
  // Report against the file the operator asked for, not the staging file.
  const rename = (issue: ConfigIssue): ConfigIssue => ({
    ...issue,
    source: issue.source.split(temp).join(out),
    message: issue.message.split(temp).join(out),
  });
  return { errors: verdict.errors.map(rename), warnings: verdict.warnings.map(rename) };
}

function invalidConfig(out: string, errors: ConfigIssue[], certificatesCreated: boolean): GatewayError {
  return new GatewayError(
    'MGW_CONFIG_INVALID',
    `the configuration for ${out} would be invalid (${errors.length} error${errors.length === 1 ? '' : 's'}); it was not written`,
    {
      details: errors,
      hint: certificatesCreated
        ? 'Fix the answers named above and run config init again with --no-create-certs --server-cert/--server-key pointing at the certificates just created.'
        : 'Fix the answers named above and run config init again.',
    },
  );
}

/**
 * The wizard's effect: check the answers, stage the configuration beside `out` (mode 0600),
 * validate it (only the certificates still to be created may be missing), create the CA and server certificate if asked (through
 * the `cert issue` core; existing certificate files are never replaced), validate it again
 * with the same checks as `config validate` and `serve`, and only then move it to `out`.
 * An invalid configuration is never written (`MGW_CONFIG_INVALID` with every issue).
 */
export async function applySetup(options: ApplySetupOptions): Promise<SetupResult> {
  const cwd = options.cwd ?? process.cwd();
  const force = options.force ?? false;
  const out = resolve(cwd, options.out);
  const answers = checkSetupAnswers(resolveSetupPaths(options.answers, cwd));
  const config = buildSetupConfig(answers);

  await checkConfigTarget(out, force);
  const certificatePaths = setupCertificatePaths(answers.certDir);
  if (answers.createCerts) {
    await checkOutputTargets(Object.values(certificatePaths), { force: false });
  }

  try {
    await mkdir(dirname(out), { recursive: true });
  } catch (err) {
    throw writeError(dirname(out), err);
  }
  const temp = join(dirname(out), `.${basename(out)}.${randomBytes(6).toString('hex')}.tmp`);
  let staged = false;
  try {
    try {
      const handle = await open(temp, 'wx', SETUP_FILE_MODE);
      staged = true;
      try {
        // The umask cannot widen the mode, but chmod makes the intent explicit.
        await handle.chmod(SETUP_FILE_MODE);
        await handle.writeFile(renderSetupConfig(config), 'utf8');
        await handle.sync();
      } finally {
        await handle.close();
      }
    } catch (err) {
      throw writeError(out, err);
    }

    // Checked before any certificate is created, so that a wrong answer leaves nothing
    // behind; only the files still to be created are allowed to be missing at this point.
    const pending = new Set<string>();
    if (answers.createCerts) {
      pending.add(`$.${key('HTTPS.ServerCertificate')}`).add(`$.${key('HTTPS.ServerKey')}`);
      if (answers.mtls && answers.mtlsCa === undefined)
        pending.add(`$.${key('Features.mTLS.CACertificate')}`);
    }
    const early = await validateStaged(temp, out);
    const earlyErrors = early.errors.filter((issue) => !pending.has(issue.path));
    if (earlyErrors.length > 0) throw invalidConfig(out, earlyErrors, false);

    const certificates: CertificateSummary[] = [];
    if (answers.createCerts) {
      const ca = await issueCaFiles({
        commonName: caCommonName(answers.gatewayName),
        outDir: answers.certDir,
        name: 'ca',
      });
      const server = await issueServerFiles({
        dns: [answers.gatewayName],
        ip: answers.gatewayIp === undefined ? [] : [answers.gatewayIp],
        caCertificatePath: certificatePaths.caCert,
        caKeyPath: certificatePaths.caKey,
        outDir: answers.certDir,
        name: 'server',
      });
      certificates.push(...ca.certificates, ...server.certificates);
    }

    const final = await validateStaged(temp, out);
    if (final.errors.length > 0) throw invalidConfig(out, final.errors, answers.createCerts);

    try {
      if (force) {
        await rename(temp, out);
      } else {
        await link(temp, out);
        await unlink(temp);
      }
    } catch (err) {
      if (errnoCode(err) === 'EEXIST') await checkConfigTarget(out, false);
      throw writeError(out, err);
    }
    staged = false;
    return {
      file: out,
      config: redactSetupConfig(config),
      certificates,
      warnings: final.warnings.map(formatConfigIssue),
    };
  } finally {
    if (staged) await unlink(temp).catch(() => undefined);
  }
}
