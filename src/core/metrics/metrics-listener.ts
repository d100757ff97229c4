import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { ListenAddress } from '../config/gateway-config.js';
import type { Logger } from '../logger.js';
import type { GatewayMetrics } from './gateway-metrics.js';
import { errnoCode } from '../file-errors.js';

/** Other read-only routes served on the same listener (the status page); true when answered. */
export type AdminRoutes = (req: IncomingMessage, res: ServerResponse) => boolean;

/**
 * The Prometheus endpoint on its own listener (`Metrics.Listen`, docs/protocol.md §6.6), never on
 * the device listeners. Bound to loopback by default, unlike Mender's `:9102`: it has no
 * authentication and the host has a leg in the isolated network. If it cannot start, the
 * gateway logs the error and keeps serving devices (docs/protocol.md §6.6).
 */
export async function startMetricsListener(
  listen: ListenAddress,
  metrics: GatewayMetrics,
  logger: Logger,
  routes?: AdminRoutes,
): Promise<Server | undefined> {
  const server = createServer((req, res) => {
    if (routes?.(req, res) === true) return;
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    metrics.registry.metrics().then(
      (text) => {
        res.writeHead(200, { 'content-type': metrics.registry.contentType });
        res.end(text);
      },
      (err: unknown) => {
        logger.error({ error: String(err) }, 'metrics collection failed');
        res.writeHead(500).end();
      },
    );
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(
        { port: listen.port, ...(listen.host === undefined ? {} : { host: listen.host }) },
        () => {
          server.off('error', reject);
          resolve();
        },
      );
    });
  } catch (err) {
    logger.error(
      { listen: listen.raw, error: errnoCode(err) ?? String(err) },
      'metrics listener could not start: continuing without metrics',
    );
    return undefined;
  }
  const address = server.address();
  logger.info(
    {
      listener: 'metrics',
      address: typeof address === 'object' && address !== null ? address.address : listen.raw,
      port: typeof address === 'object' && address !== null ? address.port : listen.port,
    },
    'listening',
  );
  return server;
}
