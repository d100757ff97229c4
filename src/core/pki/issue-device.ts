import type { DeviceIdentity } from './device-identity.js';
import { checkDistinctIdentities } from './device-identity.js';
import type { Issuer } from './issuer.js';
import { chainBelowRoot } from './issued-certificate.js';
import type { IssuedCertificate } from './issued-certificate.js';
import { DEFAULT_KEY_TYPE, generateKey } from './key-generation.js';
import type { KeySpec } from './key-generation.js';
import { signCertificate } from './sign-certificate.js';
import { describeOwnKey } from './signing-key.js';
import { buildSubjectName } from './subject-name.js';
import { clampWarning, DEFAULT_VALIDITY_DAYS, validityPeriod } from './validity.js';
import type { ValidityPeriod } from './validity.js';
import { x509 } from './x509-provider.js';

/** Keys are generated on libuv's thread pool, which has 4 threads by default. */
export const DEFAULT_ISSUE_CONCURRENCY = 4;

export interface IssueDevicesParams {
  identities: readonly DeviceIdentity[];
  organization?: string | undefined;
  key?: KeySpec | undefined;
  /** Default {@link DEFAULT_VALIDITY_DAYS}.device. */
  days?: number | undefined;
  issuer: Issuer;
  now?: Date | undefined;
  concurrency?: number | undefined;
  /** Called after each certificate is issued (in memory), for the command's progress display. */
  onProgress?: ((progress: { done: number; total: number }) => void) | undefined;
}

async function issueOne(
  identity: DeviceIdentity,
  params: IssueDevicesParams,
  validity: ValidityPeriod,
): Promise<IssuedCertificate> {
  const subject = buildSubjectName(
    { commonName: identity.value, organization: params.organization },
    'device identity',
  );
  const keys = await generateKey(params.key ?? { type: DEFAULT_KEY_TYPE });
  const certificate = await signCertificate({
    subject,
    publicKey: keys.publicKey,
    validity,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth], false),
    ],
    issuer: params.issuer,
  });
  return {
    role: 'device',
    certificate,
    chain: chainBelowRoot(params.issuer),
    privateKey: keys.privateKey,
    keyType: describeOwnKey(keys.privateKey).label,
    identity,
    warnings:
      validity.clamped && params.days !== undefined ? [clampWarning(params.issuer.certificate.notAfter)] : [],
  };
}

/**
 * Issue one client certificate per identity, each with its own new key: subject
 * `[O=<organization>,] CN=<identity value>`, extKeyUsage clientAuth (Go's server requires it
 * whenever a leaf has an EKU extension), keyUsage digitalSignature, CA:FALSE. All devices of
 * a batch share one validity period. Results are in the order of `identities`.
 */
export async function issueDevices(params: IssueDevicesParams): Promise<IssuedCertificate[]> {
  checkDistinctIdentities(params.identities);
  for (const identity of params.identities)
    buildSubjectName({ commonName: identity.value, organization: params.organization }, 'device identity');
  const validity = validityPeriod(
    params.days ?? DEFAULT_VALIDITY_DAYS.device,
    params.now ?? new Date(),
    params.issuer.certificate.notAfter,
  );
  const results: IssuedCertificate[] = new Array<IssuedCertificate>(params.identities.length);
  let next = 0;
  let done = 0;
  const total = params.identities.length;
  const worker = async (): Promise<void> => {
    while (next < params.identities.length) {
      const index = next++;
      const identity = params.identities[index];
      if (identity === undefined) return;
      results[index] = await issueOne(identity, params, validity);
      done++;
      params.onProgress?.({ done, total });
    }
  };
  const workers = Math.max(
    1,
    Math.min(params.concurrency ?? DEFAULT_ISSUE_CONCURRENCY, params.identities.length),
  );
  await Promise.all(Array.from({ length: workers }, worker));
  return results;
}
