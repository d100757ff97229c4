import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateConfig } from '../config/index.js';
import { GatewayError } from '../errors.js';
import { certificateNameCovers } from '../provisioning/host-names.js';
import type { SetupAnswers } from './setup-answers.js';
import { key } from '../config-key.js';

/**
 * The file answers of the wizard (upstream CA, server certificate and key, mTLS CA, cache
 * directory), checked with exactly the code `config validate` and `serve` use: each check
 * writes a probe configuration that names only the file in question, validates it and keeps
 * the errors about that key. So a path is refused at its prompt for the same reason `serve`
 * would refuse it, and the rules live in one place (src/core/config). Plus one rule `serve`
 * only warns about but the wizard can enforce: the server certificate covers the name (and
 * address) devices use.
 *
 * Every check throws `MGW_SETUP_INVALID_INPUT` with the check's message and hint.
 */

const PROBE_UPSTREAM = { URL: 'https://upstream.invalid' };

function invalid(message: string, hint: string): GatewayError {
  return new GatewayError('MGW_SETUP_INVALID_INPUT', message, { hint });
}

/** Validate `config` as a file and throw the first error reported at one of `paths`. */
async function probe(config: Record<string, unknown>, paths: readonly string[]): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'mgw-setup-probe-'));
  try {
    const file = join(dir, 'probe.conf');
    await writeFile(file, JSON.stringify(config), { mode: 0o600 });
    const verdict = await validateConfig({ path: file, env: {}, cwd: dir });
    const issue = verdict.errors.find((candidate) => paths.includes(candidate.path));
    if (issue !== undefined) throw invalid(issue.message, issue.hint);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** `UpstreamServer.CACertificate`: exists, is readable and holds PEM certificates. */
export async function checkUpstreamCaFile(path: string): Promise<void> {
  await probe(
    {
      UpstreamServer: { ...PROBE_UPSTREAM, CACertificate: path },
      HTTP: { Enabled: true },
      HTTPS: { Enabled: false },
    },
    [`$.${key('UpstreamServer.CACertificate')}`],
  );
}

/** `HTTPS.ServerCertificate` alone: exists, is readable and parses. */
export async function checkServerCertificateFile(path: string): Promise<void> {
  // The key slot gets the certificate too: only the certificate's checks are read.
  await probe(
    { UpstreamServer: PROBE_UPSTREAM, HTTPS: { Enabled: true, ServerCertificate: path, ServerKey: path } },
    [`$.${key('HTTPS.ServerCertificate')}`],
  );
}

/** `HTTPS.ServerKey`: exists, is a readable private key, and is the key of `certificate`. */
export async function checkServerKeyFile(keyPath: string, certificate: string): Promise<void> {
  await probe(
    {
      UpstreamServer: PROBE_UPSTREAM,
      HTTPS: { Enabled: true, ServerCertificate: certificate, ServerKey: keyPath },
    },
    [`$.${key('HTTPS.ServerCertificate')}`, `$.${key('HTTPS.ServerKey')}`],
  );
}

/** `Features.mTLS.CACertificate`: exists, parses, and every certificate in it is a CA. */
export async function checkMtlsCaFile(path: string): Promise<void> {
  await probe(
    {
      UpstreamServer: PROBE_UPSTREAM,
      HTTP: { Enabled: true },
      HTTPS: { Enabled: false },
      Features: { mTLS: { Enabled: true, CACertificate: path } },
    },
    [`$.${key('Features.mTLS.CACertificate')}`],
  );
}

/** `ArtifactsCache.Path`: a directory, or creatable, and writable by this user. */
export async function checkCacheDirectory(path: string): Promise<void> {
  await probe(
    {
      UpstreamServer: PROBE_UPSTREAM,
      HTTP: { Enabled: true },
      HTTPS: { Enabled: false },
      Features: {
        ArtifactsProxy: {
          Enabled: true,
          GatewayURL: 'http://gateway.invalid',
          DomainWhitelist: ['upstream.invalid'],
          ArtifactsCache: { Enabled: true, Path: path },
        },
      },
    },
    [`$.${key('Features.ArtifactsProxy.ArtifactsCache.Path')}`],
  );
}

/** The DNS names of a certificate's subjectAltName (`DNS:a, IP Address:…`). */
function dnsNames(certificate: X509Certificate): string[] {
  return (certificate.subjectAltName ?? '')
    .split(', ')
    .filter((entry) => entry.startsWith('DNS:'))
    .map((entry) => entry.slice(4));
}

/**
 * The server certificate must name the host devices connect to (and the gateway address,
 * when one is given): devices check it (RFC 6125), so a certificate for another name makes
 * every device connection fail. `serve` only warns (the URL may be fixed later); the wizard
 * writes both, so it refuses.
 */
export async function checkServerCertificateNames(
  path: string,
  gatewayName: string,
  gatewayIp: string | undefined,
): Promise<void> {
  const leaf = new X509Certificate(await readFile(path));
  const names = dnsNames(leaf);
  const missing: string[] = [];
  const nameCovered =
    leaf.checkHost(gatewayName) !== undefined ||
    names.some((name) => certificateNameCovers(name, gatewayName));
  if (!nameCovered) missing.push(`the gateway name "${gatewayName}"`);
  if (gatewayIp !== undefined && leaf.checkIP(gatewayIp) === undefined) {
    missing.push(`the gateway address ${gatewayIp}`);
  }
  if (missing.length === 0) return;
  const has = leaf.subjectAltName ?? leaf.subject.replaceAll('\n', ', ');
  const ipFlag = gatewayIp === undefined ? '' : ` --ip ${gatewayIp}`;
  throw invalid(
    `the server certificate ${path} does not cover ${missing.join(' or ')} (it names ${has})`,
    `Issue one that does: mender-gw cert issue server --dns ${gatewayName}${ipFlag} --ca-cert CA.crt --ca-key CA.key, or pass --create-certs.`,
  );
}

/**
 * Every file answer of a run, in question order (the first problem is thrown): for a
 * `--no-prompt` run, whose answers were not checked at prompts.
 */
export async function checkSetupFiles(answers: SetupAnswers): Promise<void> {
  if (answers.upstreamCa !== undefined) await checkUpstreamCaFile(answers.upstreamCa);
  if (!answers.createCerts && answers.serverCert !== undefined && answers.serverKey !== undefined) {
    await checkServerCertificateFile(answers.serverCert);
    await checkServerKeyFile(answers.serverKey, answers.serverCert);
    await checkServerCertificateNames(answers.serverCert, answers.gatewayName, answers.gatewayIp);
  }
  if (answers.cache) await checkCacheDirectory(answers.cachePath);
  if (answers.mtls && answers.mtlsCa !== undefined) await checkMtlsCaFile(answers.mtlsCa);
}
