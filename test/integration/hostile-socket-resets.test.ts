import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { ConnectionOptions } from 'node:tls';
import { request } from 'undici';
import { REPO_ROOT, startServeProcess } from '../support/serve-process.js';
import type { ServeProcess } from '../support/serve-process.js';
import { createTestPki } from '../support/test-pki.js';
import type { CertPair, TestPki } from '../support/test-pki.js';
import { startLoopbackServer } from '../support/loopback-server.js';
import type { LoopbackServer } from '../support/loopback-server.js';

/**
 * A peer on the device network sends a request Node hands over to the gateway as a bare socket
 * (an `Upgrade`, a `CONNECT`) and resets the connection at once. Node has removed its own socket
 * error listener by then (see src/core/server/detached-socket.ts), so the refusal's write met
 * EPIPE/ECONNRESET with no listener and the process exited after 15–30 tries. The built `serve`
 * runs as a child process: a crash is its exit, seen here.
 */

const ATTEMPTS = 300;
const ALIVE = '/api/internal/v1/gateway/alive';

interface Path {
  name: string;
  request: string;
}

const UPGRADE_OUTSIDE_DEVICE_API: Path = {
  name: 'an Upgrade outside /api/devices/** (404)',
  request: 'GET /ui/ HTTP/1.1\r\nHost: gw\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n',
};
const CONNECT: Path = {
  name: 'a CONNECT (405)',
  request: 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n',
};
const DEVICE_UPGRADE: Path = {
  name: 'an Upgrade of the device API (refused for mTLS on HTTP, or tunnelled to a dead upstream)',
  request:
    'GET /api/devices/v1/deviceconnect/connect HTTP/1.1\r\nHost: gw\r\nConnection: Upgrade\r\n' +
    'Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n' +
    'Authorization: Bearer x.y.z\r\n\r\n',
};

/** Write `bytes` and reset the TCP connection right after (or once the first answer bytes arrive). */
function sendAndReset(
  url: string,
  bytes: string,
  when: 'at-once' | 'on-answer',
  tls?: ConnectionOptions,
): Promise<void> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const raw = netConnect(Number(port), hostname);
    const done = (): void => {
      raw.resetAndDestroy();
      resolve();
    };
    raw.on('error', () => resolve());
    raw.on('close', () => resolve());
    const go = (stream: NodeJS.WritableStream & NodeJS.ReadableStream): void => {
      stream.write(bytes);
      if (when === 'at-once') setImmediate(done);
      else stream.once('data', done);
    };
    if (tls === undefined) raw.once('connect', () => go(raw));
    else {
      const secure = tlsConnect({ ...tls, socket: raw, servername: 'gateway.test' });
      secure.on('error', () => resolve());
      secure.once('secureConnect', () => go(secure));
    }
  });
}

async function hammer(url: string, path: Path, tls?: ConnectionOptions): Promise<void> {
  for (let i = 0; i < ATTEMPTS; i++) {
    await sendAndReset(url, path.request, i % 2 === 0 ? 'at-once' : 'on-answer', tls);
  }
}

async function expectAlive(serve: ServeProcess, url: string, tls?: ConnectionOptions): Promise<void> {
  expect(serve.child.exitCode, `serve exited:\n${serve.stderr()}`).toBeNull();
  expect(serve.child.signalCode).toBeNull();
  const { Agent } = await import('undici');
  const dispatcher =
    tls === undefined ? undefined : new Agent({ connect: { ...tls, servername: 'gateway.test' } });
  const res = await request(`${url}${ALIVE}`, dispatcher === undefined ? {} : { dispatcher });
  await res.body.dump();
  await dispatcher?.close();
  expect(res.statusCode).toBe(204);
  expect(serve.stderr()).not.toMatch(/uncaught|Unhandled 'error' event/i);
}

describe('resets after a refused upgrade or CONNECT never stop serve', () => {
  let dir: string;
  let pki: TestPki;
  let server: CertPair;
  let device: CertPair;
  let deadUpstream: LoopbackServer;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mgw-resets-'));
    pki = await createTestPki({ name: 'hostile-socket-resets CA' });
    server = await pki.issueServer('gateway.test', { dns: ['gateway.test'], ips: ['127.0.0.1'] });
    device = await pki.issueClient('device-1');
    // An upstream that accepts and drops every connection: tunnels fail at once.
    deadUpstream = await startLoopbackServer((req) => req.socket.destroy());
  });
  afterAll(async () => {
    await deadUpstream.close();
    await pki.cleanup();
    await rm(dir, { recursive: true, force: true });
  });

  async function serveWith(name: string, conf: Record<string, unknown>): Promise<ServeProcess> {
    const file = join(dir, `${name}.conf`);
    await writeFile(
      file,
      JSON.stringify({
        HTTP: { Enabled: true, Listen: '127.0.0.1:0' },
        HTTPS: {
          Enabled: true,
          Listen: '127.0.0.1:0',
          ServerCertificate: server.certPath,
          ServerKey: server.keyPath,
        },
        UpstreamServer: { URL: deadUpstream.url },
        ...conf,
      }),
    );
    return startServeProcess(file, { listeners: 2 });
  }

  describe('the quickstart shape (no mTLS)', () => {
    let serve: ServeProcess;
    beforeAll(async () => {
      serve = await serveWith('plain', {});
    });
    afterAll(async () => {
      await serve.stop();
    });

    for (const path of [UPGRADE_OUTSIDE_DEVICE_API, CONNECT, DEVICE_UPGRADE]) {
      it(`HTTP: ${String(ATTEMPTS)} resets after ${path.name}`, async () => {
        await hammer(serve.urls.http!, path);
        await expectAlive(serve, serve.urls.http!);
      });
      it(`HTTPS: ${String(ATTEMPTS)} resets after ${path.name}`, async () => {
        const tls = { ca: pki.ca.certPem };
        await hammer(serve.urls.https!, path, tls);
        await expectAlive(serve, serve.urls.https!, tls);
      });
    }
  });

  describe('the quickstart config, as a new user runs it', () => {
    let serve: ServeProcess;
    beforeAll(async () => {
      // docs/examples/quickstart.conf as shipped, but on a free port, in front of a loopback
      // upstream, with its cache in a temp folder.
      const quickstart = JSON.parse(
        await readFile(join(REPO_ROOT, 'docs/examples/quickstart.conf'), 'utf8'),
      ) as Record<string, Record<string, unknown>>;
      const file = join(dir, 'quickstart.conf');
      const features = quickstart.Features as { ArtifactsProxy: { ArtifactsCache: { Path: string } } };
      features.ArtifactsProxy.ArtifactsCache.Path = join(dir, 'quickstart-cache');
      await writeFile(
        file,
        JSON.stringify({
          ...quickstart,
          $schema: undefined,
          HTTP: { ...quickstart.HTTP, Listen: '127.0.0.1:0' },
          UpstreamServer: { URL: deadUpstream.url },
        }),
      );
      serve = await startServeProcess(file);
    });
    afterAll(async () => {
      await serve.stop();
    });

    it('1,000 resets after a refused upgrade and 1,000 after a CONNECT leave it alive and answering', async () => {
      for (let i = 0; i < 1000; i++)
        await sendAndReset(
          serve.urls.http!,
          UPGRADE_OUTSIDE_DEVICE_API.request,
          i % 2 === 0 ? 'at-once' : 'on-answer',
        );
      await expectAlive(serve, serve.urls.http!);
      for (let i = 0; i < 1000; i++)
        await sendAndReset(serve.urls.http!, CONNECT.request, i % 2 === 0 ? 'at-once' : 'on-answer');
      await expectAlive(serve, serve.urls.http!);
    });
  });

  describe('an Upgrade pipelined behind a request still being answered', () => {
    let serve: ServeProcess;
    beforeAll(async () => {
      serve = await serveWith('pipelined', {});
    });
    afterAll(async () => {
      await serve.stop();
    });

    // Node emits 'upgrade' while the earlier request's response still owns the socket; binding a
    // second response to it threw ERR_HTTP_SOCKET_ASSIGNED out of the event handler.
    const PIPELINED: Path = {
      name: 'a device request followed at once by an Upgrade on the same connection',
      request:
        'GET /api/devices/v1/deviceconfig/configuration HTTP/1.1\r\nHost: gw\r\n\r\n' +
        UPGRADE_OUTSIDE_DEVICE_API.request,
    };
    it(`HTTP and HTTPS: ${String(ATTEMPTS)} times ${PIPELINED.name}`, async () => {
      await hammer(serve.urls.http!, PIPELINED);
      await hammer(serve.urls.https!, PIPELINED, { ca: pki.ca.certPem });
      await expectAlive(serve, serve.urls.http!);
    });
  });

  describe('mTLS on: the device API upgrade is refused on HTTP', () => {
    let serve: ServeProcess;
    beforeAll(async () => {
      serve = await serveWith('mtls', {
        Features: {
          mTLS: {
            Enabled: true,
            CACertificate: pki.ca.certPath,
            MenderUsername: 'admin@example.com',
            MenderPassword: 'not-used-here',
          },
        },
      });
    });
    afterAll(async () => {
      await serve.stop();
    });

    it(`HTTP: ${String(ATTEMPTS)} resets after an upgrade refused for mTLS (403)`, async () => {
      await hammer(serve.urls.http!, DEVICE_UPGRADE);
      await expectAlive(serve, serve.urls.http!);
    });
    it(`HTTPS with a device certificate: ${String(ATTEMPTS)} resets after upgrades and CONNECTs`, async () => {
      const tls = { ca: pki.ca.certPem, cert: device.certPem, key: device.keyPem };
      for (const path of [UPGRADE_OUTSIDE_DEVICE_API, CONNECT, DEVICE_UPGRADE])
        await hammer(serve.urls.https!, path, tls);
      await expectAlive(serve, serve.urls.https!, tls);
    });
  });
});
