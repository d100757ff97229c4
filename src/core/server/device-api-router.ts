import type { IncomingMessage, ServerResponse } from 'node:http';
import { GatewayError } from '../errors.js';
import { splitTarget } from '../http/device-path.js';
import type { DeviceApiRelay, RelayExchange } from '../upstream/device-api-relay.js';
import { failExchange } from '../upstream/device-api-relay.js';
import { ArtifactDownloads } from '../artifacts/artifact-downloads.js';
import { isDeploymentsNext } from '../artifacts/next-rewrite-relay.js';
import type { NextRewriteRelay } from '../artifacts/next-rewrite-relay.js';
import { AUTH_REQUESTS_PATH } from '../mtls/auth-request-interceptor.js';
import type { AuthRequestInterceptor } from '../mtls/auth-request-interceptor.js';
import { isInventoryUpdate } from '../device-system/inventory-interceptor.js';
import type { InventoryInterceptor } from '../device-system/inventory-interceptor.js';
import { setBodyIdleTimeout } from '../http/read-body.js';

/** Where a request came from: the listener and, on HTTPS with mTLS, the verified client certificate. */
export interface RequestOrigin {
  listener: 'http' | 'https';
  certificate: { serial: string; subject: string } | undefined;
}

export type DeviceApiHandler = (
  req: IncomingMessage,
  res: ServerResponse,
  exchange: RelayExchange,
  origin: RequestOrigin,
) => Promise<void>;

export interface DeviceApiParts {
  relay: DeviceApiRelay;
  /** Present when Features.ArtifactsProxy is enabled. */
  next: NextRewriteRelay | undefined;
  downloads: ArtifactDownloads | undefined;
  /** Present when Features.mTLS is enabled. */
  auth: AuthRequestInterceptor | undefined;
  /** Present when Features.DeviceSystem is enabled. */
  inventory: InventoryInterceptor | undefined;
  /**
   * Longest silence while the gateway reads a body itself (`UpstreamServer.BodyIdleTimeout`);
   * 0 or absent: no limit. Relayed bodies stream through and are never cut (issue #7).
   */
  bodyIdleMs?: number | undefined;
}

/**
 * Which part of the gateway answers a device-API request (protocol doc §1.1): the few
 * intercepted endpoints by their own handlers, everything else by the generic relay, so new
 * device endpoints pass through without a code change.
 */
export function createDeviceApiRouter(parts: DeviceApiParts): DeviceApiHandler {
  return async (req, res, exchange, origin) => {
    const { path } = splitTarget(req.url ?? '/');
    if (parts.bodyIdleMs !== undefined) setBodyIdleTimeout(req, parts.bodyIdleMs);
    if (ArtifactDownloads.handles(path)) {
      if (parts.downloads === undefined) {
        failExchange(
          res,
          exchange,
          new GatewayError(
            'MGW_NOT_FOUND',
            'artifact links are not served: Features.ArtifactsProxy is disabled',
          ),
        );
        return;
      }
      await parts.downloads.handle(req, res, exchange);
      return;
    }
    // Auto-accept only for a verified certificate on HTTPS (§3.7 step 1); never on plain HTTP.
    if (
      parts.auth !== undefined &&
      origin.certificate !== undefined &&
      req.method === 'POST' &&
      path === AUTH_REQUESTS_PATH
    ) {
      await parts.auth.handle(req, res, exchange, origin.certificate);
      return;
    }
    if (parts.next !== undefined && isDeploymentsNext(req.method, path)) {
      await parts.next.handle(req, res, exchange);
      return;
    }
    if (parts.inventory !== undefined && isInventoryUpdate(req.method, path)) {
      await parts.inventory.handle(req, res, exchange);
      return;
    }
    await parts.relay.relay(req, res, exchange);
  };
}
