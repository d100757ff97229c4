import { GatewayError } from '../errors.js';
import type { Issuer } from './issuer.js';
import { chainBelowRoot } from './issued-certificate.js';
import type { IssuedCertificate } from './issued-certificate.js';
import { DEFAULT_KEY_TYPE, generateKey } from './key-generation.js';
import type { KeySpec } from './key-generation.js';
import { signCertificate } from './sign-certificate.js';
import { describeOwnKey } from './signing-key.js';
import { buildSubjectAltNames } from './subject-alt-names.js';
import type { SubjectAltName } from './subject-alt-names.js';
import { buildSubjectName, MAX_COMMON_NAME_LENGTH } from './subject-name.js';
import { clampWarning, DEFAULT_VALIDITY_DAYS, validityPeriod } from './validity.js';
import { x509 } from './x509-provider.js';

export interface IssueServerParams {
  /** DNS names devices use to reach the gateway. */
  dns?: readonly string[] | undefined;
  /** IP addresses devices use to reach the gateway. */
  ip?: readonly string[] | undefined;
  organization?: string | undefined;
  key?: KeySpec | undefined;
  /** Default {@link DEFAULT_VALIDITY_DAYS}.server. */
  days?: number | undefined;
  issuer: Issuer;
  now?: Date | undefined;
}

/** The checked SAN list and the CN (the first name) for a server certificate. */
export function serverNames(params: Pick<IssueServerParams, 'dns' | 'ip'>): {
  commonName: string;
  altNames: SubjectAltName[];
} {
  const altNames = buildSubjectAltNames({ dns: params.dns ?? [], ip: params.ip ?? [] });
  const first = altNames[0];
  if (first === undefined) throw new Error('internal: buildSubjectAltNames returned no names');
  if (first.value.length > MAX_COMMON_NAME_LENGTH) {
    throw new GatewayError(
      'MGW_PKI_INVALID_INPUT',
      `the first name "${first.value}" is longer than ${MAX_COMMON_NAME_LENGTH} characters and cannot be the CN`,
      {
        hint: 'Give a shorter name first (--dns order matters); long names still work as additional --dns names.',
      },
    );
  }
  return { commonName: first.value, altNames };
}

/**
 * Issue the gateway's TLS server certificate with a new key: CN = the first name, every name
 * in subjectAltName (clients match SANs only), extKeyUsage serverAuth, keyUsage
 * digitalSignature (+ keyEncipherment for RSA, for TLS 1.2 RSA key exchange), CA:FALSE.
 */
export async function issueServer(params: IssueServerParams): Promise<IssuedCertificate> {
  const now = params.now ?? new Date();
  const { commonName, altNames } = serverNames(params);
  const subject = buildSubjectName({ commonName, organization: params.organization }, 'server common name');
  const validity = validityPeriod(
    params.days ?? DEFAULT_VALIDITY_DAYS.server,
    now,
    params.issuer.certificate.notAfter,
  );
  const keySpec = params.key ?? { type: DEFAULT_KEY_TYPE };
  const keys = await generateKey(keySpec);
  let usages = x509.KeyUsageFlags.digitalSignature;
  if (keySpec.type === 'rsa') usages |= x509.KeyUsageFlags.keyEncipherment;
  const certificate = await signCertificate({
    subject,
    publicKey: keys.publicKey,
    validity,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(usages, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth], false),
      new x509.SubjectAlternativeNameExtension(altNames, false),
    ],
    issuer: params.issuer,
  });
  return {
    role: 'server',
    certificate,
    chain: chainBelowRoot(params.issuer),
    privateKey: keys.privateKey,
    keyType: describeOwnKey(keys.privateKey).label,
    warnings:
      validity.clamped && params.days !== undefined ? [clampWarning(params.issuer.certificate.notAfter)] : [],
  };
}
