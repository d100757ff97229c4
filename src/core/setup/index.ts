/**
 * `mender-gw config init`: the first-run wizard's answers, the configuration they make, and
 * writing it (with the CA and server certificate, if asked) only once it passes the checks of
 * `config validate`. Nothing here prompts or prints; failures are GatewayErrors
 * (MGW_SETUP_INVALID_INPUT, MGW_CONFIG_INVALID, MGW_FILE_EXISTS, MGW_FILE_WRITE and the
 * `cert issue` codes).
 */
export {
  checkCaKeyOut,
  checkGatewayIp,
  checkGatewayName,
  checkListenAddress,
  checkNonEmpty,
  checkPort,
  checkSetupAnswers,
  checkSignatureSecret,
  checkUpstreamUrl,
  defaultDomainWhitelist,
  generateSignatureSecret,
  HOSTED_MENDER_STORAGE,
  parseDomainWhitelist,
  resolveSetupPaths,
  SETUP_DEFAULTS,
  setupCertificatePaths,
} from './setup-answers.js';
export type { SetupAnswers } from './setup-answers.js';
export { buildSetupConfig, redactSetupConfig, renderSetupConfig, SETUP_SCHEMA_URL } from './setup-config.js';
export {
  checkCacheDirectory,
  checkMtlsCaFile,
  checkServerCertificateFile,
  checkServerCertificateNames,
  checkServerKeyFile,
  checkSetupFiles,
  checkUpstreamCaFile,
} from './answer-checks.js';
export { resolveServiceGroup, SERVICE_GROUP_MODES } from './service-group.js';
export { applySetup, SETUP_FILE_MODE } from './apply-setup.js';
export type { ApplySetupOptions, SetupResult } from './apply-setup.js';
