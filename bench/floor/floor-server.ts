/**
 * The least a Node.js gateway can do per request on this machine (docs/performance.md, "The Node.js floor"):
 * an HTTPS server that does the same per-request work as mender-gw, minimally, with no logging,
 * metrics, routing, path checks, cache or per-request bookkeeping:
 *
 * - any other request: relayed to the origin with one undici Agent (body streamed both ways);
 * - `POST …/v2/…/deployments/next`: relayed without `Accept-Encoding`, the answer parsed, its
 *   `artifact.source.uri` replaced by a gateway link signed with HMAC-SHA256, re-serialised;
 * - `PUT …/inventory/device/attributes`: the body read, parsed, one attribute appended, re-serialised;
 * - `GET /file`: `fs.createReadStream(file).pipe(res)`.
 *
 * mender-gw cannot be cheaper than this; the gap between the two is what its own features cost.
 * Run by `bench/floor.ts`, never by operators.
 *
 *   node --import tsx bench/floor/floor-server.ts <port> <origin-url> <cert> <key> <file> <secret-base64>
 */
import { createHmac, createSecretKey } from 'node:crypto';
import { createReadStream, readFileSync, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:https';
import { Agent } from 'undici';
import type { Dispatcher } from 'undici';

const [portArg, origin, certPath, keyPath, file, secret] = process.argv.slice(2);
if (secret === undefined)
  throw new Error('usage: floor-server <port> <origin-url> <cert> <key> <file> <secret-base64>');
const size = statSync(file!).size;
const agent = new Agent({ connections: 256, keepAliveTimeout: 30_000 });
const host = new URL(origin!).host;
const key = createSecretKey(Buffer.from(secret, 'base64'));
const NEXT = '/api/devices/v2/deployments/device/deployments/next';
const INVENTORY = '/api/devices/v1/inventory/device/attributes';

function requestHeaders(req: IncomingMessage, drop?: string): Record<string, string> {
  const headers: Record<string, string> = { host };
  for (const [k, v] of Object.entries(req.headers))
    if (typeof v === 'string' && k !== 'host' && k !== 'connection' && k !== drop) headers[k] = v;
  return headers;
}

function responseHeaders(up: Dispatcher.ResponseData): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(up.headers))
    if (typeof v === 'string' && k !== 'connection' && k !== 'keep-alive') headers[k] = v;
  return headers;
}

async function readAll(stream: AsyncIterable<Buffer>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/** The same link shape as mender-gw's cache links: key, expiry, origin, signature. */
function signedLink(uri: string): string {
  const expire = new Date(Date.now() + 86_400_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const originParam = Buffer.from(uri).toString('base64url');
  const path = `/api/devices/v1/gateway/artifacts/${createHmac('sha256', key).update(uri).digest('hex').slice(0, 32)}`;
  const signature = createHmac('sha256', key)
    .update(`GET\n${path}\nx-men-expire=${expire}\nx-men-origin=${originParam}\n`)
    .digest('base64url');
  return `https://127.0.0.1:${portArg}${path}?x-men-expire=${expire}&x-men-origin=${originParam}&x-men-signature=${signature}`;
}

async function next(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const up = await agent.request({
    origin: origin!,
    path: req.url ?? '/',
    method: 'POST',
    headers: requestHeaders(req, 'accept-encoding'),
    body: req,
  });
  if (up.statusCode !== 200) {
    res.writeHead(up.statusCode, responseHeaders(up));
    up.body.pipe(res);
    return;
  }
  const instructions = JSON.parse((await readAll(up.body)).toString('utf8')) as {
    artifact: { source: { uri: string; expire?: string } };
  };
  instructions.artifact.source.uri = signedLink(instructions.artifact.source.uri);
  const body = Buffer.from(JSON.stringify(instructions));
  const headers = responseHeaders(up);
  headers['content-length'] = String(body.length);
  res.writeHead(200, headers);
  res.end(body);
}

async function inventory(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const attributes = JSON.parse((await readAll(req)).toString('utf8')) as unknown[];
  attributes.push({ name: 'mender_gateway_system_id', value: 'bench-site-1' });
  const body = Buffer.from(JSON.stringify(attributes));
  const headers = requestHeaders(req, 'content-length');
  headers['content-length'] = String(body.length);
  const up = await agent.request({ origin: origin!, path: req.url ?? '/', method: 'PUT', headers, body });
  res.writeHead(up.statusCode, responseHeaders(up));
  up.body.pipe(res);
}

async function relay(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const up = await agent.request({
    origin: origin!,
    path: req.url ?? '/',
    method: req.method as Dispatcher.HttpMethod,
    headers: requestHeaders(req),
    body:
      req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined
        ? req
        : null,
  });
  res.writeHead(up.statusCode, responseHeaders(up));
  up.body.pipe(res);
}

const server = createServer(
  { cert: readFileSync(certPath!), key: readFileSync(keyPath!), keepAliveTimeout: 90_000 },
  (req, res) => {
    if (req.url === '/file') {
      res.writeHead(200, { 'content-length': size, 'content-type': 'application/octet-stream' });
      createReadStream(file!).pipe(res);
      return;
    }
    const path = req.url?.split('?')[0];
    const work =
      path === NEXT && req.method === 'POST'
        ? next(req, res)
        : path === INVENTORY && req.method === 'PUT'
          ? inventory(req, res)
          : relay(req, res);
    work.catch(() => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
  },
);
server.listen(Number(portArg), '127.0.0.1', () => process.stdout.write('listening\n'));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
