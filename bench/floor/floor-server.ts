/**
 * The least a Node.js gateway can do per request on this machine (docs/performance.md, "The Node.js floor"):
 * an HTTPS server that relays GET requests to the origin with one undici Agent, and serves a
 * file from disk with `fs.createReadStream(...).pipe(res)`, with no logging, metrics, routing,
 * signatures or cache. mender-gw cannot be cheaper than this; the gap between the two is what
 * its own features cost. Run by `bench/floor.ts`, never by operators.
 *
 *   node --import tsx bench/floor/floor-server.ts <port> <origin-url> <cert> <key> <file>
 */
import { createReadStream, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:https';
import { Agent } from 'undici';

const [portArg, origin, certPath, keyPath, file] = process.argv.slice(2);
if (file === undefined) throw new Error('usage: floor-server <port> <origin-url> <cert> <key> <file>');
const size = statSync(file).size;
const agent = new Agent({ connections: 256, keepAliveTimeout: 30_000 });

const server = createServer(
  { cert: readFileSync(certPath!), key: readFileSync(keyPath!), keepAliveTimeout: 90_000 },
  (req, res) => {
    if (req.url === '/file') {
      res.writeHead(200, { 'content-length': size, 'content-type': 'application/octet-stream' });
      createReadStream(file).pipe(res);
      return;
    }
    agent
      .request({
        origin: origin!,
        path: req.url ?? '/',
        method: 'GET',
        headers: { host: new URL(origin!).host },
      })
      .then(
        (up) => {
          const headers: Record<string, string> = {};
          for (const [k, v] of Object.entries(up.headers))
            if (typeof v === 'string' && k !== 'connection' && k !== 'keep-alive') headers[k] = v;
          res.writeHead(up.statusCode, headers);
          up.body.pipe(res);
        },
        () => res.writeHead(502).end(),
      );
  },
);
server.listen(Number(portArg), '127.0.0.1', () => process.stdout.write('listening\n'));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
