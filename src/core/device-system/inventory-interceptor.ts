import { toGatewayError } from '../errors.js';
import { readBoundedBody } from '../http/read-body.js';
import { MAX_JSON_BODY } from '../http/bounded-json.js';
import type { InventoryAttribute } from '../config/gateway-config.js';
import type { Logger } from '../logger.js';
import type { DeviceApiRelay } from '../upstream/device-api-relay.js';
import type { Exchange } from '../server/exchange.js';
import { injectInventory } from './inventory-injection.js';

export const INVENTORY_PATH = '/api/devices/v1/inventory/device/attributes';

/** PUT replaces the whole set, so injecting only into PATCH would drop the attributes (docs/protocol.md §5). */
export function isInventoryUpdate(method: string | undefined, path: string): boolean {
  return path === INVENTORY_PATH && (method === 'PUT' || method === 'PATCH');
}

/**
 * `Features.DeviceSystem` on inventory updates (docs/protocol.md §5): read the body (bounded),
 * add the gateway's attributes, forward with the corrected Content-Length. Bodies that are not
 * attribute arrays are forwarded byte-for-byte, for upstream to judge.
 */
export class InventoryInterceptor {
  constructor(
    private readonly relay: DeviceApiRelay,
    private readonly systemId: string,
    private readonly defaults: readonly InventoryAttribute[],
    private readonly logger: Logger,
  ) {}

  matches(exchange: Exchange): boolean {
    return isInventoryUpdate(exchange.req.method, exchange.path);
  }

  async handle(exchange: Exchange): Promise<void> {
    const { req } = exchange;
    try {
      const body = await readBoundedBody(req, MAX_JSON_BODY);
      const result = injectInventory(body, this.systemId, this.defaults);
      if (result.dropped.length > 0) {
        this.logger.warn(
          { requestId: exchange.requestId, ip: exchange.clientIp, dropped: result.dropped },
          'inventory attribute limit reached: default attributes not added',
        );
      }
      if (result.body === undefined)
        this.logger.debug(
          { requestId: exchange.requestId },
          'inventory body is not an attribute array: forwarded unchanged',
        );
      const upstream = await this.relay.send(exchange, {
        body: result.body ?? body,
        dropHeaders: result.body === undefined ? [] : ['content-encoding'],
      });
      if (upstream !== undefined) await this.relay.respond(upstream, exchange);
    } catch (err) {
      exchange.fail(toGatewayError(err));
    }
  }
}
