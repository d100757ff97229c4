import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Socket } from 'node:net';
import { Agent, request } from 'undici';
import { startLoopbackServer } from '../support/loopback-server.js';
import type { LoopbackServer } from '../support/loopback-server.js';
import { openIdleConnection, rawExchange } from '../support/raw-http.js';
import { createTestPki } from '../support/test-pki.js';
import type { TestPki } from '../support/test-pki.js';
import { startTestGateway } from '../support/test-gateway.js';
import type { TestGateway } from '../support/test-gateway.js';
import { waitUntil } from '../support/wait-until.js';

/**
 * Clients that hold connections instead of using them: slow headers
 * (slowloris), TLS handshakes that never finish, and one address opening connection after
 * connection. `DeviceConnections.HeadersTimeout` and `DeviceConnections.MaxPerIP` bound them;
 * every other device keeps being served.
 */

const ALIVE = '/api/internal/v1/gateway/alive';
const HEADERS_TIMEOUT_MS = 1_000;

async function world(conf: Record<string, unknown>): Promise<{
  upstream: LoopbackServer;
  pki: TestPki;
  gw: TestGateway;
}> {
  const upstream = await startLoopbackServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{}');
  });
  const pki = await createTestPki({ name: 'hostile-connections CA' });
  const server = await pki.issueServer('gateway.test', { dns: ['gateway.test'], ips: ['127.0.0.1'] });
  const gw = await startTestGateway({
    UpstreamServer: { URL: upstream.url },
    HTTP: { Enabled: true, Listen: '127.0.0.1:0' },
    HTTPS: {
      Enabled: true,
      Listen: '127.0.0.1:0',
      ServerCertificate: server.certPath,
      ServerKey: server.keyPath,
    },
    ...conf,
  });
  return { upstream, pki, gw };
}

describe('slow-header clients (DeviceConnections.HeadersTimeout)', () => {
  let upstream: LoopbackServer;
  let pki: TestPki;
  let gw: TestGateway;
  let tlsAgent: Agent;

  beforeAll(async () => {
    ({ upstream, pki, gw } = await world({
      DeviceConnections: { HeadersTimeout: `${HEADERS_TIMEOUT_MS}ms` },
    }));
    tlsAgent = new Agent({ connect: { ca: pki.ca.certPem } });
  });
  afterAll(async () => {
    await tlsAgent.close();
    await gw.close();
    await upstream.close();
    await pki.cleanup();
  });

  async function aliveOver(url: string, dispatcher?: Agent): Promise<number> {
    const res = await request(`${url}${ALIVE}`, dispatcher === undefined ? {} : { dispatcher });
    await res.body.dump();
    return res.statusCode;
  }

  it('answers a client that trickles header lines forever with 408 after the timeout, while others are served', async () => {
    const before = gw.logs.lines.length;
    const pieces = ['GET /api/devices/v1/deviceconfig/configuration HTTP/1.1\r\nHost: gw\r\n'];
    for (let i = 0; i < 50; i++) pieces.push(`X-Slow-${i}: a\r\n`);
    const slow = rawExchange(gw.url, '', { pieces, pauseMs: 200, waitMs: 8_000 });
    // Others meanwhile: plain and TLS.
    expect(await aliveOver(gw.httpUrl!)).toBe(204);
    expect(await aliveOver(gw.httpsUrl!, tlsAgent)).toBe(204);
    const answer = await slow;
    expect(answer.status).toBe(408);
    expect(answer.closed).toBe(true);
    expect(JSON.parse(answer.body)).toEqual({ error: 'request headers timeout' });
    const lines = gw.logs.lines.slice(before).filter((l) => l.msg === 'request headers timeout');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: 'warn',
      code: 'ERR_HTTP_REQUEST_TIMEOUT',
      status: 408,
      ip: '127.0.0.1',
    });
    expect(await aliveOver(gw.httpUrl!)).toBe(204);
  });

  it('answers a connection that never sends a byte with 408 after the timeout', async () => {
    const answer = await rawExchange(gw.url, '', { pieces: [], waitMs: 8_000 });
    expect(answer.status).toBe(408);
    expect(JSON.parse(answer.body)).toEqual({ error: 'request headers timeout' });
  });

  it('answers slow headers inside a finished TLS handshake with 408 too', async () => {
    const answer = await rawExchange(gw.httpsUrl!, '', {
      tls: { ca: pki.ca.certPem, servername: 'gateway.test' },
      pieces: ['GET /api/devices/v1/x HTTP/1.1\r\n', 'Host: gw\r\n'],
      pauseMs: 300,
      waitMs: 8_000,
    });
    expect(answer.status).toBe(408);
    const line = await gw.logs.waitFor((l) => l.msg === 'request headers timeout' && l.listener === 'https');
    expect(line.code).toBe('ERR_HTTP_REQUEST_TIMEOUT');
  });

  it('closes a TLS connection whose handshake never starts after the same timeout, with a log line', async () => {
    const before = gw.logs.lines.length;
    const answer = await rawExchange(gw.httpsUrl!, '', { pieces: [], waitMs: 8_000 });
    expect(answer.closed).toBe(true);
    expect(answer.text).toBe('');
    await waitUntil('the handshake timeout log line', () =>
      gw.logs.lines.slice(before).some((l) => l.msg === 'TLS handshake failed'),
    );
    const line = gw.logs.lines.slice(before).find((l) => l.msg === 'TLS handshake failed')!;
    expect(line).toMatchObject({ level: 'warn', code: 'ERR_TLS_HANDSHAKE_TIMEOUT' });
    expect(await aliveOver(gw.httpsUrl!, tlsAgent)).toBe(204);
  });
});

describe('too many connections from one address (DeviceConnections.MaxPerIP)', () => {
  const LIMIT = 3;
  let upstream: LoopbackServer;
  let pki: TestPki;
  let gw: TestGateway;
  const held: Socket[] = [];
  const agents: Agent[] = [];

  beforeAll(async () => {
    ({ upstream, pki, gw } = await world({ DeviceConnections: { MaxPerIP: LIMIT } }));
  });
  afterAll(async () => {
    for (const s of held) s.destroy();
    await Promise.all(agents.map((a) => a.close()));
    await gw.close();
    await upstream.close();
    await pki.cleanup();
  });

  const limitLines = (): Record<string, unknown>[] =>
    gw.logs.lines.filter((l) => l.msg.startsWith('too many connections from one address'));

  it('refuses connections over the limit at once, with one warning naming the address, and serves everyone else', async () => {
    for (let i = 0; i < LIMIT; i++) held.push(await openIdleConnection(gw.httpUrl!));

    // Over the limit: closed before a byte is read, on either listener (counted together).
    const refused = await rawExchange(gw.httpUrl!, `GET ${ALIVE} HTTP/1.1\r\nHost: gw\r\n\r\n`, {
      waitMs: 3_000,
    });
    expect(refused.closed).toBe(true);
    expect(refused.status).toBe(0);
    const refusedTls = await rawExchange(gw.httpsUrl!, `GET ${ALIVE} HTTP/1.1\r\nHost: gw\r\n\r\n`, {
      tls: { ca: pki.ca.certPem, servername: 'gateway.test' },
      waitMs: 3_000,
    });
    expect(refusedTls.closed).toBe(true);
    expect(refusedTls.status).toBe(0);

    // A flood does not flood the log: one line per address per 10 s.
    await Promise.all(
      Array.from({ length: 40 }, () => rawExchange(gw.httpUrl!, '', { pieces: [], waitMs: 3_000 })),
    );
    const lines = limitLines();
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: 'warn',
      ip: '127.0.0.1',
      limit: LIMIT,
      open: LIMIT,
      listener: 'http',
    });
    // Refused before TLS: no handshake failures are reported for them.
    expect(gw.logs.lines.filter((l) => l.msg === 'TLS handshake failed')).toHaveLength(0);

    // Another device (another address) is served, on both listeners.
    const other = new Agent({ localAddress: '127.0.0.2', connect: { ca: pki.ca.certPem } });
    agents.push(other);
    for (const url of [gw.httpUrl!, gw.httpsUrl!]) {
      const res = await request(`${url}/api/devices/v1/deviceconfig/configuration`, { dispatcher: other });
      expect(res.statusCode).toBe(200);
      await res.body.dump();
    }

    // The connections already open keep working.
    const first = held[0]!;
    const reply = await new Promise<string>((resolve) => {
      first.once('data', (chunk: Buffer) => resolve(chunk.toString('latin1')));
      first.write(`GET ${ALIVE} HTTP/1.1\r\nHost: gw\r\n\r\n`);
    });
    expect(reply).toMatch(/^HTTP\/1\.1 204 /);
  });

  it('admits the address again once its connections close', async () => {
    for (const s of held.splice(0)) s.destroy();
    // The count drops as the gateway sees each close; retry until it has.
    let status = 0;
    const deadline = Date.now() + 5_000;
    while (status !== 204 && Date.now() < deadline) {
      const answer = await rawExchange(
        gw.httpUrl!,
        `GET ${ALIVE} HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n`,
        {
          waitMs: 2_000,
        },
      );
      status = answer.status;
    }
    expect(status).toBe(204);
  });
});
