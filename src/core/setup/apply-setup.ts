import { randomBytes } from 'node:crypto';
import { errnoCode, fileWriteError } from '../file-errors.js';
import { chmod, chown, link, mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { checkOutputTarget } from '../output-target.js';
import { basename, dirname, join, relative, resolve, isAbsolute } from 'node:path';
import { formatConfigIssue, validateConfig } from '../config/index.js';
import type { ConfigIssue } from '../config/index.js';
import { GatewayError } from '../errors.js';
import {
  checkOutputTargets,
  issueCaFiles,
  issueServerFiles,
  MAX_COMMON_NAME_LENGTH,
  writeOutputFiles,
} from '../pki/index.js';
import type { CertificateSummary } from '../pki/index.js';
import type { SetupAnswers } from './setup-answers.js';
import { checkSetupAnswers, resolveSetupPaths, setupCertificatePaths } from './setup-answers.js';
import { buildSetupConfig, redactSetupConfig, renderSetupConfig } from './setup-config.js';
import { key } from '../config-key.js';
import { checkSetupFiles } from './answer-checks.js';
import { resolveServiceGroup, SERVICE_GROUP_MODES } from './service-group.js';

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
  /** `config validate` warnings of the written file, formatted, and the wizard's own. */
  warnings: string[];
  /** Where the CA private key was written (with --create-certs). */
  caKey: string | undefined;
  /** The mode of the configuration file: 0600, or 0640 with a service group. */
  mode: number;
  /** True when `--force` kept the SignatureSecret of the replaced file. */
  signatureSecretKept: boolean;
}

/** The configuration may hold the management password and the link secret. */
export const SETUP_FILE_MODE = 0o600;

const writeError = (path: string, err: unknown): GatewayError =>
  fileWriteError(path, err, 'Check that the directory is writable and has free space.');

async function checkConfigTarget(path: string, force: boolean): Promise<void> {
  await checkOutputTarget(path, { force, flag: '--out' });
}

/** `inner` is `outer` or below it. */
function isInside(inner: string, outer: string): boolean {
  const rel = relative(outer, inner);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

/** The CA key must not stay where the gateway's configuration (and its readers) are. */
function checkCaKeyPlace(answers: SetupAnswers, out: string): void {
  if (!answers.createCerts || answers.keepCaKey === true || answers.caKeyOut === undefined) return;
  for (const folder of [dirname(out), answers.certDir]) {
    if (isInside(answers.caKeyOut, folder)) {
      throw new GatewayError(
        'MGW_SETUP_INVALID_INPUT',
        `the CA key ${answers.caKeyOut} would be inside ${folder}, beside the configuration`,
        {
          hint: 'Choose a --ca-key-out outside it (e.g. on removable media), or pass --keep-ca-key to accept the risk.',
        },
      );
    }
  }
}

/** The SignatureSecret of the file `--force` replaces, if it has one. */
async function existingSignatureSecret(out: string): Promise<string | undefined> {
  let text: string;
  try {
    text = await readFile(out, 'utf8');
  } catch {
    return undefined;
  }
  try {
    const config = JSON.parse(text) as {
      Features?: { ArtifactsProxy?: { ArtifactsCache?: { SignatureSecret?: unknown } } };
    };
    const secret = config.Features?.ArtifactsProxy?.ArtifactsCache?.SignatureSecret;
    return typeof secret === 'string' && secret !== '' ? secret : undefined;
  } catch {
    return undefined;
  }
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
  let answers = checkSetupAnswers(resolveSetupPaths(options.answers, cwd));
  checkCaKeyPlace(answers, out);
  await checkSetupFiles(answers);
  const gid =
    answers.serviceGroup === undefined ? undefined : await resolveServiceGroup(answers.serviceGroup);
  const fileMode = gid === undefined ? SETUP_FILE_MODE : SERVICE_GROUP_MODES.file;

  await checkConfigTarget(out, force);
  const wizardWarnings: string[] = [];
  let signatureSecretKept = false;
  if (force && answers.cache) {
    // New links would not verify against the secret devices' links were signed with.
    const previous = await existingSignatureSecret(out);
    if (previous !== undefined && answers.signatureSecretGenerated === true) {
      answers = { ...answers, signatureSecret: previous };
      signatureSecretKept = true;
    } else if (previous !== undefined && previous !== answers.signatureSecret) {
      wizardWarnings.push(
        `warning: the SignatureSecret given differs from the one in ${out}; cache links devices already hold stop working (leave out --signature-secret to keep it)`,
      );
    }
  }
  const config = buildSetupConfig(answers);

  const certificatePaths = setupCertificatePaths(answers.certDir);
  const caKeyOut = answers.createCerts
    ? answers.keepCaKey === true || answers.caKeyOut === undefined
      ? certificatePaths.caKey
      : answers.caKeyOut
    : undefined;
  const caCertOut = caKeyOut === undefined ? undefined : caKeyOut.replace(/\.key$/, '.crt');
  if (answers.createCerts && caKeyOut !== undefined && caCertOut !== undefined) {
    await checkOutputTargets(
      [
        ...new Set([
          ...Object.values(certificatePaths).filter((p) => p !== certificatePaths.caKey),
          caKeyOut,
          caCertOut,
        ]),
      ],
      { force: false },
    );
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
        // The group first, then the mode: the file is never readable by a wrong group.
        if (gid !== undefined) await handle.chown(-1, gid);
        // The umask cannot widen the mode, but chmod makes the intent explicit.
        await handle.chmod(fileMode);
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
    if (answers.createCerts && caKeyOut !== undefined && caCertOut !== undefined) {
      const ca = await issueCaFiles({
        commonName: caCommonName(answers.gatewayName),
        outDir: dirname(caKeyOut),
        name: basename(caKeyOut, '.key'),
      });
      if (caCertOut !== certificatePaths.caCert) {
        // Devices and the mTLS check need the CA certificate on the gateway; only the key leaves.
        await writeOutputFiles(
          [
            {
              path: certificatePaths.caCert,
              kind: 'certificate',
              contents: await readFile(caCertOut, 'utf8'),
            },
          ],
          { force: false },
        );
      }
      const server = await issueServerFiles({
        dns: [answers.gatewayName],
        ip: answers.gatewayIp === undefined ? [] : [answers.gatewayIp],
        caCertificatePath: caCertOut,
        caKeyPath: caKeyOut,
        outDir: answers.certDir,
        name: 'server',
      });
      certificates.push(...ca.certificates, ...server.certificates);
      if (gid !== undefined) {
        try {
          await chown(certificatePaths.serverKey, -1, gid);
          await chmod(certificatePaths.serverKey, SERVICE_GROUP_MODES.file);
          // The configuration's own folder (e.g. /etc/mender) is the operator's, not ours.
          if (answers.certDir !== dirname(out)) {
            await chown(answers.certDir, -1, gid);
            await chmod(answers.certDir, SERVICE_GROUP_MODES.directory);
          }
        } catch (err) {
          throw writeError(answers.certDir, err);
        }
      }
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
      warnings: [...wizardWarnings, ...final.warnings.map(formatConfigIssue)],
      caKey: caKeyOut,
      mode: fileMode,
      signatureSecretKept,
    };
  } finally {
    if (staged) await unlink(temp).catch(() => undefined);
  }
}
