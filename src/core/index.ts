/** Public API of the mender-gw core library, used by the commands and by tests. */
export * from './errors.js';
export * from './logger.js';
export * from './config/index.js';
export { createGateway } from './server/gateway.js';
export type { Gateway, GatewayDeps, BoundAddress } from './server/gateway.js';
export * from './pki/index.js';
