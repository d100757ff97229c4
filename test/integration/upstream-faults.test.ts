import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { once } from 'node:events';
import { createServer as createHttpServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';
import { Readable } from 'node:stream';
import { brotliCompressSync, constants as zlibConstants, gzipSync } from 'node:zlib';
import { request } from 'undici';
import type { FakeUpstream } from '../support/fake-upstream/index.js';
import { callAsDevice, GATEWAY_ARTIFACTS, sha256 } from '../support/device-answer.js';
import type { DeviceAnswer } from '../support/device-answer.js';
import { startCacheScenario, DEVICE_TYPE } from '../support/cache-scenario.js';
import type { CacheScenario } from '../support/cache-scenario.js';
import { pollNext } from '../support/simulated-device.js';
import type { SimulatedDevice } from '../support/simulated-device.js';
import { closedPort } from '../support/loopback-server.js';
import { startTestGateway } from '../support/test-gateway.js';
import type { TestGateway } from '../support/test-gateway.js';

/**
 * Upstream faults: the Mender server's connection dropping before, during
 * and after its answer, resets, silence, and malformed deployments/next answers. Every fault
 * is answered with a 502/504 JSON error or a cut connection (never a short body that looks
 * complete, never a 500), and the gateway goes on serving other devices. Storage faults are
 * in storage-faults.test.ts.
 *
 * Already covered elsewhere, not repeated here: upstream refusing connections (502
 * "unreachable (ECONNREFUSED)") and upstream not answering a relayed call in time (504, other
 * requests unaffected) in relay.test.ts; a non-whitelisted storage host on deployments/next
 * in cache mode, and gzip answers that decode, in artifact-proxy.test.ts.
 */

const NEXT = '/api/devices/v2/deployments/device/deployments/next';
const INVENTORY = '/api/devices/v1/inventory/device/attributes';
const provides = { device_type: DEVICE_TYPE, artifact_name: 'initial' };
const call = callAsDevice;

function errorOf(answer: Pick<DeviceAnswer, 'headers' | 'body'>): string {
  expect(answer.headers['content-type']).toMatch(/^application\/json/);
  return (JSON.parse(answer.body.toString('utf8')) as { error: string }).error;
}

/**
 * Answer the next upstream request that `match`es with `handler` instead of the fake server's
 * routes (once: later requests are served normally). Resolves with that request.
 */
function answerOnce(
  upstream: FakeUpstream,
  match: (req: IncomingMessage) => boolean,
  handler: (req: IncomingMessage, res: ServerResponse) => void | Promise<void>,
): Promise<IncomingMessage> {
  return new Promise((resolve) => {
    const remove = upstream.intercept(async (req, res) => {
      if (!match(req)) return false;
      remove();
      resolve(req);
      await handler(req, res);
      return true;
    });
  });
}

const isNext = (req: IncomingMessage): boolean => req.url?.split('?')[0] === NEXT;
const isInventory = (req: IncomingMessage): boolean => req.url?.split('?')[0] === INVENTORY;

/** Write and resolve once the bytes are handed to the socket, so a following destroy cannot drop them. */
function written(res: ServerResponse, data: Buffer): Promise<void> {
  return new Promise((resolve) => res.write(data, () => resolve()));
}

/** Current value of `mender_gw_upstream_errors_total{code}` (the gateway's error code, counted). */
async function upstreamErrors(metricsUrl: string, code: string): Promise<number> {
  const text = await (await request(metricsUrl)).body.text();
  const line = text.split('\n').find((l) => l.startsWith(`mender_gw_upstream_errors_total{code="${code}"}`));
  return line === undefined ? 0 : Number(line.split(' ').pop());
}

/** deployments/next instructions as the Mender server sends them, for a given link. */
function instructions(uri: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: 'dep-fault',
    artifact: {
      id: 'art-fault',
      artifact_name: 'fault',
      source: { uri, expire: '2099-01-01T00:00:00Z' },
      device_types_compatible: [DEVICE_TYPE],
    },
    ...extra,
  };
}

/**
 * No fault may surface as a gateway bug: a 500 MGW_INTERNAL or "relay failed" in the log lines
 * each test added, or an uncaught error (which would end `serve`).
 */
function watchForInternalErrors(gateway: () => TestGateway): void {
  let mark = 0;
  beforeEach(() => {
    mark = gateway().logs.lines.length;
  });
  afterEach(() => {
    const bugs = gateway()
      .logs.lines.slice(mark)
      .filter(
        (l) => l.msg === 'relay failed' || l.status === 500 || JSON.stringify(l).includes('unexpected error'),
      );
    expect(bugs).toEqual([]);
  });
}

describe('the Mender server failing mid-exchange', () => {
  let s: CacheScenario;
  let device: SimulatedDevice;
  let artifactSha: string;

  beforeAll(async () => {
    s = await startCacheScenario({ metrics: true });
    // Short upstream timeouts, so silence turns into a 504 within the test (docs/protocol.md §7 "Timeouts").
    s.conf.UpstreamServer = {
      ...(s.conf.UpstreamServer as Record<string, unknown>),
      ResponseTimeout: '1s',
      BodyIdleTimeout: '1s',
    };
    await s.restartGateway();
    device = await s.newDevice();
    artifactSha = s.addArtifact('faults-ok', 64 * 1024).sha256;
  });
  watchForInternalErrors(() => s.gw);
  afterAll(async () => {
    await s.close();
  });

  /** Another device authenticates, gets a gateway link and the whole artifact on it. */
  async function anotherDeviceIsServed(): Promise<void> {
    const other = await s.newDevice();
    const answer = await pollNext(s.gw.url, other, provides);
    expect(answer.status).toBe(200);
    const uri = answer.json!.artifact.source.uri;
    expect(uri.startsWith(`${s.gatewayUrl}${GATEWAY_ARTIFACTS}`)).toBe(true);
    const download = await call(uri);
    expect(download.status).toBe(200);
    expect(download.cut).toBeUndefined();
    expect(sha256(download.body)).toBe(artifactSha);
  }

  it('connection closed before any answer to deployments/next: 502 JSON counted as MGW_UPSTREAM_UNREACHABLE', async () => {
    const before = await upstreamErrors(s.metricsUrl!, 'MGW_UPSTREAM_UNREACHABLE');
    void answerOnce(s.upstream, isNext, (_req, res) => {
      res.socket?.destroy();
    });
    const answer = await pollNext(s.gw.url, device, provides);
    expect(answer.status).toBe(502);
    expect(answer.headers['content-length']).toBe(String(answer.body.length));
    expect(errorOf(answer)).toMatch(/^upstream https:\/\/127\.0\.0\.1:\d+ unreachable \(/);
    await expect.poll(() => upstreamErrors(s.metricsUrl!, 'MGW_UPSTREAM_UNREACHABLE')).toBe(before + 1);
    await anotherDeviceIsServed();
  });

  it('connection closed right after the headers of deployments/next: 502 JSON, never a 200 with a short body', async () => {
    void answerOnce(s.upstream, isNext, (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': 400 });
      res.flushHeaders();
      // An orderly close (close_notify, FIN) straight after the headers: no body byte.
      res.socket?.end();
    });
    const answer = await pollNext(s.gw.url, device, provides);
    expect(answer.status).toBe(502);
    expect(errorOf(answer)).toMatch(/unreachable \(/);
    await anotherDeviceIsServed();
  });

  it('connection dropped mid-body of deployments/next: 502 JSON, the partial storage link never reaches the device', async () => {
    const link = s.upstream.storageLink(s.upstream.state.artifacts[0]!.id).uri;
    const full = Buffer.from(JSON.stringify(instructions(link)));
    void answerOnce(s.upstream, isNext, async (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': full.length });
      await written(res, full.subarray(0, full.length - 40));
      res.destroy();
    });
    const answer = await pollNext(s.gw.url, device, provides);
    expect(answer.status).toBe(502);
    expect(errorOf(answer)).toMatch(/unreachable \(/);
    expect(answer.body.toString()).not.toContain('X-Amz-Signature');
    await anotherDeviceIsServed();
  });

  it('silence after the headers of deployments/next: 504 after BodyIdleTimeout, and the gateway closes that upstream connection', async () => {
    const intercepted = answerOnce(s.upstream, isNext, async (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': 400 });
      await written(res, Buffer.from('{"id":"dep-slow",'));
      // …and nothing more: the link is up, the server stalls.
    });
    const answer = await pollNext(s.gw.url, device, provides);
    expect(answer.status).toBe(504);
    // The body timer fired (not the headers timer, not the device giving up).
    expect(errorOf(answer)).toMatch(/did not answer in time \(UND_ERR_BODY_TIMEOUT\)/);
    // No socket left hanging towards upstream: the gateway gave up on that connection.
    const socket = (await intercepted).socket;
    if (!socket.destroyed) await once(socket, 'close');
    await anotherDeviceIsServed();
  });

  it('no answer at all to deployments/next: 504 after ResponseTimeout, and the gateway closes that upstream connection', async () => {
    const before = await upstreamErrors(s.metricsUrl!, 'MGW_UPSTREAM_TIMEOUT');
    const intercepted = answerOnce(s.upstream, isNext, () => undefined);
    const answer = await pollNext(s.gw.url, device, provides);
    expect(answer.status).toBe(504);
    expect(errorOf(answer)).toMatch(/did not answer in time \(UND_ERR_HEADERS_TIMEOUT\)/);
    const socket = (await intercepted).socket;
    if (!socket.destroyed) await once(socket, 'close');
    await expect.poll(() => upstreamErrors(s.metricsUrl!, 'MGW_UPSTREAM_TIMEOUT')).toBe(before + 1);
    await anotherDeviceIsServed();
  });

  it('connection dropped while a relayed inventory PATCH body is still arriving: 502 JSON', async () => {
    const intercepted = answerOnce(s.upstream, isInventory, (_req, res) => {
      res.socket?.destroy();
    });
    // 3.x clients send inventory chunked (mender-client-notes) and the relay streams it: the rest
    // of the body is sent only after upstream dropped the connection.
    async function* body(): AsyncGenerator<Buffer> {
      yield Buffer.from('[{"name":"a","value":');
      const { socket } = await intercepted;
      if (!socket.destroyed) await once(socket, 'close');
      yield Buffer.from('"b"}]');
    }
    const answer = await call(`${s.gw.url}${INVENTORY}`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${device.jwt ?? ''}`, 'content-type': 'application/json' },
      body: Readable.from(body()),
    });
    expect(answer.status).toBe(502);
    expect(errorOf(answer)).toMatch(/unreachable \(/);
    // The same call goes through once the server behaves.
    const again = await call(`${s.gw.url}${INVENTORY}`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${device.jwt ?? ''}`, 'content-type': 'application/json' },
      body: '[{"name":"a","value":"b"}]',
    });
    expect(again.status).toBe(200);
    await anotherDeviceIsServed();
  });

  it('connection dropped mid-body of a relayed inventory answer: the device connection is cut after a prefix', async () => {
    const sent = Buffer.from(JSON.stringify({ error: 'x'.repeat(2000), request_id: 'r' }));
    void answerOnce(s.upstream, isInventory, async (req, res) => {
      req.resume();
      res.writeHead(400, { 'content-type': 'application/json', 'content-length': sent.length });
      await written(res, sent.subarray(0, 700));
      res.destroy();
    });
    const answer = await call(`${s.gw.url}${INVENTORY}`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${device.jwt ?? ''}`, 'content-type': 'application/json' },
      body: '[{"name":"a","value":"b"}]',
    });
    // Headers were already relayed: the honest answer is a cut connection, never a short body.
    expect(answer.status).toBe(400);
    expect(answer.headers['content-length']).toBe(String(sent.length));
    expect(answer.cut).toBeDefined();
    expect(answer.body.length).toBeLessThan(sent.length);
    expect(answer.body.equals(sent.subarray(0, answer.body.length))).toBe(true);
    const line = await s.gw.logs.waitFor(
      (l) => l.msg === 'request' && l.path === INVENTORY && l.aborted === true,
    );
    expect(line.error).toMatch(/unreachable \(/);
    await anotherDeviceIsServed();
  });
});

/**
 * A raw TCP upstream, for what a TLS server in Node cannot do: a real reset (RST) and bytes
 * beyond Content-Length on the device API. Requests are GETs without bodies; the path picks the
 * behaviour.
 */
describe('TCP resets and miscounted bodies from the Mender server', () => {
  let server: Server;
  let gw: TestGateway;
  const sockets = new Set<Socket>();
  const OK = Buffer.from('{"ok":true}');
  const BODY = Buffer.alloc(100_000, 0x61);

  function answer(path: string, socket: Socket): void {
    const head = (length: number): string =>
      `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${length}\r\n\r\n`;
    switch (path) {
      case '/api/devices/v1/fault/reset-before-answer':
        socket.resetAndDestroy();
        return;
      case '/api/devices/v1/fault/reset-mid-body':
        socket.write(Buffer.concat([Buffer.from(head(BODY.length)), BODY.subarray(0, 10_000)]), () =>
          socket.resetAndDestroy(),
        );
        return;
      case '/api/devices/v1/fault/fin-mid-body':
        socket.end(Buffer.concat([Buffer.from(head(BODY.length)), BODY.subarray(0, 10_000)]));
        return;
      case '/api/devices/v1/fault/extra-bytes':
        // The declared body, then bytes no response may start with, on the same connection.
        socket.write(Buffer.concat([Buffer.from(head(OK.length)), OK, Buffer.alloc(64, 0xee)]));
        return;
      default:
        socket.write(Buffer.concat([Buffer.from(head(OK.length)), OK]));
    }
  }

  beforeAll(async () => {
    server = createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => undefined);
      let pending = '';
      socket.on('data', (chunk: Buffer) => {
        pending += chunk.toString('latin1');
        for (let end = pending.indexOf('\r\n\r\n'); end !== -1; end = pending.indexOf('\r\n\r\n')) {
          const path = /^[A-Z]+ (\S+)/.exec(pending)?.[1] ?? '/';
          pending = pending.slice(end + 4);
          answer(path, socket);
        }
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    gw = await startTestGateway({ UpstreamServer: { URL: `http://127.0.0.1:${port}` } });
  });
  watchForInternalErrors(() => gw);
  afterAll(async () => {
    await gw.close();
    for (const socket of sockets) socket.destroy();
    server.close();
    await once(server, 'close');
  });

  async function stillRelays(): Promise<void> {
    const answer = await call(`${gw.url}/api/devices/v1/fault/none`);
    expect(answer.status).toBe(200);
    expect(answer.body.equals(OK)).toBe(true);
  }

  it('a reset before any answer: 502 JSON "unreachable (ECONNRESET)", and the next call is relayed', async () => {
    const answer = await call(`${gw.url}/api/devices/v1/fault/reset-before-answer`);
    expect(answer.status).toBe(502);
    expect(errorOf(answer)).toMatch(/unreachable \(ECONNRESET\)/);
    await stillRelays();
  });

  it('a reset mid-body: the device connection is cut after a prefix, never a complete-looking body', async () => {
    const answer = await call(`${gw.url}/api/devices/v1/fault/reset-mid-body`);
    expect(answer.status).toBe(200);
    expect(answer.headers['content-length']).toBe(String(BODY.length));
    expect(answer.cut).toBeDefined();
    expect(answer.body.length).toBeLessThanOrEqual(10_000);
    expect(answer.body.equals(BODY.subarray(0, answer.body.length))).toBe(true);
    await stillRelays();
  });

  it('an orderly close short of Content-Length: the device connection is cut after a prefix', async () => {
    const answer = await call(`${gw.url}/api/devices/v1/fault/fin-mid-body`);
    expect(answer.status).toBe(200);
    expect(answer.cut).toBeDefined();
    expect(answer.body.length).toBeLessThanOrEqual(10_000);
    expect(answer.body.equals(BODY.subarray(0, answer.body.length))).toBe(true);
    await stillRelays();
  });

  it('bytes beyond Content-Length: the device gets exactly the declared body, never the extra bytes', async () => {
    const answer = await call(`${gw.url}/api/devices/v1/fault/extra-bytes`);
    expect(answer.status).toBe(200);
    expect(answer.cut).toBeUndefined();
    expect(answer.body.equals(OK)).toBe(true);
    await stillRelays();
    await stillRelays();
  });
});

/**
 * Malformed deployments/next answers (docs/protocol.md §4.1), in both modes that rewrite the link.
 * What the gateway does (deployment-rewrite.ts, next-rewrite-relay.ts): a body that is not
 * JSON, or JSON without a string `artifact.source.uri`, is relayed untouched (the client
 * rejects it itself, and it carries no link the gateway made); a link that is not a URL, not
 * http(s), or on a host outside DomainWhitelist, and a body that does not decode, is refused
 * with 502. Never a 500, never a gateway link for a host off the whitelist, storage untouched.
 */
interface MalformedCase {
  name: string;
  /** The answer's body, given a genuine presigned storage link. */
  body: (link: string) => Buffer;
  encoding?: string;
  /** 'relayed': sent on byte for byte with status 200; otherwise the 502 error message. */
  expected: 'relayed' | RegExp;
}

const json = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));
const MALFORMED: MalformedCase[] = [
  {
    name: 'truncated JSON',
    body: (link) => {
      const whole = json(instructions(link));
      return whole.subarray(0, whole.length - 30);
    },
    expected: 'relayed',
  },
  { name: 'a JSON array', body: (link) => json([instructions(link)]), expected: 'relayed' },
  { name: 'JSON null', body: () => Buffer.from('null'), expected: 'relayed' },
  { name: 'an empty body', body: () => Buffer.alloc(0), expected: 'relayed' },
  {
    name: 'no artifact.source.uri',
    body: () => json({ id: 'dep-fault', artifact: { id: 'a', source: { expire: '2099-01-01T00:00:00Z' } } }),
    expected: 'relayed',
  },
  {
    name: 'artifact.source.uri a number',
    body: () => json(instructions(42 as unknown as string)),
    expected: 'relayed',
  },
  {
    name: 'artifact.source.uri an array holding the link',
    body: (link) => json(instructions([link] as unknown as string)),
    expected: 'relayed',
  },
  {
    name: 'artifact.source a string',
    body: (link) => json({ id: 'd', artifact: { source: link } }),
    expected: 'relayed',
  },
  {
    name: 'artifact.source.uri not a URL',
    body: () => json(instructions('not a url')),
    expected: /^the Mender server returned a download link that is not a URL$/,
  },
  {
    name: 'artifact.source.uri a relative path',
    body: () => json(instructions('/mender-artifacts/t/a?X-Amz-Signature=abc')),
    expected: /^the Mender server returned a download link that is not a URL$/,
  },
  {
    name: 'an ftp: link',
    body: () => json(instructions('ftp://127.0.0.2/mender-artifacts/a')),
    expected: /^ftp: download links are not supported$/,
  },
  {
    name: 'a link whose user part names the whitelisted host',
    body: () => json(instructions('https://127.0.0.2@evil.example/a?X-Amz-Signature=abc')),
    expected: /^evil\.example returned by Mender server is not whitelisted$/,
  },
  {
    name: 'Content-Encoding gzip on a body that is not gzip',
    body: (link) => json(instructions(link)),
    encoding: 'gzip',
    expected: /^deployments\/next answer is not valid gzip \(/,
  },
  {
    name: 'a truncated gzip body',
    body: (link) => gzipSync(json(instructions(link))).subarray(0, 40),
    encoding: 'gzip',
    expected: /^deployments\/next answer is not valid gzip \(/,
  },
  {
    name: 'Content-Encoding br on a body that is not brotli',
    body: () => Buffer.from('\u00ff'.repeat(64), 'latin1'),
    encoding: 'br',
    expected: /^deployments\/next answer is not valid br \(/,
  },
  {
    name: 'a gzip body that inflates to 64 MiB (a decompression bomb)',
    body: () => gzipSync(Buffer.alloc(64 * 1024 * 1024, 0x20)),
    encoding: 'gzip',
    expected: /^deployments\/next answer decodes to more than 1048576 bytes$/,
  },
  {
    name: 'a brotli body that inflates to 64 MiB',
    body: () =>
      brotliCompressSync(Buffer.alloc(64 * 1024 * 1024, 0x20), {
        params: { [zlibConstants.BROTLI_PARAM_QUALITY]: 1 },
      }),
    encoding: 'br',
    expected: /^deployments\/next answer decodes to more than 1048576 bytes$/,
  },
  {
    name: 'an unknown Content-Encoding',
    body: (link) => json(instructions(link)),
    encoding: 'zstd',
    expected: /^deployments\/next answer has unsupported Content-Encoding zstd$/,
  },
  {
    name: 'a genuine link beside JSON nested 10 000 levels deep',
    body: (link) => {
      const text = JSON.stringify(instructions(link, { nested: 0 }));
      return Buffer.from(text.replace('"nested":0', `"nested":${'['.repeat(10_000)}${']'.repeat(10_000)}`));
    },
    expected: /^deployments\/next answer cannot be re-encoded$/,
  },
  {
    name: 'a body over 1 MiB',
    body: (link) => json(instructions(link, { padding: 'x'.repeat(1024 * 1024) })),
    expected: /^deployments\/next answer larger than 1048576 bytes$/,
  },
];

describe.each([
  ['cache', true],
  ['proxy-only', false],
] as const)('malformed deployments/next answers, %s mode', (_mode, cache) => {
  let s: CacheScenario;
  let device: SimulatedDevice;
  let other: SimulatedDevice;
  let link: string;
  let artifactSha: string;

  beforeAll(async () => {
    s = await startCacheScenario({ cache });
    [device, other] = [await s.newDevice(), await s.newDevice()];
    const added = s.addArtifact('malformed-ok', 16 * 1024);
    artifactSha = added.sha256;
    link = s.upstream.storageLink(added.artifact.id).uri;
  });
  watchForInternalErrors(() => s.gw);
  afterAll(async () => {
    await s.close();
  });

  it.each(MALFORMED.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const sent = c.body(link);
    void answerOnce(s.upstream, isNext, (_req, res) => {
      res.writeHead(200, {
        'content-type': 'application/json',
        'content-length': sent.length,
        ...(c.encoding === undefined ? {} : { 'content-encoding': c.encoding }),
      });
      res.end(sent);
    });
    const storageBefore = s.upstream.state.storage.requests;
    // The poll as a 3.x/4.x client sends it; read raw, since a relayed body may not be JSON.
    const answer = await call(`${s.gw.url}${NEXT}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${device.jwt ?? ''}`, 'content-type': 'application/json' },
      body: JSON.stringify({ device_provides: provides }),
    });
    expect(answer.cut).toBeUndefined();
    if (c.expected === 'relayed') {
      expect(answer.status).toBe(200);
      expect(answer.body.equals(sent)).toBe(true);
      expect(answer.headers['content-length']).toBe(String(sent.length));
    } else {
      expect(answer.status).toBe(502);
      expect(errorOf(answer)).toMatch(c.expected);
      // Neither the storage link nor any link of the gateway's own is handed out.
      expect(answer.body.toString('latin1')).not.toContain('X-Amz-Signature');
    }
    expect(answer.body.toString('latin1')).not.toContain(GATEWAY_ARTIFACTS);
    expect(answer.headers['content-encoding']).toBeUndefined();
    // Nothing was fetched on the strength of a malformed answer.
    expect(s.upstream.state.storage.requests).toBe(storageBefore);

    // Another device still gets a gateway link and the artifact on it.
    const next = await pollNext(s.gw.url, other, provides);
    expect(next.status).toBe(200);
    const uri = next.json!.artifact.source.uri;
    expect(uri.startsWith(`${s.gatewayUrl}${GATEWAY_ARTIFACTS}`)).toBe(true);
    const download = await call(uri);
    expect(download.status).toBe(200);
    expect(sha256(download.body)).toBe(artifactSha);
  });
});

describe('the Mender server down when the gateway starts', () => {
  it('serve starts, readiness says so, devices get 502 JSON; their retry is relayed once it is back', async () => {
    const port = await closedPort();
    const gw = await startTestGateway({ UpstreamServer: { URL: `http://127.0.0.1:${port}` } });
    const path = '/api/devices/v1/deviceconfig/configuration';
    const upstream = createHttpServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"timezone":"UTC"}');
    });
    try {
      // Down: alive (the process serves), not ready, and a device call is a clean 502.
      expect((await request(`${gw.url}/api/internal/v1/gateway/alive`)).statusCode).toBe(204);
      const notReady = await request(`${gw.url}/api/internal/v1/gateway/ready`);
      expect(notReady.statusCode).toBe(503);
      expect(
        ((await notReady.body.json()) as { upstream: { lastError: string } }).upstream.lastError,
      ).toMatch(/ECONNREFUSED/);
      const refused = await request(`${gw.url}${path}`);
      expect(refused.statusCode).toBe(502);
      expect(refused.headers['content-type']).toMatch(/application\/json/);
      expect(((await refused.body.json()) as { error: string }).error).toMatch(
        /unreachable \(ECONNREFUSED\)/,
      );

      // Back on the same address: the device's next try goes through, and the gateway is ready.
      await new Promise<void>((resolve) => upstream.listen(port, '127.0.0.1', resolve));
      const retried = await request(`${gw.url}${path}`);
      expect(retried.statusCode).toBe(200);
      expect(await retried.body.json()).toEqual({ timezone: 'UTC' });
      expect((await request(`${gw.url}/api/internal/v1/gateway/ready`)).statusCode).toBe(200);
    } finally {
      await gw.close();
      upstream.closeAllConnections();
      await new Promise<void>((resolve) =>
        upstream.listening ? upstream.close(() => resolve()) : resolve(),
      );
    }
  });
});
