import { GatewayError } from '../errors.js';
import { ARTIFACT_ROUTE } from '../artifacts/artifact-link.js';
import { AUTH_REQUESTS_PATH } from '../mtls/auth-request-interceptor.js';
import type { Exchange } from './exchange.js';
import type { Interceptor } from './interceptor.js';

/** Configuration deployments download here, through an HMAC-signed link (docs/protocol.md §4.7). */
const CONFIGURATION_DOWNLOAD = '/api/devices/v1/deployments/download/configuration/';

/**
 * Downloads go on while draining: a device in the middle of an update must be able to finish
 * it, and its link stays valid on the other gateways (they share `SignatureSecret`).
 */
function isDownload(exchange: Exchange): boolean {
  return exchange.path.startsWith(ARTIFACT_ROUTE) || exchange.path.startsWith(CONFIGURATION_DOWNLOAD);
}

/**
 * A draining gateway stops being a place devices stay (docs/operator-guide.md, failover). The
 * current Mender client moves between the servers of its `Servers` list only while it
 * authenticates, and authenticates again after a 401 from any call; a refused connection, a
 * timeout or a 5xx never moves it (docs/protocol.md §8.4). So every device call gets 401, and
 * the auth request that follows gets 503, a failure that makes the client try the next server.
 * WebSocket upgrades get 503 too: mender-connect reconnects through the new server once the
 * device has authenticated there. Only exchanges that start while draining are answered here;
 * those already under way (an artifact streaming) are left alone.
 */
export function drainInterceptor(
  state: { readonly draining: boolean },
  /** Seconds a device with no other server should wait before it asks this gateway again. */
  retryAfterSeconds: number,
): Interceptor {
  return {
    name: 'drain',
    matches: (exchange) => state.draining && !isDownload(exchange),
    handle(exchange) {
      // A kept-alive connection would bring the device's next call back to this gateway.
      exchange.res.shouldKeepAlive = false;
      if (exchange.upgrade !== undefined || exchange.path === AUTH_REQUESTS_PATH) {
        exchange.res.setHeader('retry-after', String(retryAfterSeconds));
        exchange.fail(
          new GatewayError('MGW_DRAINING', 'this gateway is draining: authenticate with another server', {
            hint: "List another gateway in the device's Servers; this one is about to stop.",
          }),
        );
      } else {
        exchange.record(
          new GatewayError('MGW_DRAINING_REAUTHENTICATE', 'Unauthorized: this gateway is draining', {
            hint: 'The device authenticates again, with the next server of its Servers list.',
          }),
        );
        // No body, unlike the gateway's other errors: the 5.1 client reads none on a 401 (it
        // authenticates and retries), and a body it did not read fails the original call as
        // well, so mender-update handles the poll twice and aborts. See
        // https://github.com/mendersoftware/mender/blob/5.1.0/src/api/client.cpp and
        // https://github.com/mendersoftware/mender/blob/5.1.0/src/common/http/platform/beast/http.cpp
        // (BodyIgnoredError). The request id goes in Mender's header instead.
        exchange.res.writeHead(401, {
          'content-length': 0,
          'cache-control': 'no-store',
          'x-men-requestid': exchange.id,
        });
        exchange.res.end();
      }
      return Promise.resolve();
    },
  };
}
