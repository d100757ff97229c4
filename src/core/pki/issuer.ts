import { createPrivateKey, X509Certificate as NodeX509Certificate } from 'node:crypto';
import type { KeyObject, webcrypto } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { GatewayError } from '../errors.js';
import { describeKey, importSigningKey } from './signing-key.js';
import type { KeyDescription } from './signing-key.js';
import { x509 } from './x509-provider.js';
import { errnoCode } from '../file-errors.js';

/**
 * A CA that can sign: its certificate, the certificates above it (for chain files), and its
 * private key ready for WebCrypto. Built from files ({@link loadIssuer}) or from a CA issued
 * in the same process ({@link createIssuer}).
 */
export interface Issuer {
  certificate: x509.X509Certificate;
  /**
   * Intermediate certificates between `certificate` and its root, nearest first; never a
   * self-signed root (peers have that already). Empty when `certificate` is itself a root.
   */
  chain: x509.X509Certificate[];
  privateKey: KeyObject;
  key: KeyDescription;
  signingKey: webcrypto.CryptoKey;
  /** Hex key id for the authorityKeyIdentifier of certificates it signs. */
  keyIdentifier: string;
  selfSigned: boolean;
  /** basicConstraints pathLenConstraint; undefined means unlimited. */
  pathLength: number | undefined;
  /** Where it came from, for messages: a file path or "issued in this run". */
  source: string;
}

function unusable(message: string, hint: string, cause?: unknown): GatewayError {
  return new GatewayError('MGW_PKI_CA_UNUSABLE', message, { hint, cause });
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** Every PEM certificate in a text, in order, parsed. `source` names the file in errors. */
export function parseCertificates(pem: string, source: string): x509.X509Certificate[] {
  const blocks = pem.match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) {
    throw unusable(
      `${source} holds no PEM certificate`,
      'Give the CA certificate (a file starting with "-----BEGIN CERTIFICATE-----").',
    );
  }
  return blocks.map((block, index) => {
    try {
      return new x509.X509Certificate(block);
    } catch (err) {
      throw unusable(
        `certificate ${index + 1} in ${source} cannot be parsed: ${(err as Error).message}`,
        'Check that the file is an intact PEM certificate.',
        err,
      );
    }
  });
}

function nodeCertificate(certificate: x509.X509Certificate): NodeX509Certificate {
  return new NodeX509Certificate(Buffer.from(certificate.rawData));
}

/** True when `certificate` names itself as issuer and its own key verifies its signature. */
export function isSelfSigned(certificate: x509.X509Certificate): boolean {
  const cert = nodeCertificate(certificate);
  return cert.checkIssued(cert) && cert.verify(cert.publicKey);
}

/** True when `parent` issued `child`: names match and `parent`'s key verifies the signature. */
function issued(parent: x509.X509Certificate, child: x509.X509Certificate): boolean {
  const p = nodeCertificate(parent);
  const c = nodeCertificate(child);
  return c.checkIssued(p) && c.verify(p.publicKey);
}

/**
 * Check that `certificate` with `privateKey` may sign certificates now, and prepare it.
 * `rest` are the certificates after it in the CA file: its issuers, nearest first, possibly
 * ending with the root (which is dropped).
 */
export async function createIssuer(
  certificate: x509.X509Certificate,
  privateKey: KeyObject,
  options: { rest?: readonly x509.X509Certificate[]; source: string; keySource?: string; now?: Date },
): Promise<Issuer> {
  const { source } = options;
  const now = options.now ?? new Date();
  const constraints = certificate.getExtension(x509.BasicConstraintsExtension);
  if (constraints?.ca !== true) {
    throw unusable(
      `${source} is not a CA certificate (it has no basicConstraints CA:TRUE)`,
      'Give the CA certificate, not a server or device certificate; create a CA with "mender-gw cert issue ca".',
    );
  }
  const usage = certificate.getExtension(x509.KeyUsagesExtension);
  if (usage !== null && (usage.usages & x509.KeyUsageFlags.keyCertSign) === 0) {
    throw unusable(
      `${source} may not sign certificates (its keyUsage lacks keyCertSign)`,
      'Use a CA certificate whose keyUsage includes keyCertSign.',
    );
  }
  if (now < certificate.notBefore) {
    throw unusable(
      `${source} is not valid before ${certificate.notBefore.toISOString()}`,
      "Check this machine's clock, or wait until the CA is valid.",
    );
  }
  if (now > certificate.notAfter) {
    throw unusable(
      `${source} expired on ${certificate.notAfter.toISOString()}`,
      'Certificates signed by an expired CA do not verify; issue a new CA.',
    );
  }

  const key = describeKey(privateKey);
  const keySource = options.keySource ?? source;
  if ('unsupported' in key) {
    throw unusable(
      `${keySource} holds ${key.unsupported}, which cert issue cannot sign with`,
      'Use an ECDSA (P-256, P-384, P-521), RSA (2048+ bits) or Ed25519 CA key.',
    );
  }
  if (!nodeCertificate(certificate).checkPrivateKey(privateKey)) {
    throw unusable(
      `${keySource} is not the private key of ${source}`,
      'Pass the key the CA certificate was issued for (--ca-key).',
    );
  }

  const chain: x509.X509Certificate[] = [];
  const selfSigned = isSelfSigned(certificate);
  if (!selfSigned) {
    let child = certificate;
    for (const parent of options.rest ?? []) {
      if (!issued(parent, child)) {
        throw unusable(
          `${source}: certificate "${parent.subject}" did not issue "${child.subject}"`,
          'List the issuing CA first, then the CA that issued it, and so on up to (optionally) the root.',
        );
      }
      if (isSelfSigned(parent)) break;
      chain.push(parent);
      child = parent;
    }
  }

  const ski = certificate.getExtension(x509.SubjectKeyIdentifierExtension);
  const keyIdentifier =
    ski?.keyId ?? (await x509.SubjectKeyIdentifierExtension.create(certificate.publicKey.rawData)).keyId;
  let signingKey: webcrypto.CryptoKey;
  try {
    signingKey = await importSigningKey(privateKey, key);
  } catch (err) {
    throw unusable(
      `${keySource} cannot be used for signing: ${(err as Error).message}`,
      'Use an unencrypted PKCS#8, PKCS#1 or SEC1 PEM key.',
      err,
    );
  }
  return {
    certificate,
    chain,
    privateKey,
    key,
    signingKey,
    keyIdentifier,
    selfSigned,
    pathLength: constraints.pathLength,
    source,
  };
}

async function readText(path: string, what: string, flag: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    throw unusable(
      `cannot read ${what} ${path}: ${(err as Error).message}`,
      `Check the path given to ${flag} and that it is readable.`,
      err,
    );
  }
}

/**
 * Load the issuing CA from PEM files: the certificate file starts with the CA certificate and
 * may continue with its issuers (an intermediate followed by the root, say); the key file
 * holds its unencrypted private key (PKCS#8, PKCS#1 or SEC1).
 */
export async function loadIssuer(paths: {
  certificatePath: string;
  keyPath: string;
  now?: Date;
}): Promise<Issuer> {
  const [certPem, keyPem] = await Promise.all([
    readText(paths.certificatePath, 'CA certificate', '--ca-cert'),
    readText(paths.keyPath, 'CA key', '--ca-key'),
  ]);
  const [certificate, ...rest] = parseCertificates(certPem, paths.certificatePath);
  if (certificate === undefined) throw new Error('internal: parseCertificates returned nothing');
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: keyPem, format: 'pem' });
  } catch (err) {
    const code = errnoCode(err);
    const encrypted =
      /-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: 4,ENCRYPTED/.test(keyPem) ||
      code === 'ERR_MISSING_PASSPHRASE' ||
      code === 'ERR_OSSL_CRYPTO_INTERRUPTED_OR_CANCELLED';
    throw unusable(
      encrypted
        ? `${paths.keyPath} is encrypted`
        : `${paths.keyPath} is not a readable PEM private key: ${(err as Error).message}`,
      encrypted
        ? `Decrypt a copy for the run: openssl pkey -in ${paths.keyPath} -out ca-plain.key (and delete it afterwards).`
        : 'Give an unencrypted PEM private key (PKCS#8 "PRIVATE KEY", "RSA PRIVATE KEY" or "EC PRIVATE KEY").',
      err,
    );
  }
  return createIssuer(certificate, privateKey, {
    rest,
    source: paths.certificatePath,
    keySource: paths.keyPath,
    ...(paths.now === undefined ? {} : { now: paths.now }),
  });
}
