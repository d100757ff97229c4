import { GatewayError } from '../errors.js';
import type { Issuer } from './issuer.js';
import { chainBelowRoot } from './issued-certificate.js';
import type { IssuedCertificate } from './issued-certificate.js';
import { DEFAULT_KEY_TYPE, generateKey } from './key-generation.js';
import type { KeySpec } from './key-generation.js';
import { signCertificate } from './sign-certificate.js';
import { describeOwnKey } from './signing-key.js';
import { buildSubjectName } from './subject-name.js';
import { clampWarning, DEFAULT_VALIDITY_DAYS, validityPeriod } from './validity.js';
import { x509 } from './x509-provider.js';

/** pathLenConstraint defaults: a root may sign one level of intermediates, an intermediate none. */
export const DEFAULT_ROOT_PATH_LENGTH = 1;
export const DEFAULT_INTERMEDIATE_PATH_LENGTH = 0;

export interface IssueCaParams {
  commonName: string;
  organization?: string | undefined;
  key?: KeySpec | undefined;
  /** Default {@link DEFAULT_VALIDITY_DAYS}.ca. */
  days?: number | undefined;
  /** basicConstraints pathLenConstraint; default 1 for a root, 0 for an intermediate. */
  pathLength?: number | undefined;
  /** Sign with this CA (an intermediate); self-signed root when absent. */
  issuer?: Issuer | undefined;
  now?: Date | undefined;
}

/**
 * Resolve and check the pathLenConstraint of a new CA against its parent's (RFC 5280
 * §4.2.1.9): a parent with pathLen 0 cannot have CA children, and a child may not allow
 * deeper chains than its parent leaves room for.
 */
export function caPathLength(requested: number | undefined, issuer: Issuer | undefined): number {
  if (requested !== undefined && (!Number.isInteger(requested) || requested < 0 || requested > 10)) {
    throw new GatewayError('MGW_PKI_INVALID_INPUT', `path length must be 0 to 10, got ${requested}`, {
      hint: '0 means the CA signs only server and device certificates; 1 allows one level of intermediate CAs below it.',
    });
  }
  if (issuer === undefined) return requested ?? DEFAULT_ROOT_PATH_LENGTH;
  if (issuer.pathLength === 0) {
    throw new GatewayError(
      'MGW_PKI_CA_UNUSABLE',
      `${issuer.source} has path length 0: it cannot sign another CA`,
      {
        hint: 'Sign the intermediate with a CA whose path length is at least 1, or issue server and device certificates from this one directly.',
      },
    );
  }
  const room = issuer.pathLength === undefined ? Number.POSITIVE_INFINITY : issuer.pathLength - 1;
  const pathLength = requested ?? Math.min(DEFAULT_INTERMEDIATE_PATH_LENGTH, room);
  if (pathLength > room) {
    throw new GatewayError(
      'MGW_PKI_INVALID_INPUT',
      `path length ${pathLength} exceeds what ${issuer.source} allows (at most ${room})`,
      {
        hint: `Pass --path-length ${room} or less.`,
      },
    );
  }
  return pathLength;
}

/**
 * Issue a CA certificate with a new key: basicConstraints CA:TRUE with pathLen (critical),
 * keyUsage keyCertSign + cRLSign (critical), SKI and AKI. Self-signed unless `issuer` is given.
 * No extKeyUsage: Go applies a CA's EKU to every certificate below it.
 */
export async function issueCa(params: IssueCaParams): Promise<IssuedCertificate> {
  const now = params.now ?? new Date();
  const subject = buildSubjectName(
    { commonName: params.commonName, organization: params.organization },
    'CA common name',
  );
  const pathLength = caPathLength(params.pathLength, params.issuer);
  const validity = validityPeriod(
    params.days ?? DEFAULT_VALIDITY_DAYS.ca,
    now,
    params.issuer?.certificate.notAfter,
  );
  const keys = await generateKey(params.key ?? { type: DEFAULT_KEY_TYPE });
  const extensions = [
    new x509.BasicConstraintsExtension(true, pathLength, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
  ];
  const certificate = await signCertificate({
    subject,
    publicKey: keys.publicKey,
    validity,
    extensions,
    issuer: params.issuer ?? { self: keys.privateKey },
  });
  return {
    role: 'ca',
    certificate,
    chain: params.issuer === undefined ? [] : chainBelowRoot(params.issuer),
    privateKey: keys.privateKey,
    keyType: describeOwnKey(keys.privateKey).label,
    warnings:
      validity.clamped && params.days !== undefined && params.issuer
        ? [clampWarning(params.issuer.certificate.notAfter)]
        : [],
  };
}
