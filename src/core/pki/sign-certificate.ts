import type { KeyObject } from 'node:crypto';
import type { Issuer } from './issuer.js';
import { randomSerialNumber } from './serial-number.js';
import { describeOwnKey, importSigningKey, subjectPublicKeyInfo } from './signing-key.js';
import type { JsonDistinguishedName } from './subject-name.js';
import type { ValidityPeriod } from './validity.js';
import { x509 } from './x509-provider.js';

export interface SignCertificateParams {
  subject: JsonDistinguishedName;
  /** The key being certified. */
  publicKey: KeyObject;
  validity: Pick<ValidityPeriod, 'notBefore' | 'notAfter'>;
  /** Role-specific extensions (basicConstraints, keyUsage, extKeyUsage, subjectAltName). */
  extensions: x509.Extension[];
  /** The signing CA, or `self` with the subject's own private key for a root. */
  issuer: Issuer | { self: KeyObject };
  /** Upper-case hex; a fresh random one by default. */
  serialNumber?: string;
}

/**
 * Sign one X.509 v3 certificate. Adds the subjectKeyIdentifier (SHA-1 of the public key,
 * RFC 5280 §4.2.1.2 method 1) and an authorityKeyIdentifier equal to the issuer's SKI, which
 * OpenSSL and Go use to pick the issuer when several CAs share a name. The issuer name is the
 * CA certificate's subject re-encoded from its DER, so it matches byte for byte (Go compares
 * the raw bytes when building chains). Signature: SHA-256 with the issuer's key (SHA-384/512
 * for P-384/P-521 CA keys); Ed25519 signs without a separate hash.
 */
export async function signCertificate(params: SignCertificateParams): Promise<x509.X509Certificate> {
  const spki = subjectPublicKeyInfo(params.publicKey);
  const ski = await x509.SubjectKeyIdentifierExtension.create(spki);
  const serialNumber = params.serialNumber ?? randomSerialNumber();
  const common = {
    serialNumber,
    subject: params.subject,
    notBefore: params.validity.notBefore,
    notAfter: params.validity.notAfter,
    publicKey: spki,
  };
  if ('self' in params.issuer) {
    const key = describeOwnKey(params.issuer.self);
    return x509.X509CertificateGenerator.create({
      ...common,
      issuer: params.subject,
      signingKey: await importSigningKey(params.issuer.self, key),
      signingAlgorithm: key.signingAlgorithm,
      extensions: [...params.extensions, ski, new x509.AuthorityKeyIdentifierExtension(ski.keyId)],
    });
  }
  const issuer = params.issuer;
  return x509.X509CertificateGenerator.create({
    ...common,
    issuer: new x509.Name(issuer.certificate.subjectName.toArrayBuffer()),
    signingKey: issuer.signingKey,
    signingAlgorithm: issuer.key.signingAlgorithm,
    extensions: [...params.extensions, ski, new x509.AuthorityKeyIdentifierExtension(issuer.keyIdentifier)],
  });
}
