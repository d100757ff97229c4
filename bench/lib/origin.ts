import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

/**
 * The origin both proxies sit in front of, on loopback, plain HTTP (as nginx and mender-gw
 * would each reach a storage host; TLS to the origin would cost both the same).
 *
 *   GET|HEAD /artifacts/<tag>/<file>   a file of `dir`, with single Range; the tag only makes
 *                                      the URL unique (a fresh tag = a cache miss in both
 *                                      proxies). Tags starting with `slow` are sent at
 *                                      `slowBytesPerSecond`.
 *   POST /api/devices/v1/deployments/device/deployments/next   → 204 (no update)
 *   POST /api/devices/v2/deployments/device/deployments/next   → 200, instructions whose
 *                                      presigned link points at this origin (NEXT_ARTIFACT_PATH):
 *                                      the gateway rewrites and signs it, nginx relays it as is
 *   PUT  /api/devices/v1/inventory/device/attributes            → 200, empty
 *   GET  /api/devices/v1/deviceconfig/configuration            → small JSON
 *
 * Bytes of artifact bodies sent are counted per tag.
 */
export interface Origin {
  url: string;
  port: number;
  /** Artifact body bytes sent, per URL tag. */
  bytesSent(tag: string): number;
  requests(tag: string): number;
  /** TCP connections accepted so far (a relay that does not reuse them shows here). */
  connections(): number;
  close(): Promise<void>;
}

const CONFIGURATION = Buffer.from(
  JSON.stringify({ timezone: 'UTC', ntp: 'pool.ntp.org', logLevel: 'info', reportIntervalSeconds: 1800 }),
);

/** Where deployments/next (v2) points devices: an artifact of the bench's files folder. */
export const NEXT_ARTIFACT_PATH = '/artifacts/next/small.mender';

/**
 * A deployments/next answer as Mender sends it (docs/protocol.md §2.2), with an S3-style
 * presigned link (its query is what a real one carries, and must survive byte-exact).
 */
export function nextInstructions(originUrl: string): Buffer {
  const query =
    'X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20261207%2Fus-east-1%2Fs3%2Faws4_request' +
    '&X-Amz-Date=20261207T120000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host' +
    '&response-content-type=application%2Fvnd.mender-artifact' +
    '&X-Amz-Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7';
  return Buffer.from(
    JSON.stringify({
      id: 'f81d4fae-7dec-11d0-a765-00a0c91e6bf6',
      artifact: {
        id: '0c13a0e6-6b63-49d3-b3a6-9d4a1c1f0f43',
        artifact_name: 'release-2026-12-07',
        source: { uri: `${originUrl}${NEXT_ARTIFACT_PATH}?${query}`, expire: '2026-12-08T12:00:00.000Z' },
        device_types_compatible: ['qemux86-64', 'raspberrypi4'],
      },
    }),
  );
}

/** The body of a check for an update, as mender-client 3.x/4.x sends it (docs/protocol.md §2.2). */
export const NEXT_REQUEST_BODY = JSON.stringify({
  device_type: 'qemux86-64',
  artifact_name: 'release-2026-11-30',
  update_control_map: false,
});

/** An inventory submission as mender-client 3.x sends it (a dozen attributes). */
export const INVENTORY_BODY = JSON.stringify([
  { name: 'device_type', value: 'qemux86-64' },
  { name: 'artifact_name', value: 'release-2026-11-30' },
  { name: 'rootfs-image.version', value: 'release-2026-11-30' },
  { name: 'mender_client_version', value: '3.5.2' },
  { name: 'os', value: 'Debian GNU/Linux 12 (bookworm)' },
  { name: 'kernel', value: 'Linux version 6.1.0-28-amd64' },
  { name: 'cpu_model', value: 'Intel(R) Xeon(R) CPU' },
  { name: 'mem_total_kB', value: '2014512' },
  { name: 'hostname', value: 'device-0001' },
  { name: 'mac_eth0', value: '52:54:00:12:34:56' },
  { name: 'ipv4_eth0', value: '10.0.2.15/24' },
  { name: 'network_interfaces', value: ['eth0', 'lo'] },
]);

export async function startOrigin(dir: string, options: { slowBytesPerSecond: number }): Promise<Origin> {
  const sent = new Map<string, number>();
  let next: Buffer | undefined;
  const count = new Map<string, number>();

  const serveArtifact = async (req: IncomingMessage, res: ServerResponse, tag: string, file: string) => {
    const path = join(dir, file);
    const info = await stat(path).catch(() => undefined);
    if (info === undefined || file.includes('/') || file.startsWith('.')) {
      res.writeHead(404).end();
      return;
    }
    count.set(tag, (count.get(tag) ?? 0) + 1);
    const size = info.size;
    let start = 0;
    let end = size - 1;
    let status = 200;
    const range = req.headers.range;
    const headers: Record<string, string | number> = {
      'content-type': 'application/vnd.mender-artifact',
      'accept-ranges': 'bytes',
      etag: `"${info.size.toString(16)}-${Math.floor(info.mtimeMs).toString(16)}"`,
      'last-modified': info.mtime.toUTCString(),
    };
    if (range !== undefined) {
      const match = /^bytes=(\d*)-(\d*)$/.exec(range);
      if (match === null || (match[1] === '' && match[2] === '')) {
        res.writeHead(416, { 'content-range': `bytes */${size}` }).end();
        return;
      }
      if (match[1] === '') {
        start = Math.max(0, size - Number(match[2]));
      } else {
        start = Number(match[1]);
        if (match[2] !== '') end = Math.min(end, Number(match[2]));
      }
      if (start >= size || start > end) {
        res.writeHead(416, { 'content-range': `bytes */${size}` }).end();
        return;
      }
      status = 206;
      headers['content-range'] = `bytes ${start}-${end}/${size}`;
    }
    headers['content-length'] = end - start + 1;
    res.writeHead(status, headers);
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    const stream = createReadStream(path, { start, end, highWaterMark: 256 * 1024 });
    const slow = tag.startsWith('slow');
    const began = Date.now();
    let bytes = 0;
    stream.on('data', (chunk: Buffer | string) => {
      bytes += chunk.length;
      sent.set(tag, (sent.get(tag) ?? 0) + chunk.length);
      if (!res.write(chunk)) {
        stream.pause();
        res.once('drain', () => stream.resume());
      }
      if (slow) {
        const due = (bytes / options.slowBytesPerSecond) * 1000 - (Date.now() - began);
        if (due > 0) {
          stream.pause();
          setTimeout(() => {
            if (res.writableNeedDrain) res.once('drain', () => stream.resume());
            else stream.resume();
          }, due);
        }
      }
    });
    stream.on('end', () => res.end());
    stream.on('error', () => res.destroy());
    res.on('close', () => stream.destroy());
  };

  const server = createServer((req, res) => {
    const url = req.url ?? '/';
    const path = url.split('?')[0] ?? url;
    const artifact = /^\/artifacts\/([A-Za-z0-9._-]+)\/([A-Za-z0-9._-]+)$/.exec(path);
    if (artifact !== null && (req.method === 'GET' || req.method === 'HEAD')) {
      serveArtifact(req, res, artifact[1]!, artifact[2]!).catch(() => res.destroy());
      return;
    }
    // Drain any request body before answering (keep-alive stays usable).
    req.resume();
    req.on('end', () => {
      if (req.method === 'POST' && path === '/api/devices/v1/deployments/device/deployments/next') {
        res.writeHead(204).end();
      } else if (req.method === 'POST' && path === '/api/devices/v2/deployments/device/deployments/next') {
        next ??= nextInstructions(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': next.length });
        res.end(next);
      } else if (req.method === 'PUT' && path === '/api/devices/v1/inventory/device/attributes') {
        res.writeHead(200, { 'content-length': 0 }).end();
      } else if (req.method === 'GET' && path === '/api/devices/v1/deviceconfig/configuration') {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': CONFIGURATION.length });
        res.end(CONFIGURATION);
      } else {
        res.writeHead(404, { 'content-length': 0 }).end();
      }
    });
  });
  let connections = 0;
  server.on('connection', () => connections++);
  server.keepAliveTimeout = 120_000;
  server.headersTimeout = 130_000;
  server.requestTimeout = 0;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    bytesSent: (tag) => sent.get(tag) ?? 0,
    requests: (tag) => count.get(tag) ?? 0,
    connections: () => connections,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
