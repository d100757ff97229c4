import { once } from 'node:events';
import { createConnection, createServer } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { endWithRawResponse, rawResponseHead } from '../../../src/core/http/raw-response.js';

describe('answers written straight to a socket', () => {
  it("take the reason phrase from Node's STATUS_CODES unless one is relayed", () => {
    expect(rawResponseHead(431, [])).toBe('HTTP/1.1 431 Request Header Fields Too Large\r\n\r\n');
    expect(rawResponseHead(413, ['a', '1'])).toBe('HTTP/1.1 413 Payload Too Large\r\na: 1\r\n\r\n');
    expect(rawResponseHead(403, [], 'Nope')).toBe('HTTP/1.1 403 Nope\r\n\r\n');
    // An unknown status keeps a well-formed status line (RFC 9112 §4: the reason may be empty).
    expect(rawResponseHead(599, [])).toBe('HTTP/1.1 599 \r\n\r\n');
  });

  const servers: ReturnType<typeof createServer>[] = [];
  afterEach(() => {
    for (const s of servers) s.close();
  });

  async function socketPair(): Promise<{ server: Socket; client: Socket }> {
    const srv = createServer();
    servers.push(srv);
    srv.listen(0, '127.0.0.1');
    await once(srv, 'listening');
    const client = createConnection((srv.address() as AddressInfo).port, '127.0.0.1');
    const [server] = (await once(srv, 'connection')) as [Socket];
    return { server, client };
  }

  it('send length and connection: close, then close the socket once flushed', async () => {
    const { server, client } = await socketPair();
    const chunks: Buffer[] = [];
    client.on('data', (c: Buffer) => chunks.push(c));
    const closed = once(server, 'close');
    endWithRawResponse(server, 405, '{"error":"no"}', ['allow', 'GET']);
    await once(client, 'end');
    await closed;
    expect(Buffer.concat(chunks).toString()).toBe(
      'HTTP/1.1 405 Method Not Allowed\r\nallow: GET\r\ncontent-length: 14\r\nconnection: close\r\n\r\n{"error":"no"}',
    );
    expect(server.destroyed).toBe(true);
    client.destroy();
  });

  it('destroy a socket that can no longer be written', async () => {
    const { server, client } = await socketPair();
    server.end();
    endWithRawResponse(server, 400, 'x', []);
    expect(server.destroyed).toBe(true);
    client.destroy();
  });
});
