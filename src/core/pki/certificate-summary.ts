import { X509Certificate as NodeX509Certificate } from 'node:crypto';
import type { IssuedCertificate } from './issued-certificate.js';
import type { SubjectAltName } from './subject-alt-names.js';
import type { CertificateRole } from './validity.js';
import { x509 } from './x509-provider.js';

/** One issued certificate as `--json` reports it (docs/certificates.md, "JSON output"). */
export interface CertificateSummary {
  role: CertificateRole;
  /** Absolute path of the `.crt` file. */
  certificatePath: string;
  /** Absolute path of the `.key` file (PKCS#8 PEM, mode 0600). */
  keyPath: string;
  /** The device identity as given (`mac=02:00:00:00:00:01`); devices only. */
  identity?: string;
  /** RFC 4514-style, in certificate order: `O=Acme, CN=02:00:00:00:00:01`. */
  subject: string;
  issuer: string;
  /** Upper-case hex in whole octets (`05AB…`), exactly as `openssl x509 -serial` and Node's X509Certificate print it. */
  serialNumber: string;
  /** ISO 8601 UTC. */
  notBefore: string;
  notAfter: string;
  /** `ecdsa-p256`, `rsa-2048`, `rsa-3072`, `rsa-4096` or `ed25519`. */
  keyType: string;
  /** SHA-256 of the DER certificate, colon-separated upper-case hex (`openssl x509 -fingerprint -sha256`). */
  sha256Fingerprint: string;
  subjectAltNames: SubjectAltName[];
  /** How many certificates the `.crt` file holds: 1, or more with the chain appended. */
  certificatesInFile: number;
}

function altNames(certificate: x509.X509Certificate): SubjectAltName[] {
  const extension = certificate.getExtension(x509.SubjectAlternativeNameExtension);
  if (extension === null) return [];
  return extension.names.items.flatMap((name): SubjectAltName[] =>
    name.type === 'dns' || name.type === 'ip' ? [{ type: name.type, value: name.value }] : [],
  );
}

export function summarizeCertificate(
  issued: IssuedCertificate,
  files: { certificatePath: string; keyPath: string; certificatesInFile: number },
): CertificateSummary {
  const node = new NodeX509Certificate(Buffer.from(issued.certificate.rawData));
  return {
    role: issued.role,
    certificatePath: files.certificatePath,
    keyPath: files.keyPath,
    ...(issued.identity === undefined ? {} : { identity: issued.identity.text }),
    subject: issued.certificate.subject,
    issuer: issued.certificate.issuer,
    serialNumber: node.serialNumber.toUpperCase(),
    notBefore: issued.certificate.notBefore.toISOString(),
    notAfter: issued.certificate.notAfter.toISOString(),
    keyType: issued.keyType,
    sha256Fingerprint: node.fingerprint256,
    subjectAltNames: altNames(issued.certificate),
    certificatesInFile: files.certificatesInFile,
  };
}
