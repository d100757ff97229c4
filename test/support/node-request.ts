import { request as httpRequest } from 'node:http';
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';

export interface NodeResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/**
 * A request through node:http, for headers undici refuses to send (`Connection` tokens,
 * `Keep-Alive`), which a device may still send.
 */
export function nodeRequest(
  url: string,
  options: { method?: string; headers?: OutgoingHttpHeaders; body?: Buffer } = {},
): Promise<NodeResponse> {
  return new Promise((resolve, reject) => {
    // Pass host, port and path separately: a URL string would be normalised (dot segments
    // removed) before sending, and tests of path traversal need the raw target.
    const match = /^http:\/\/([^/:]+):(\d+)(\/.*)?$/.exec(url);
    if (match === null) throw new Error(`nodeRequest needs http://host:port/path, got ${url}`);
    const target = { host: match[1], port: Number(match[2]), path: match[3] ?? '/' };
    const req = httpRequest(
      { ...target, method: options.method ?? 'GET', headers: options.headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}
