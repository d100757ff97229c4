import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import type { IncomingHttpHeaders } from 'node:http';
import { startLoopbackServer } from '../support/loopback-server.js';
import type { LoopbackServer } from '../support/loopback-server.js';
import { rawExchange } from '../support/raw-http.js';
import { startTestGateway } from '../support/test-gateway.js';
import type { TestGateway } from '../support/test-gateway.js';
import type { LogLine } from '../support/log-capture.js';

/**
 * Hostile or broken HTTP from the device network: malformed requests, oversized
 * headers, request smuggling and proxy abuse, sent on raw sockets because no HTTP client sends
 * them. Each case ends with a clear answer and one log line, nothing reaches the upstream, and
 * the gateway goes on serving.
 */

interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

const INVENTORY = '/api/devices/v1/inventory/device/attributes';

describe('hostile HTTP on the device listener', () => {
  let upstream: LoopbackServer;
  let gw: TestGateway;
  const seen: Seen[] = [];
  let linesBefore = 0;

  beforeAll(async () => {
    upstream = await startLoopbackServer((req, res) => {
      let body = '';
      req.setEncoding('latin1');
      req.on('data', (c: string) => (body += c));
      req.on('end', () => {
        seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"ok":true}');
      });
    });
    gw = await startTestGateway({ UpstreamServer: { URL: upstream.url } });
  });

  afterAll(async () => {
    await gw.close();
    await upstream.close();
  });

  beforeEach(() => {
    linesBefore = gw.logs.lines.length;
  });

  /** Log lines written since the test started. */
  const newLines = (predicate: (line: LogLine) => boolean): LogLine[] =>
    gw.logs.lines.slice(linesBefore).filter(predicate);

  /** The gateway still relays an ordinary device call. */
  async function stillServes(): Promise<void> {
    const before = seen.length;
    const res = await request(`${gw.url}/api/devices/v1/deviceconfig/configuration`, {
      headers: { authorization: 'Bearer jwt' },
    });
    expect(res.statusCode).toBe(200);
    await res.body.dump();
    expect(seen.length).toBe(before + 1);
  }

  it('answers a garbage request line with 400 and one "malformed request" line', async () => {
    const answer = await rawExchange(gw.url, 'HELLO THERE\r\n\r\n');
    expect(answer.status).toBe(400);
    expect(answer.closed).toBe(true);
    expect(JSON.parse(answer.body)).toEqual({ error: 'malformed request' });
    const lines = newLines((l) => l.msg === 'malformed request');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: 'warn',
      code: 'HPE_INVALID_METHOD',
      status: 400,
      ip: '127.0.0.1',
    });
    await stillServes();
  });

  it.each([
    ['a space in a header name', `GET ${INVENTORY} HTTP/1.1\r\nHost: a\r\nBad Header: x\r\n\r\n`],
    ['a NUL byte in a header value', `GET ${INVENTORY} HTTP/1.1\r\nHost: a\r\nX-A: a\u0000b\r\n\r\n`],
    ['a bare CR inside the header block', `GET ${INVENTORY} HTTP/1.1\r\nHost: a\rX-A: b\r\n\r\n`],
    ['a header line without a colon', `GET ${INVENTORY} HTTP/1.1\r\nHost: a\r\nnocolon\r\n\r\n`],
    ['LF-only line ends', `GET ${INVENTORY} HTTP/1.1\nHost: a\n\n`],
    [
      'a non-numeric chunk size',
      `PUT ${INVENTORY} HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n`,
    ],
  ])('refuses bad header syntax (%s) with 400, logs it, relays nothing', async (_name, bytes) => {
    const before = seen.length;
    const answer = await rawExchange(gw.url, bytes);
    expect(answer.status).toBe(400);
    expect(newLines((l) => l.msg === 'malformed request')).toHaveLength(1);
    expect(seen.length).toBe(before);
    await stillServes();
  });

  it.each([16 * 1024 + 1, 64 * 1024, 1024 * 1024])(
    'answers a %i-byte header with 431 (not a reset), one log line, and serves others',
    async (size) => {
      const before = seen.length;
      const bytes = `GET ${INVENTORY} HTTP/1.1\r\nHost: a\r\nX-Big: ${'a'.repeat(size)}\r\n\r\n`;
      const answer = await rawExchange(gw.url, bytes);
      expect(answer.status).toBe(431);
      expect(answer.text).toMatch(/^HTTP\/1\.1 431 Request Header Fields Too Large\r\n/);
      expect(JSON.parse(answer.body)).toEqual({ error: 'request headers too large' });
      // Node's parser repeats its error for every chunk that follows; the log must not.
      const lines = newLines((l) => l.msg === 'request headers too large');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatchObject({ level: 'warn', code: 'HPE_HEADER_OVERFLOW', status: 431 });
      expect(newLines((l) => l.msg === 'malformed request')).toHaveLength(0);
      expect(seen.length).toBe(before);
      await stillServes();
    },
  );

  describe('request smuggling: Node’s parser refuses every ambiguous framing, nothing reaches upstream', () => {
    const put = (headers: string, body: string): string =>
      `PUT ${INVENTORY} HTTP/1.1\r\nHost: a\r\n${headers}\r\n${body}`;

    it.each([
      [
        'Content-Length and Transfer-Encoding: chunked',
        put('Content-Length: 5\r\nTransfer-Encoding: chunked\r\n', '0\r\n\r\n'),
        'HPE_INVALID_TRANSFER_ENCODING',
      ],
      [
        'Transfer-Encoding: chunked then Content-Length',
        put('Transfer-Encoding: chunked\r\nContent-Length: 5\r\n', '0\r\n\r\n'),
        'HPE_INVALID_CONTENT_LENGTH',
      ],
      [
        'two conflicting Content-Length headers',
        put('Content-Length: 5\r\nContent-Length: 6\r\n', 'hello!'),
        'HPE_UNEXPECTED_CONTENT_LENGTH',
      ],
      [
        'two equal Content-Length headers',
        put('Content-Length: 5\r\nContent-Length: 5\r\n', 'hello'),
        'HPE_UNEXPECTED_CONTENT_LENGTH',
      ],
      [
        'a Content-Length list "5, 5"',
        put('Content-Length: 5, 5\r\n', 'hello'),
        'HPE_INVALID_CONTENT_LENGTH',
      ],
      ['a signed Content-Length "+5"', put('Content-Length: +5\r\n', 'hello'), 'HPE_INVALID_CONTENT_LENGTH'],
      ['a negative Content-Length', put('Content-Length: -1\r\n', ''), 'HPE_INVALID_CONTENT_LENGTH'],
      [
        'Transfer-Encoding: chunked, identity (chunked not last)',
        put('Transfer-Encoding: chunked, identity\r\n', '0\r\n\r\n'),
        'HPE_INVALID_TRANSFER_ENCODING',
      ],
      [
        'Transfer-Encoding: gzip (no chunked on a request)',
        put('Transfer-Encoding: gzip\r\n', 'xx'),
        'HPE_INVALID_TRANSFER_ENCODING',
      ],
      [
        'Transfer-Encoding: xchunked',
        put('Transfer-Encoding: xchunked\r\n', '0\r\n\r\n'),
        'HPE_INVALID_TRANSFER_ENCODING',
      ],
      [
        'two Transfer-Encoding: chunked headers',
        put('Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n', '0\r\n\r\n'),
        'HPE_INVALID_TRANSFER_ENCODING',
      ],
      [
        'a space before the colon of Transfer-Encoding',
        put('Transfer-Encoding : chunked\r\n', '0\r\n\r\n'),
        'HPE_INVALID_HEADER_TOKEN',
      ],
      [
        'an obs-fold continuation line',
        put('X-Folded: one\r\n two\r\nContent-Length: 0\r\n', ''),
        'HPE_INVALID_HEADER_TOKEN',
      ],
      [
        'Transfer-Encoding folded onto the next line',
        put('Transfer-Encoding:\r\n chunked\r\n', '0\r\n\r\n'),
        'HPE_INVALID_HEADER_TOKEN',
      ],
      [
        'a chunk extension ending in a bare LF',
        put('Transfer-Encoding: chunked\r\n', '5;x\nhello\r\n0\r\n\r\n'),
        'HPE_CR_EXPECTED',
      ],
    ])('refuses %s with 400', async (_name, bytes, code) => {
      const before = seen.length;
      const answer = await rawExchange(gw.url, bytes);
      expect(answer.status).toBe(400);
      expect(answer.closed).toBe(true);
      const lines = newLines((l) => l.msg === 'malformed request');
      expect(lines).toHaveLength(1);
      expect(lines[0]?.code).toBe(code);
      expect(seen.length).toBe(before);
      await stillServes();
    });

    it('re-frames "Transfer-Encoding: identity, chunked" (valid: chunked is last): upstream sees one request and the exact body', async () => {
      const before = seen.length;
      const answer = await rawExchange(
        gw.url,
        put('Transfer-Encoding: identity, chunked\r\nConnection: close\r\n', '5\r\nhello\r\n0\r\n\r\n'),
      );
      expect(answer.status).toBe(200);
      expect(seen.length).toBe(before + 1);
      const relayed = seen.at(-1)!;
      expect(relayed.body).toBe('hello');
      // Hop-by-hop: the device's framing never crosses; undici frames the body itself.
      expect(relayed.headers['transfer-encoding'] ?? '').not.toContain('identity');
    });

    it('relays a request hidden in a body as that body, never as a second request', async () => {
      const before = seen.length;
      const hidden = 'GET /api/management/v1/useradm/users HTTP/1.1\r\nHost: upstream\r\n\r\n';
      const answer = await rawExchange(
        gw.url,
        put(`Content-Length: ${hidden.length}\r\nConnection: close\r\n`, hidden),
      );
      expect(answer.status).toBe(200);
      expect(seen.length).toBe(before + 1);
      expect(seen.at(-1)).toMatchObject({ method: 'PUT', url: INVENTORY, body: hidden });
      expect(seen.some((s) => s.url.startsWith('/api/management/'))).toBe(false);
    });

    it('answers a pipelined second request after a complete first one, and relays both in order', async () => {
      const before = seen.length;
      const answer = await rawExchange(
        gw.url,
        `${put('Content-Length: 2\r\n', '[]')}GET /api/devices/v1/deviceconfig/configuration HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n`,
      );
      expect(answer.text.match(/HTTP\/1\.1 200 OK/g)).toHaveLength(2);
      expect(seen.slice(before).map((s) => s.method)).toEqual(['PUT', 'GET']);
    });
  });

  describe('the gateway is never a forward proxy', () => {
    it('answers an absolute-form target with 404 and relays nothing', async () => {
      const before = seen.length;
      const answer = await rawExchange(
        gw.url,
        'GET http://169.254.169.254/api/devices/v1/x HTTP/1.1\r\nHost: 169.254.169.254\r\nConnection: close\r\n\r\n',
      );
      expect(answer.status).toBe(404);
      expect(seen.length).toBe(before);
      await stillServes();
    });

    it('answers CONNECT with 405 and a log line naming who asked', async () => {
      const before = seen.length;
      const answer = await rawExchange(
        gw.url,
        'CONNECT internal.example:443 HTTP/1.1\r\nHost: internal.example:443\r\n\r\n',
      );
      expect(answer.status).toBe(405);
      expect(answer.closed).toBe(true);
      const line = await gw.logs.waitFor((l) => l.msg.startsWith('CONNECT refused'));
      expect(line).toMatchObject({ level: 'warn', ip: '127.0.0.1', target: 'internal.example:443' });
      expect(seen.length).toBe(before);
      await stillServes();
    });
  });

  it('answers an HTTP/1.1 request without Host with 400 (Node itself), relaying nothing', async () => {
    const before = seen.length;
    const answer = await rawExchange(gw.url, `GET ${INVENTORY} HTTP/1.1\r\n\r\n`);
    expect(answer.status).toBe(400);
    expect(seen.length).toBe(before);
    await stillServes();
  });

  it('treats a device that disconnects mid-headers as gone, not as an attack (debug only)', async () => {
    const answer = await rawExchange(gw.url, `GET ${INVENTORY} HTTP/1.1\r\nHost: a\r\nX-Part`, {
      end: true,
      waitMs: 2_000,
    });
    expect(answer.status).toBe(0);
    await stillServes();
    const lines = newLines(
      (l) => l.msg === 'device connection closed mid-request' || l.msg === 'malformed request',
    );
    expect(lines.every((l) => l.level === 'debug')).toBe(true);
  });
});
