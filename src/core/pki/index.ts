/**
 * Offline PKI for `mender-gw cert issue`: CA, gateway server and device certificates with
 * @peculiar/x509 on Node's WebCrypto and keys from `node:crypto` (docs/certificates.md,
 * docs/decisions.md "Certificates: @peculiar/x509, not node-forge"). Nothing here prints or
 * prompts; failures are GatewayErrors (MGW_PKI_INVALID_INPUT, MGW_PKI_CA_UNUSABLE,
 * MGW_FILE_EXISTS, MGW_FILE_WRITE).
 */
export {
  issueCaFiles,
  issueServerFiles,
  issueDeviceFiles,
  deviceIdentities,
  checkFileStem,
} from './issue-files.js';
export type {
  IssueResult,
  IssueCaFilesOptions,
  IssueServerFilesOptions,
  IssueDeviceFilesOptions,
  OutputOptions,
  KeyOptions,
  IssuingCaPaths,
} from './issue-files.js';
export type { CertificateSummary } from './certificate-summary.js';
export { summarizeCertificate } from './certificate-summary.js';

export {
  issueCa,
  caPathLength,
  DEFAULT_ROOT_PATH_LENGTH,
  DEFAULT_INTERMEDIATE_PATH_LENGTH,
} from './issue-ca.js';
export type { IssueCaParams } from './issue-ca.js';
export { issueServer, serverNames } from './issue-server.js';
export type { IssueServerParams } from './issue-server.js';
export { issueDevices, DEFAULT_ISSUE_CONCURRENCY } from './issue-device.js';
export type { IssueDevicesParams } from './issue-device.js';
export { certificateFilePem, keyFilePem, chainBelowRoot } from './issued-certificate.js';
export type { IssuedCertificate } from './issued-certificate.js';
export { createIssuer, loadIssuer, parseCertificates, isSelfSigned } from './issuer.js';
export type { Issuer } from './issuer.js';

export {
  generateKey,
  resolveKeySpec,
  isKeyType,
  isRsaKeySize,
  KEY_TYPES,
  RSA_KEY_SIZES,
  DEFAULT_KEY_TYPE,
  DEFAULT_RSA_KEY_SIZE,
} from './key-generation.js';
export type { KeyType, RsaKeySize, KeySpec, GeneratedKeyPair } from './key-generation.js';
export { describeKey, privateKeyPem } from './signing-key.js';
export type { KeyDescription } from './signing-key.js';
export { randomSerialNumber, normalizeSerialNumber, SERIAL_NUMBER_OCTETS } from './serial-number.js';
export {
  buildSubjectAltNames,
  normalizeDnsName,
  normalizeIpAddress,
  splitHostNames,
} from './subject-alt-names.js';
export type { SubjectAltName } from './subject-alt-names.js';
export { buildSubjectName, checkNameAttribute, MAX_COMMON_NAME_LENGTH } from './subject-name.js';
export {
  parseDeviceIdentity,
  expandDeviceIdentities,
  parseIdentityList,
  readIdentitiesFile,
  deviceFileStem,
  checkDistinctIdentities,
  MAX_DEVICE_BATCH,
} from './device-identity.js';
export type { DeviceIdentity } from './device-identity.js';
export { validityPeriod, DEFAULT_VALIDITY_DAYS, MAX_VALIDITY_DAYS, BACKDATE_MS } from './validity.js';
export type { CertificateRole, ValidityPeriod } from './validity.js';
export { writeOutputFiles, checkOutputTargets, OUTPUT_FILE_MODES } from './pem-files.js';
export type { OutputFile, OutputFileKind } from './pem-files.js';
export { MANIFEST_CSV, MANIFEST_JSON } from './device-manifest.js';
export type { DeviceManifest, ManifestDevice } from './device-manifest.js';
