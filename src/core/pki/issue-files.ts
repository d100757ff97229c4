import { resolve } from 'node:path';
import { GatewayError } from '../errors.js';
import { summarizeCertificate } from './certificate-summary.js';
import type { CertificateSummary } from './certificate-summary.js';
import {
  checkDistinctIdentities,
  deviceFileStem,
  expandDeviceIdentities,
  parseDeviceIdentity,
  readIdentitiesFile,
} from './device-identity.js';
import type { DeviceIdentity } from './device-identity.js';
import { caPathLength, issueCa } from './issue-ca.js';
import { issueDevices } from './issue-device.js';
import {
  buildDeviceManifest,
  MANIFEST_CSV,
  MANIFEST_JSON,
  manifestCsv,
  manifestJson,
} from './device-manifest.js';
import { issueServer, serverNames } from './issue-server.js';
import { certificateFilePem, keyFilePem } from './issued-certificate.js';
import type { IssuedCertificate } from './issued-certificate.js';
import { loadIssuer } from './issuer.js';
import type { Issuer } from './issuer.js';
import { resolveKeySpec } from './key-generation.js';
import { checkOutputTargets, writeOutputFiles } from './pem-files.js';
import type { OutputFile } from './pem-files.js';
import { buildSubjectName } from './subject-name.js';
import { DEFAULT_VALIDITY_DAYS, validityPeriod } from './validity.js';

/**
 * The three `cert issue` operations as the commands run them: check every input and every
 * output path first (before any key is generated or CA file read), load the issuing CA,
 * issue in memory, then write all PEM files at once (`writeOutputFiles`).
 */

export interface OutputOptions {
  /** Directory for the PEM files; created if missing. */
  outDir: string;
  /** Replace existing files. */
  force?: boolean | undefined;
  /**
   * Append the intermediates to the `.crt` file (no effect when the issuer is a root).
   * Default true: TLS peers usually trust only the root.
   */
  chain?: boolean | undefined;
}

export interface KeyOptions {
  keyType?: string | undefined;
  rsaBits?: number | undefined;
}

export interface IssuingCaPaths {
  caCertificatePath?: string | undefined;
  caKeyPath?: string | undefined;
}

export interface IssueResult {
  certificates: CertificateSummary[];
  /** `cert issue device` batches: the manifest files written next to the certificates. */
  manifest?: { csvPath: string; jsonPath: string };
  /** Distinct warnings for the operator (e.g. validity cut back to the CA's). */
  warnings: string[];
}

export interface IssueCaFilesOptions extends OutputOptions, KeyOptions, IssuingCaPaths {
  commonName: string;
  organization?: string | undefined;
  days?: number | undefined;
  pathLength?: number | undefined;
  /** File name stem; default `ca` (→ `ca.crt`, `ca.key`). */
  name?: string | undefined;
  now?: Date | undefined;
}

export interface IssueServerFilesOptions extends OutputOptions, KeyOptions, IssuingCaPaths {
  dns?: readonly string[] | undefined;
  ip?: readonly string[] | undefined;
  organization?: string | undefined;
  days?: number | undefined;
  /** File name stem; default `server`. */
  name?: string | undefined;
  now?: Date | undefined;
}

export interface IssueDeviceFilesOptions extends OutputOptions, KeyOptions, IssuingCaPaths {
  /** The (first) identity, `mac=02:00:00:00:00:01` or a bare value. */
  identity?: string | undefined;
  /** With `identity`: issue this many, counting up (MAC or trailing number). Default 1. */
  count?: number | undefined;
  /** Alternative to `identity`: a file with one identity per line. */
  identitiesFile?: string | undefined;
  organization?: string | undefined;
  days?: number | undefined;
  now?: Date | undefined;
  /**
   * Write `manifest.csv` and `manifest.json` next to the files. Default: for a batch
   * (`count` or `identitiesFile` given), not for a single device.
   */
  manifest?: boolean | undefined;
  /** Called after each certificate is issued, for the command's progress display. */
  onProgress?: ((progress: { done: number; total: number }) => void) | undefined;
}

const FILE_STEM = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

/** Check a `--name` file stem: a plain file name, no directories. */
export function checkFileStem(name: string): string {
  if (!FILE_STEM.test(name)) {
    throw new GatewayError('MGW_PKI_INVALID_INPUT', `"${name}" cannot be used as a file name stem`, {
      hint: 'Use letters, digits, ".", "_" and "-" (starting with a letter or digit, at most 100); use --out-dir for the directory.',
    });
  }
  return name;
}

function outputPaths(outDir: string, stem: string): { certificatePath: string; keyPath: string } {
  return { certificatePath: resolve(outDir, `${stem}.crt`), keyPath: resolve(outDir, `${stem}.key`) };
}

async function issuerFrom(
  paths: IssuingCaPaths,
  now: Date | undefined,
  required: boolean,
): Promise<Issuer | undefined> {
  const { caCertificatePath: cert, caKeyPath: key } = paths;
  if (cert === undefined && key === undefined) {
    if (!required) return undefined;
    throw new GatewayError('MGW_PKI_INVALID_INPUT', 'no issuing CA given', {
      hint: 'Pass --ca-cert and --ca-key (create a CA first with "mender-gw cert issue ca").',
    });
  }
  if (cert === undefined || key === undefined) {
    throw new GatewayError(
      'MGW_PKI_INVALID_INPUT',
      `${cert === undefined ? '--ca-key' : '--ca-cert'} was given without ${cert === undefined ? '--ca-cert' : '--ca-key'}`,
      {
        hint: 'The issuing CA needs both its certificate (--ca-cert) and its private key (--ca-key).',
      },
    );
  }
  return loadIssuer({ certificatePath: cert, keyPath: key, ...(now === undefined ? {} : { now }) });
}

async function writeAndSummarize(
  items: readonly { issued: IssuedCertificate; certificatePath: string; keyPath: string }[],
  output: OutputOptions,
  manifest?: { csvPath: string; jsonPath: string; now: Date },
): Promise<IssueResult> {
  const includeChain = output.chain ?? true;
  const files: OutputFile[] = items.flatMap(({ issued, certificatePath, keyPath }) => [
    {
      path: certificatePath,
      kind: 'certificate' as const,
      contents: certificateFilePem(issued, { includeChain }),
    },
    { path: keyPath, kind: 'private-key' as const, contents: keyFilePem(issued) },
  ]);
  const certificates = items.map(({ issued, certificatePath, keyPath }) =>
    summarizeCertificate(issued, {
      certificatePath,
      keyPath,
      certificatesInFile: 1 + (includeChain ? issued.chain.length : 0),
    }),
  );
  if (manifest !== undefined) {
    // Written with the certificates, all or nothing: a manifest never lists files that are not there.
    const record = buildDeviceManifest(certificates, manifest.now);
    files.push(
      { path: manifest.csvPath, kind: 'manifest', contents: manifestCsv(record) },
      { path: manifest.jsonPath, kind: 'manifest', contents: manifestJson(record) },
    );
  }
  await writeOutputFiles(files, { force: output.force ?? false });
  return {
    certificates,
    ...(manifest === undefined
      ? {}
      : { manifest: { csvPath: manifest.csvPath, jsonPath: manifest.jsonPath } }),
    warnings: [...new Set(items.flatMap(({ issued }) => issued.warnings))],
  };
}

/** `cert issue ca`: a self-signed root, or an intermediate when the issuing CA is given. */
export async function issueCaFiles(options: IssueCaFilesOptions): Promise<IssueResult> {
  const key = resolveKeySpec({ type: options.keyType, rsaBits: options.rsaBits });
  buildSubjectName({ commonName: options.commonName, organization: options.organization }, 'CA common name');
  validityPeriod(options.days ?? DEFAULT_VALIDITY_DAYS.ca, new Date());
  caPathLength(options.pathLength, undefined);
  const paths = outputPaths(options.outDir, checkFileStem(options.name ?? 'ca'));
  await checkOutputTargets([paths.certificatePath, paths.keyPath], { force: options.force ?? false });

  const issuer = await issuerFrom(options, options.now, false);
  const issued = await issueCa({
    commonName: options.commonName,
    organization: options.organization,
    key,
    days: options.days,
    pathLength: options.pathLength,
    issuer,
    now: options.now,
  });
  return writeAndSummarize([{ issued, ...paths }], options);
}

/** `cert issue server`: the gateway's TLS server certificate. */
export async function issueServerFiles(options: IssueServerFilesOptions): Promise<IssueResult> {
  const key = resolveKeySpec({ type: options.keyType, rsaBits: options.rsaBits });
  const { commonName } = serverNames(options);
  buildSubjectName({ commonName, organization: options.organization }, 'server common name');
  validityPeriod(options.days ?? DEFAULT_VALIDITY_DAYS.server, new Date());
  const paths = outputPaths(options.outDir, checkFileStem(options.name ?? 'server'));
  await checkOutputTargets([paths.certificatePath, paths.keyPath], { force: options.force ?? false });

  const issuer = await issuerFrom(options, options.now, true);
  if (issuer === undefined) throw new Error('internal: required issuer missing');
  const issued = await issueServer({
    dns: options.dns,
    ip: options.ip,
    organization: options.organization,
    key,
    days: options.days,
    issuer,
    now: options.now,
  });
  return writeAndSummarize([{ issued, ...paths }], options);
}

/** The identities a `cert issue device` run asks for, checked (distinct, file names distinct). */
export async function deviceIdentities(
  options: Pick<IssueDeviceFilesOptions, 'identity' | 'count' | 'identitiesFile'>,
): Promise<DeviceIdentity[]> {
  let identities: DeviceIdentity[];
  if (options.identitiesFile !== undefined) {
    if (options.identity !== undefined || options.count !== undefined) {
      throw new GatewayError(
        'MGW_PKI_INVALID_INPUT',
        '--identities-file cannot be combined with --identity or --count',
        {
          hint: 'Either list the identities in the file, or give the first one with --identity and a --count.',
        },
      );
    }
    identities = await readIdentitiesFile(options.identitiesFile);
  } else if (options.identity !== undefined) {
    identities = expandDeviceIdentities(parseDeviceIdentity(options.identity), options.count ?? 1);
  } else {
    throw new GatewayError('MGW_PKI_INVALID_INPUT', 'no device identity given', {
      hint: 'Pass --identity mac=02:00:00:00:00:01 (with --count N for a batch) or --identities-file FILE.',
    });
  }
  checkDistinctIdentities(identities);
  return identities;
}

/** `cert issue device`: one client certificate and key per device identity. */
export async function issueDeviceFiles(options: IssueDeviceFilesOptions): Promise<IssueResult> {
  const key = resolveKeySpec({ type: options.keyType, rsaBits: options.rsaBits });
  const identities = await deviceIdentities(options);
  if (options.organization !== undefined)
    buildSubjectName({ commonName: 'x', organization: options.organization });
  validityPeriod(options.days ?? DEFAULT_VALIDITY_DAYS.device, new Date());
  const planned = identities.map((identity) => ({
    identity,
    ...outputPaths(options.outDir, deviceFileStem(identity)),
  }));
  const wantManifest =
    options.manifest ?? (options.count !== undefined || options.identitiesFile !== undefined);
  const manifestPaths = wantManifest
    ? { csvPath: resolve(options.outDir, MANIFEST_CSV), jsonPath: resolve(options.outDir, MANIFEST_JSON) }
    : undefined;
  await checkOutputTargets(
    [
      ...planned.flatMap((p) => [p.certificatePath, p.keyPath]),
      ...(manifestPaths === undefined ? [] : [manifestPaths.csvPath, manifestPaths.jsonPath]),
    ],
    { force: options.force ?? false },
  );

  const issuer = await issuerFrom(options, options.now, true);
  if (issuer === undefined) throw new Error('internal: required issuer missing');
  const issued = await issueDevices({
    identities,
    organization: options.organization,
    key,
    days: options.days,
    issuer,
    now: options.now,
    onProgress: options.onProgress,
  });
  return writeAndSummarize(
    issued.map((item, index) => {
      const paths = planned[index];
      if (paths === undefined) throw new Error('internal: issued more devices than planned');
      return { issued: item, certificatePath: paths.certificatePath, keyPath: paths.keyPath };
    }),
    options,
    manifestPaths === undefined ? undefined : { ...manifestPaths, now: options.now ?? new Date() },
  );
}
