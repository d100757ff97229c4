import type { KeyObject } from 'node:crypto';
import type { DeviceIdentity } from './device-identity.js';
import type { Issuer } from './issuer.js';
import { privateKeyPem } from './signing-key.js';
import type { CertificateRole } from './validity.js';
import type { x509 } from './x509-provider.js';

/** A certificate issued in memory, with its new private key; nothing is on disk yet. */
export interface IssuedCertificate {
  role: CertificateRole;
  certificate: x509.X509Certificate;
  /**
   * The intermediates between this certificate and the root (nearest first); written after
   * the leaf when chain output is on. Empty when the issuer is a root.
   */
  chain: x509.X509Certificate[];
  privateKey: KeyObject;
  /** `ecdsa-p256`, `rsa-3072`, `ed25519`. */
  keyType: string;
  /** Devices only. */
  identity?: DeviceIdentity;
  /** Things the operator should know, e.g. notAfter cut back to the CA's. */
  warnings: string[];
}

/** The certificates a peer needs besides the root to verify one signed by `issuer`. */
export function chainBelowRoot(issuer: Issuer): x509.X509Certificate[] {
  return issuer.selfSigned ? [] : [issuer.certificate, ...issuer.chain];
}

/** The `.crt` file: the certificate, then (with `includeChain`) its intermediates. */
export function certificateFilePem(issued: IssuedCertificate, options: { includeChain: boolean }): string {
  const certificates = options.includeChain ? [issued.certificate, ...issued.chain] : [issued.certificate];
  return certificates.map((c) => c.toString('pem').trim() + '\n').join('');
}

/** The `.key` file: PKCS#8 PEM. */
export function keyFilePem(issued: IssuedCertificate): string {
  const pem = privateKeyPem(issued.privateKey);
  return pem.endsWith('\n') ? pem : `${pem}\n`;
}
