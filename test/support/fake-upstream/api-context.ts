import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ConfigurationLinks } from './configuration-download.js';
import type { DeploymentCatalog } from './deployment-catalog.js';
import type { DeviceRegistry } from './device-registry.js';
import { bearerToken } from './jwt.js';
import type { JsonOptions } from './http-util.js';
import { headerValue, sendError } from './http-util.js';
import type { ManagementAuth } from './management-auth.js';
import type { ResolvedOptions } from './options.js';
import type { FakeArtifact, FakeDevice, FakeState } from './state.js';

export interface StorageLinkOptions {
  /** Sign for this method (S3 signs the method; default GET). */
  method?: 'GET' | 'HEAD';
  /** Signing time (default now); a past date with a short expiry gives an expired link. */
  date?: Date;
  expiresSeconds?: number;
}

/** Everything a route handler of the API host needs. */
export interface ApiContext {
  state: FakeState;
  registry: DeviceRegistry;
  catalog: DeploymentCatalog;
  management: ManagementAuth;
  options: ResolvedOptions;
  json: JsonOptions;
  storageLink(artifact: FakeArtifact, options?: StorageLinkOptions): { uri: string; expire: Date };
  configurationLinks: ConfigurationLinks;
}

/**
 * The device behind the request's bearer JWT, or a 401 already sent. Upstream checks the
 * token (traefik forward-auth to deviceauth) before any service sees the request (docs/protocol.md §2).
 */
export function requireDevice(
  ctx: ApiContext,
  req: IncomingMessage,
  res: ServerResponse,
): FakeDevice | undefined {
  const device = ctx.registry.authenticate(bearerToken(headerValue(req, 'authorization')));
  if (device === undefined) sendError(req, res, 401, 'unauthorized', ctx.json);
  return device;
}
