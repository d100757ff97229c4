/**
 * Provisioning devices on the segregated network (`mender-gw device-hosts gen`, see
 * docs/provisioning.md): host names and addresses of the gateway(s) as /etc/hosts lines, a
 * dnsmasq snippet or JSON, and the matching `mender.conf` fragment. Nothing here prints;
 * failures are GatewayErrors (MGW_PROVISIONING_INVALID_INPUT, MGW_TLS_MATERIAL, and the
 * configuration loader's codes).
 */
export { planDeviceHosts, parseGatewaySpec, DEFAULT_SERVER_CERTIFICATE_PATH } from './device-hosts.js';
export type {
  DeviceHostsInput,
  DeviceHostsPlan,
  GatewaySpec,
  HostsEntry,
  MenderConfFragment,
  PlannedGateway,
} from './device-hosts.js';
export { gatewayIdentity, loadGatewayIdentity, dnsNamesOfSubjectAltName } from './gateway-identity.js';
export type { GatewayIdentity } from './gateway-identity.js';
export { normalizeHostName, normalizeAddress, certificateNameCovers } from './host-names.js';
export {
  DEVICE_HOSTS_FORMATS,
  renderDeviceHosts,
  renderDeviceHostsJson,
  renderDnsmasq,
  renderHostsFile,
  renderMenderConf,
} from './render.js';
export type { DeviceHostsFormat } from './render.js';
