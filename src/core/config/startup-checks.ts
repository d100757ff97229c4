import { constants } from 'node:fs';
import { access, readFile, stat } from 'node:fs/promises';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { dirname } from 'node:path';
import type { ErrorCode } from '../errors.js';
import type { ConfigDraft } from './build-gateway-config.js';
import type { ConfigIssue } from './gateway-config.js';
import { parseBlacklist } from '../mtls/serial-blacklist.js';
import { configIssue, formatJsonPath, type ConfigSources, type JsonPath } from './config-issue.js';
import { keyPath } from './config-table.js';
import { key as configKey } from '../config-key.js';
import { errnoCode } from '../file-errors.js';

/**
 * What `serve` checks in the files a configuration names before it opens a port, as one
 * list. `loadConfig()` runs every check, so `serve` (which loads its configuration through
 * it) and `config validate` judge a configuration identically: a check added here is
 * enforced by both. This is the `nginx -t` contract (https://nginx.org/en/docs/switches.html):
 * the certificates and keys are loaded, not only found.
 *
 * A check reports problems; it never throws. Each problem carries the check's `id` and the
 * error `code` with which `serve` exits when it is the only kind of problem.
 */
export interface StartupCheck {
  /** Stable id, e.g. `https.key-matches`; reported as `check` on each issue. */
  id: string;
  /** What `serve` exits with when this check fails. */
  code: ErrorCode;
  /** The key the check is about; skipped when that key already has an error (e.g. a missing file). */
  path: JsonPath;
  /** Problems found; empty when the check passes or does not apply. */
  run(draft: ConfigDraft): Promise<Problem[]>;
}

interface Problem {
  severity: 'error' | 'warning';
  message: string;
  hint: string;
}

const HTTPS_CERT = keyPath('HTTPS.ServerCertificate');
const HTTPS_KEY = keyPath('HTTPS.ServerKey');
const UPSTREAM_CA = keyPath('UpstreamServer.CACertificate');
const MTLS_CA = keyPath('Features.mTLS.CACertificate');
const BLACKLIST = keyPath('Features.mTLS.BlacklistPath');
const CACHE_PATH = keyPath('Features.ArtifactsProxy.ArtifactsCache.Path');
const GATEWAY_URL = keyPath('Features.ArtifactsProxy.GatewayURL');

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

const error = (message: string, hint: string): Problem[] => [{ severity: 'error', message, hint }];

async function readText(path: string): Promise<string | Problem[]> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    const code = errnoCode(err) ?? String(err);
    return error(`${path} cannot be read (${code})`, 'check the path and that the gateway user may read it');
  }
}

/** Every certificate of a PEM bundle, or the problem with the bundle. */
async function readCertificates(path: string, what: string): Promise<X509Certificate[] | Problem[]> {
  const text = await readText(path);
  if (typeof text !== 'string') return text;
  const blocks = text.match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) {
    return error(
      `${path} holds no PEM certificate`,
      `give the PEM file of the ${what}: one or more "-----BEGIN CERTIFICATE-----" blocks`,
    );
  }
  const certificates: X509Certificate[] = [];
  for (const [index, block] of blocks.entries()) {
    try {
      certificates.push(new X509Certificate(block));
    } catch {
      return error(
        `${path}: certificate ${index + 1} of ${blocks.length} cannot be parsed`,
        `give the PEM file of the ${what}`,
      );
    }
  }
  return certificates;
}

const httpsFiles = (draft: ConfigDraft): { cert: string; key: string } | undefined =>
  draft.https.enabled && draft.https.serverCertificate !== undefined && draft.https.serverKey !== undefined
    ? { cert: draft.https.serverCertificate, key: draft.https.serverKey }
    : undefined;

export const STARTUP_CHECKS: readonly StartupCheck[] = [
  {
    id: 'https.certificate-parses',
    code: 'MGW_TLS_MATERIAL',
    path: HTTPS_CERT,
    async run(draft) {
      const files = httpsFiles(draft);
      if (files === undefined) return [];
      const certificates = await readCertificates(
        files.cert,
        'server certificate (leaf first, then intermediates)',
      );
      return Array.isArray(certificates) && certificates[0] instanceof X509Certificate
        ? []
        : (certificates as Problem[]);
    },
  },
  {
    id: 'https.key-matches',
    code: 'MGW_TLS_MATERIAL',
    path: HTTPS_KEY,
    async run(draft) {
      const files = httpsFiles(draft);
      if (files === undefined) return [];
      const key = await readText(files.key);
      if (typeof key !== 'string') return key;
      let privateKey;
      try {
        privateKey = createPrivateKey(key);
      } catch {
        return error(
          `${files.key} is not a readable private key`,
          'give an unencrypted PEM private key (PKCS#8, PKCS#1 or SEC1)',
        );
      }
      const certificates = await readCertificates(files.cert, 'server certificate');
      const leaf = certificates[0];
      // An unreadable certificate is the other check's problem.
      if (!(leaf instanceof X509Certificate)) return [];
      return leaf.checkPrivateKey(privateKey)
        ? []
        : error(
            `${files.key} does not match ${configKey('HTTPS.ServerCertificate')} ${files.cert}`,
            'use the key the certificate was issued for',
          );
    },
  },
  {
    id: 'https.certificate-names-gateway',
    code: 'MGW_TLS_MATERIAL',
    path: GATEWAY_URL,
    async run(draft) {
      const files = httpsFiles(draft);
      const url = draft.artifactsProxy.enabled ? draft.artifactsProxy.gatewayUrl : undefined;
      if (files === undefined || url === undefined || url.protocol !== 'https:') return [];
      const leaf = (await readCertificates(files.cert, 'server certificate'))[0];
      if (!(leaf instanceof X509Certificate)) return [];
      const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
      const covered = /^[\d.]+$|:/.test(host) ? leaf.checkIP(host) : leaf.checkHost(host);
      return covered !== undefined
        ? []
        : [
            {
              severity: 'warning',
              message: `the host "${host}" of GatewayURL is not among the names of ${configKey('HTTPS.ServerCertificate')} ${files.cert}; devices will refuse artifact downloads from it`,
              hint: 'issue the server certificate for that name (mender-gw cert issue server --dns …) or fix GatewayURL',
            },
          ];
    },
  },
  {
    id: 'upstream.ca-holds-certificates',
    code: 'MGW_TLS_MATERIAL',
    path: UPSTREAM_CA,
    async run(draft) {
      const path = draft.upstream.caCertificate;
      if (path === undefined || draft.upstream.insecureSkipVerify) return [];
      const certificates = await readCertificates(path, "CA of the upstream server's certificate");
      return certificates[0] instanceof X509Certificate ? [] : (certificates as Problem[]);
    },
  },
  {
    id: 'mtls.ca-is-ca',
    code: 'MGW_TLS_MATERIAL',
    path: MTLS_CA,
    async run(draft) {
      const path = draft.mtls.caCertificate;
      if (!draft.mtls.enabled || path === undefined) return [];
      const certificates = await readCertificates(path, 'CA(s) that sign device certificates');
      if (!(certificates[0] instanceof X509Certificate)) return certificates as Problem[];
      const index = (certificates as X509Certificate[]).findIndex((certificate) => !certificate.ca);
      if (index === -1) return [];
      // A device certificate is accepted only when its issuer is a CA (RFC 5280 §4.2.1.9).
      return error(
        `${path}: certificate ${index + 1} (${(certificates as X509Certificate[])[index]?.subject.replaceAll('\n', ', ') ?? ''}) is not a CA certificate`,
        'give the CA that signs the device certificates (basicConstraints CA:TRUE), not a device or server certificate',
      );
    },
  },
  {
    id: 'mtls.blacklist-parses',
    code: 'MGW_TLS_MATERIAL',
    path: BLACKLIST,
    async run(draft) {
      const path = draft.mtls.blacklistPath;
      if (!draft.mtls.enabled || path === undefined) return [];
      const text = await readText(path);
      if (typeof text !== 'string') return text;
      return parseBlacklist(text).invalid.map((bad) => ({
        severity: 'warning' as const,
        message: `${path}:${bad.line}: ${JSON.stringify(bad.text)} is not a hex serial number; the line is ignored`,
        hint: 'one serial per line in hex (e.g. 0x1A2B or 1A:2B), # starts a comment',
      }));
    },
  },
  {
    id: 'cache.path-usable',
    code: 'MGW_CACHE_IO',
    path: CACHE_PATH,
    async run(draft) {
      if (!draft.artifactsProxy.enabled || !draft.artifactsProxy.cache.enabled) return [];
      const dir = draft.artifactsProxy.cache.path;
      // serve creates a missing directory: the nearest existing folder must let it.
      let target = dir;
      let info = await stat(target).catch(() => undefined);
      while (info === undefined && dirname(target) !== target) {
        target = dirname(target);
        info = await stat(target).catch(() => undefined);
      }
      if (info === undefined) return [];
      if (!info.isDirectory()) {
        return error(
          `${target} is not a directory`,
          `point ${configKey('Features.ArtifactsProxy.ArtifactsCache.Path')} at a directory (it is created if missing), ideally on its own partition`,
        );
      }
      try {
        await access(target, constants.W_OK | constants.X_OK);
        return [];
      } catch {
        const uid = process.getuid?.();
        const who = uid === undefined ? 'this user' : `this user (uid ${uid})`;
        return error(
          target === dir
            ? `the cache directory ${dir} is not writable by ${who}`
            : `the cache directory ${dir} does not exist and ${target} is not writable by ${who}, so it cannot be created`,
          'create it and give it to the user the gateway runs as (e.g. chown mender-gw:mender-gw)',
        );
      }
    },
  },
];

/**
 * Run every start-up check, except those about a key that already has an error (a file
 * that does not exist is reported once, by the file checks).
 */
export async function runStartupChecks(
  draft: ConfigDraft,
  sources: ConfigSources,
  earlier: readonly ConfigIssue[],
): Promise<ConfigIssue[]> {
  const failed = new Set(earlier.filter((i) => i.severity === 'error').map((i) => i.path));
  const issues: ConfigIssue[] = [];
  for (const check of STARTUP_CHECKS) {
    if (failed.has(formatJsonPath(check.path))) continue;
    for (const problem of await check.run(draft)) {
      issues.push({
        ...configIssue(problem.severity, check.path, sources.of(check.path), problem.message, problem.hint),
        check: check.id,
        code: check.code,
      });
    }
  }
  return issues;
}
