import { createServer as createHttpServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';

export interface Listener {
  server: Server;
  /** `scheme://host:port`, no trailing slash. */
  url: string;
  close(): Promise<void>;
}

export interface ListenOptions {
  host: string;
  tls: { cert: string; key: string } | undefined;
  onRequest: (req: IncomingMessage, res: ServerResponse) => void;
  onUpgrade?: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
  onClientError?: (error: Error & { code?: string }) => void;
}

/**
 * One HTTP/1.1 server (TLS or not) on `host:0`. Idle keep-alive is long like a real load balancer
 * (traefik keeps idle connections for 180 s) so a client's pooled connection is not closed under
 * it mid-test; `close()` destroys every socket, upgraded ones included.
 */
export async function listen(options: ListenOptions): Promise<Listener> {
  const server: Server =
    options.tls === undefined
      ? createHttpServer()
      : createHttpsServer({ cert: options.tls.cert, key: options.tls.key });
  server.keepAliveTimeout = 180_000;
  server.headersTimeout = 60_000;
  // Bodies can be large and slow (logs, throttled tests); no overall request timeout.
  server.requestTimeout = 0;
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('request', options.onRequest);
  if (options.onUpgrade !== undefined) server.on('upgrade', options.onUpgrade);
  server.on('clientError', (error: Error & { code?: string }, socket: Duplex) => {
    options.onClientError?.(error);
    if (socket.writable && error.code !== 'ECONNRESET')
      socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    else socket.destroy();
  });
  // TLS handshake failures (e.g. a client that distrusts our CA) must not crash the test run.
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  return {
    server,
    url: `${options.tls === undefined ? 'http' : 'https'}://${options.host}:${port}`,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      server.closeAllConnections();
      await closed;
    },
  };
}
