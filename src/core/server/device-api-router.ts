import type { IncomingMessage, ServerResponse } from 'node:http';
import { GatewayError } from '../errors.js';
import { splitTarget } from '../http/device-path.js';
import type { DeviceApiRelay, RelayExchange } from '../upstream/device-api-relay.js';
import { failExchange } from '../upstream/device-api-relay.js';
import { ArtifactDownloads } from '../artifacts/artifact-downloads.js';
import { isDeploymentsNext } from '../artifacts/next-rewrite-relay.js';
import type { NextRewriteRelay } from '../artifacts/next-rewrite-relay.js';

export type DeviceApiHandler = (req: IncomingMessage, res: ServerResponse, exchange: RelayExchange) => Promise<void>;

export interface DeviceApiParts {
  relay: DeviceApiRelay;
  /** Present when Features.ArtifactsProxy is enabled. */
  next: NextRewriteRelay | undefined;
  downloads: ArtifactDownloads | undefined;
}

/**
 * Which part of the gateway answers a device-API request (protocol doc §1.1): the few
 * intercepted endpoints by their own handlers, everything else by the generic relay, so
 * new device endpoints pass through without a code change.
 */
export function createDeviceApiRouter(parts: DeviceApiParts): DeviceApiHandler {
  return async (req, res, exchange) => {
    const { path } = splitTarget(req.url ?? '/');
    if (ArtifactDownloads.handles(path)) {
      if (parts.downloads === undefined) {
        failExchange(res, exchange, new GatewayError('MGW_NOT_FOUND', 'artifact links are not served: Features.ArtifactsProxy is disabled'));
        return;
      }
      await parts.downloads.handle(req, res, exchange);
      return;
    }
    if (parts.next !== undefined && isDeploymentsNext(req.method, path)) {
      await parts.next.handle(req, res, exchange);
      return;
    }
    await parts.relay.relay(req, res, exchange);
  };
}
