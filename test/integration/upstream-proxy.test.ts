import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { connect } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { request } from 'undici';
import { startFakeUpstream } from '../support/fake-upstream/index.js';
import type { FakeUpstream } from '../support/fake-upstream/index.js';
import { startTestGateway } from '../support/test-gateway.js';

/** A minimal HTTP CONNECT proxy that records where it was asked to tunnel to. */
async function startConnectProxy(): Promise<{ url: string; targets: string[]; close(): Promise<void> }> {
  const targets: string[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((_req, res) => res.writeHead(405).end());
  server.on('connect', (req, client: Socket, head: Buffer) => {
    targets.push(req.url ?? '');
    const [host, port] = (req.url ?? '').split(':');
    const upstream = connect(Number(port), host, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    targets,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('outbound proxy for the upstream link (docs/protocol.md §6.5)', () => {
  let upstream: FakeUpstream;
  let proxy: Awaited<ReturnType<typeof startConnectProxy>>;

  beforeAll(async () => {
    upstream = await startFakeUpstream({ autoAcceptDevices: true });
    proxy = await startConnectProxy();
  });
  afterAll(async () => {
    await proxy.close();
    await upstream.close();
  });

  const conf = (): Record<string, unknown> => ({
    UpstreamServer: { URL: upstream.url, CACertificate: upstream.pki.ca.certPath },
  });
  const upstreamHostPort = (): string => new URL(upstream.url).host;

  it('tunnels upstream HTTPS through HTTPS_PROXY when it is set', async () => {
    const gw = await startTestGateway(conf(), { env: { HTTPS_PROXY: proxy.url } });
    try {
      const before = proxy.targets.length;
      const res = await request(`${gw.url}/api/devices/v1/deviceconfig/configuration`);
      // No JWT: the fake upstream answers 401, which proves the request got there.
      expect(res.statusCode).toBe(401);
      await res.body.dump();
      expect(proxy.targets.slice(before)).toContain(upstreamHostPort());
    } finally {
      await gw.close();
    }
  });

  it('honours lower-case https_proxy and bypasses the proxy for NO_PROXY hosts (comma or space separated)', async () => {
    const viaLower = await startTestGateway(conf(), { env: { https_proxy: proxy.url } });
    try {
      const before = proxy.targets.length;
      const res = await request(`${viaLower.url}/api/devices/v1/deviceconfig/configuration`);
      await res.body.dump();
      expect(proxy.targets.length).toBeGreaterThan(before);
    } finally {
      await viaLower.close();
    }

    const bypass = await startTestGateway(conf(), {
      env: { HTTPS_PROXY: proxy.url, NO_PROXY: 'example.com 127.0.0.1' },
    });
    try {
      const before = proxy.targets.length;
      const res = await request(`${bypass.url}/api/devices/v1/deviceconfig/configuration`);
      expect(res.statusCode).toBe(401);
      await res.body.dump();
      expect(proxy.targets.length).toBe(before);
    } finally {
      await bypass.close();
    }
  });

  it('never logs proxy credentials', async () => {
    const withCreds = proxy.url.replace('http://', 'http://user:proxy-pass-123@');
    const gw = await startTestGateway(conf(), { env: { HTTPS_PROXY: withCreds } });
    try {
      expect(gw.logs.find((l) => l.msg === 'outbound proxy configured')).toBeDefined();
      expect(gw.logs.raw.join('\n')).not.toContain('proxy-pass-123');
    } finally {
      await gw.close();
    }
  });
});
