import { promisify } from 'node:util';
import { brotliDecompress, gunzip, inflate } from 'node:zlib';
import type { Dispatcher } from 'undici';
import { GatewayError, isGatewayError, toGatewayError } from '../errors.js';
import { filterResponseHeaders } from '../http/hop-by-hop.js';
import type { Logger } from '../logger.js';
import type { DeviceApiRelay } from '../upstream/device-api-relay.js';
import type { Exchange } from '../server/exchange.js';
import { upstreamFailure } from '../upstream/upstream-error.js';
import { rewriteInstructions } from './deployment-rewrite.js';
import type { RewriteOptions } from './deployment-rewrite.js';
import { errnoCode } from '../file-errors.js';
import { key } from '../config-key.js';

/** Headers of the upstream answer that no longer describe the rewritten body. */
const REPLACED_HEADERS: ReadonlySet<string> = new Set([
  'content-length',
  'content-encoding',
  'etag',
  'content-md5',
]);

/** Upstream bodies of deployments/next are small JSON; anything larger is not instructions. */
const MAX_INSTRUCTIONS_BYTES = 1024 * 1024;

type Decoder = (data: Buffer, options: { maxOutputLength: number }) => Promise<Buffer>;

/**
 * Decoded output is bounded like the body itself: a small compressed answer that inflates to
 * gigabytes (a decompression bomb) is refused instead of filling the gateway's memory.
 */
const DECODERS: Record<string, Decoder> = {
  gzip: promisify(gunzip),
  'x-gzip': promisify(gunzip),
  deflate: promisify(inflate),
  br: promisify(brotliDecompress),
};

/** The three check-for-update variants whose 200 answers carry the download link (docs/protocol.md §2.2). */
export function isDeploymentsNext(method: string | undefined, path: string): boolean {
  if (path === '/api/devices/v2/deployments/device/deployments/next') return method === 'POST';
  if (path === '/api/devices/v1/deployments/device/deployments/next')
    return method === 'POST' || method === 'GET';
  return false;
}

/**
 * Read the whole answer. The connection dropping or going silent mid-body is an upstream failure
 * like one before the headers (502/504), not a gateway bug (it was a 500).
 */
async function readBounded(body: Dispatcher.ResponseData['body'], origin: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > MAX_INSTRUCTIONS_BYTES) {
        body.destroy();
        throw new GatewayError(
          'MGW_UPSTREAM_BAD_RESPONSE',
          `deployments/next answer larger than ${MAX_INSTRUCTIONS_BYTES} bytes`,
          {
            hint: `The upstream answer is not deployment instructions; check ${key('UpstreamServer.URL')}.`,
          },
        );
      }
      chunks.push(chunk);
    }
  } catch (err) {
    throw isGatewayError(err) ? err : upstreamFailure(err, origin);
  }
  return Buffer.concat(chunks);
}

/** Undo the Content-Encoding; a body that does not decode is a bad answer (502), not a bug. */
async function decodeBody(raw: Buffer, encoding: string, decode: Decoder): Promise<Buffer> {
  try {
    return await decode(raw, { maxOutputLength: MAX_INSTRUCTIONS_BYTES });
  } catch (err) {
    const tooLarge = errnoCode(err) === 'ERR_BUFFER_TOO_LARGE';
    throw new GatewayError(
      'MGW_UPSTREAM_BAD_RESPONSE',
      tooLarge
        ? `deployments/next answer decodes to more than ${MAX_INSTRUCTIONS_BYTES} bytes`
        : `deployments/next answer is not valid ${encoding} (${(err as Error).message})`,
      {
        cause: err,
        hint: `The upstream answer is not deployment instructions; check ${key('UpstreamServer.URL')}.`,
      },
    );
  }
}

/**
 * JSON.stringify recurses: instructions nested thousands of levels deep (JSON.parse takes them)
 * overflow the stack. Upstream instructions are a few levels deep, so this is a bad answer (502),
 * not a gateway bug (it was a 500).
 */
function serialize(instructions: unknown): Buffer {
  try {
    return Buffer.from(JSON.stringify(instructions));
  } catch (err) {
    throw new GatewayError('MGW_UPSTREAM_BAD_RESPONSE', 'deployments/next answer cannot be re-encoded', {
      cause: err,
      hint: 'The upstream answer is nested too deeply to be deployment instructions.',
    });
  }
}

/**
 * deployments/next through the gateway (docs/protocol.md §4.1): forward the poll without
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

  /** Whether this exchange is a check for an update. */
  matches(exchange: Exchange): boolean {
    return isDeploymentsNext(exchange.req.method, exchange.path);
  }

  async handle(exchange: Exchange): Promise<void> {
    const { res } = exchange;
    let upstream: Dispatcher.ResponseData | undefined;
    try {
      upstream = await this.relay.send(exchange, { dropHeaders: ['accept-encoding'] });
    } catch (err) {
      exchange.fail(toGatewayError(err));
      return;
    }
    if (upstream === undefined) return;
    if (upstream.statusCode !== 200) {
      await this.relay.respond(upstream, exchange);
      return;
    }
    try {
      const raw = await readBounded(upstream.body, this.relay.origin);
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
      const text = decode === undefined ? raw : await decodeBody(raw, encoding, decode);
      let parsed: unknown;
      try {
        parsed = JSON.parse(text.toString('utf8'));
      } catch {
        parsed = undefined; // not JSON: relay unchanged, the device will reject it on its own
      }
      const rewritten = parsed === undefined ? undefined : rewriteInstructions(parsed, this.options);
      const body = rewritten === undefined ? text : serialize(rewritten);
      if (rewritten === undefined && parsed !== undefined)
        this.logger.debug({ requestId: exchange.requestId }, 'deployments/next 200 without a download link');
      const headers = filterResponseHeaders(upstream.headers, REPLACED_HEADERS);
      headers['content-length'] = String(body.length);
      res.writeHead(200, headers);
      res.end(body);
      exchange.bytesOut += body.length;
    } catch (err) {
      const error = toGatewayError(err);
      if (error.code === 'MGW_NOT_WHITELISTED')
        this.logger.warn({ requestId: exchange.requestId, ip: exchange.clientIp }, error.message);
      exchange.fail(error);
    }
  }
}
