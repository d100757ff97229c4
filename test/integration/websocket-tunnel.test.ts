import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { startFakeUpstream } from '../support/fake-upstream/index.js';
import type { FakeUpstream } from '../support/fake-upstream/index.js';
import { startTestGateway } from '../support/test-gateway.js';
import type { TestGateway } from '../support/test-gateway.js';
import { SimulatedDevice } from '../support/simulated-device.js';

const CONNECT_PATH = '/api/devices/v1/deviceconnect/connect';

function open(url: string, jwt?: string): Promise<{ ws: WebSocket } | { status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers: jwt === undefined ? {} : { authorization: `Bearer ${jwt}` } });
    ws.once('open', () => resolve({ ws }));
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    ws.once('error', reject);
  });
}

/** mender-connect's remote-terminal WebSocket through the gateway (docs/protocol.md §2.6). */
describe('WebSocket tunnel', () => {
  let upstream: FakeUpstream;
  let gw: TestGateway;
  const device = new SimulatedDevice('02:00:00:00:ws:01');

  beforeAll(async () => {
    upstream = await startFakeUpstream({ autoAcceptDevices: true });
    gw = await startTestGateway({
      UpstreamServer: { URL: upstream.url, CACertificate: upstream.pki.ca.certPath },
    });
    expect(await device.authenticate(gw.url)).toBe(200);
  });
  afterAll(async () => {
    await gw.close();
    await upstream.close();
  });

  it('round-trips text and binary frames both ways through the tunnel', async () => {
    const opened = await open(`${gw.url.replace('http', 'ws')}${CONNECT_PATH}`, device.jwt);
    if (!('ws' in opened)) throw new Error(`upgrade refused: ${opened.status} ${opened.body}`);
    const { ws } = opened;
    const received: (string | Buffer)[] = [];
    const twoMessages = new Promise<void>((resolve) => {
      ws.on('message', (data: Buffer, isBinary: boolean) => {
        received.push(isBinary ? data : data.toString());
        if (received.length === 2) resolve();
      });
    });
    const binary = Buffer.from([0x82, 0xa4, 0x74, 0x79, 0x70, 0x65, 0x00, 0xff]);
    ws.send('hello through the gateway');
    ws.send(binary);
    await twoMessages;
    expect(received[0]).toBe('hello through the gateway');
    expect(Buffer.isBuffer(received[1]) && binary.equals(received[1])).toBe(true);
    // Pings flow through untouched (the server pings idle tunnels, docs/protocol.md §2.6).
    const pong = new Promise<Buffer>((resolve) => ws.once('pong', resolve));
    ws.ping(Buffer.from('keepalive'));
    expect((await pong).toString()).toBe('keepalive');
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    ws.close(1000);
    expect(await closed).toBe(1000);
    await gw.logs.waitFor((l) => l.msg === 'websocket tunnel closed');
  });

  it('relays an upstream refusal (401 for a missing JWT) as that status with its JSON body', async () => {
    const result = await open(`${gw.url.replace('http', 'ws')}${CONNECT_PATH}`);
    if ('ws' in result) throw new Error('upgrade unexpectedly accepted');
    expect(result.status).toBe(401);
    expect(JSON.parse(result.body)).toHaveProperty('error');
  });

  it('refuses upgrades outside /api/devices/ with 404', async () => {
    const result = await open(
      `${gw.url.replace('http', 'ws')}/api/management/v1/deviceconnect/sessions`,
      device.jwt,
    );
    if ('ws' in result) throw new Error('upgrade unexpectedly accepted');
    expect(result.status).toBe(404);
  });
});
