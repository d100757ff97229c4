import type { IncomingMessage, ServerResponse } from 'node:http';
import { promisify } from 'node:util';
import { brotliDecompress, gunzip, inflate } from 'node:zlib';
import type { Dispatcher } from 'undici';
import { GatewayError, toGatewayError } from '../errors.js';
import { filterResponseHeaders } from '../http/hop-by-hop.js';
import type { Logger } from '../logger.js';
import type { DeviceApiRelay, RelayExchange } from '../upstream/device-api-relay.js';
import { failExchange } from '../upstream/device-api-relay.js';
import { rewriteInstructions } from './deployment-rewrite.js';
import type { RewriteOptions } from './deployment-rewrite.js';

/** Upstream bodies of deployments/next are small JSON; anything larger is not instructions. */
const MAX_INSTRUCTIONS_BYTES = 1024 * 1024;

const DECODERS: Record<string, (data: Buffer) => Promise<Buffer>> = {
  gzip: promisify(gunzip),
  'x-gzip': promisify(gunzip),
  deflate: promisify(inflate),
  br: promisify(brotliDecompress),
};

/** The three check-for-update variants whose 200 answers carry the download link (§2.2). */
export function isDeploymentsNext(method: string | undefined, path: string): boolean {
  if (path === '/api/devices/v2/deployments/device/deployments/next') return method === 'POST';
  if (path === '/api/devices/v1/deployments/device/deployments/next')
    return method === 'POST' || method === 'GET';
  return false;
}

async function readBounded(body: Dispatcher.ResponseData['body']): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_INSTRUCTIONS_BYTES) {
      body.destroy();
      throw new GatewayError(
        'MGW_UPSTREAM_BAD_RESPONSE',
        `deployments/next answer larger than ${MAX_INSTRUCTIONS_BYTES} bytes`,
        {
          hint: 'The upstream answer is not deployment instructions; check UpstreamServer.URL.',
        },
      );
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/**
 * deployments/next through the gateway (protocol doc §4.1): forward the poll without
 * `Accept-Encoding` (upstream traefik compresses device routes and 3.x clients ask for
 * gzip), decode whatever encoding still comes back, replace the download link, and send
 * the instructions with a correct Content-Length. Answers other than 200 and bodies that
 * are not instructions are relayed as they came.
 */
export class NextRewriteRelay {
  constructor(
    private readonly relay: DeviceApiRelay,
    private readonly options: RewriteOptions,
    private readonly logger: Logger,
  ) {}

  async handle(req: IncomingMessage, res: ServerResponse, exchange: RelayExchange): Promise<void> {
    let upstream: Dispatcher.ResponseData | undefined;
    try {
      upstream = await this.relay.send(req, res, exchange, { dropHeaders: ['accept-encoding'] });
    } catch (err) {
      failExchange(res, exchange, toGatewayError(err));
      return;
    }
    if (upstream === undefined) return;
    if (upstream.statusCode !== 200) {
      await this.relay.respond(upstream, res, exchange);
      return;
    }
    try {
      const raw = await readBounded(upstream.body);
      const encodingHeader = upstream.headers['content-encoding'];
      const encoding = (
        Array.isArray(encodingHeader) ? encodingHeader.join(',') : (encodingHeader ?? 'identity')
      )
        .trim()
        .toLowerCase();
      const decode = DECODERS[encoding];
      if (encoding !== 'identity' && decode === undefined) {
        throw new GatewayError(
          'MGW_UPSTREAM_BAD_RESPONSE',
          `deployments/next answer has unsupported Content-Encoding ${encoding}`,
          {
            hint: 'Expected identity, gzip, deflate or br.',
          },
        );
      }
      const text = decode === undefined ? raw : await decode(raw);
      let parsed: unknown;
      try {
        parsed = JSON.parse(text.toString('utf8'));
      } catch {
        parsed = undefined; // not JSON: relay unchanged, the device will reject it on its own
      }
      const rewritten = parsed === undefined ? undefined : rewriteInstructions(parsed, this.options);
      const body = rewritten === undefined ? text : Buffer.from(JSON.stringify(rewritten));
      if (rewritten === undefined && parsed !== undefined)
        this.logger.debug({ requestId: exchange.requestId }, 'deployments/next 200 without a download link');
      const headers = filterResponseHeaders(
        upstream.headers,
        new Set(['content-length', 'content-encoding', 'etag', 'content-md5']),
      );
      headers['content-length'] = String(body.length);
      res.writeHead(200, headers);
      res.end(body);
      exchange.bytesOut += body.length;
    } catch (err) {
      const error = toGatewayError(err);
      if (error.code === 'MGW_NOT_WHITELISTED')
        this.logger.warn({ requestId: exchange.requestId, ip: exchange.clientIp }, error.message);
      failExchange(res, exchange, error);
    }
  }
}
