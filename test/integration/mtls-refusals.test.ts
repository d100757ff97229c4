import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mtlsGatewayConf } from '../support/mtls-gateway.js';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import type { ConnectionOptions, TLSSocket } from 'node:tls';
import { Agent, request } from 'undici';
import { WebSocket } from 'ws';
import { createGateway, createLogger, loadConfig } from '../../src/core/index.js';
import { CONNECT_PATH, startFakeUpstream } from '../support/fake-upstream/index.js';
import type { FakeUpstream } from '../support/fake-upstream/index.js';
import { LogCapture } from '../support/log-capture.js';
import type { LogLine } from '../support/log-capture.js';
import { createTestPki } from '../support/test-pki.js';
import type { CertPair, TestPki } from '../support/test-pki.js';
import { startTestGateway } from '../support/test-gateway.js';
import type { TestGateway } from '../support/test-gateway.js';
import { SimulatedDevice } from '../support/simulated-device.js';
import { waitUntil } from '../support/wait-until.js';

/**
 * What a gateway with Features.mTLS refuses (docs/protocol.md §3.3, §3.7): every refusal is proved
 * by the fake upstream never seeing the request.
 */

const AUTH_PATH = '/api/devices/v1/authentication/auth_requests';

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** One TLS connection driven by hand, so a test controls exactly which connection a request uses. */
class RawConnection {
  #buffer = Buffer.alloc(0);
  #waiter: (() => void) | undefined;
  #ended = false;

  private constructor(readonly socket: TLSSocket) {
    socket.on('data', (chunk: Buffer) => {
      this.#buffer = Buffer.concat([this.#buffer, chunk]);
      this.#waiter?.();
    });
    const end = (): void => {
      this.#ended = true;
      this.#waiter?.();
    };
    socket.on('end', end);
    socket.on('close', end);
    socket.on('error', end);
  }

  static open(url: string, options: ConnectionOptions): Promise<RawConnection> {
    const { hostname, port } = new URL(url);
    return new Promise((resolve, reject) => {
      const socket = connect({ host: hostname, port: Number(port), ...options }, () =>
        resolve(new RawConnection(socket)),
      );
      socket.once('error', reject);
    });
  }

  /** Send a request head (no body) and read one response with a Content-Length (or none). */
  async exchange(head: string): Promise<RawResponse> {
    this.socket.write(head);
    for (;;) {
      const end = this.#buffer.indexOf('\r\n\r\n');
      if (end !== -1) {
        const lines = this.#buffer.subarray(0, end).toString('latin1').split('\r\n');
        const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(lines[0] ?? '')?.[1] ?? 0);
        const headers = Object.fromEntries(
          lines
            .slice(1)
            .map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]),
        );
        const length = Number(headers['content-length'] ?? 0);
        if (this.#buffer.length >= end + 4 + length) {
          const body = this.#buffer.subarray(end + 4, end + 4 + length).toString('utf8');
          this.#buffer = this.#buffer.subarray(end + 4 + length);
          return { status, headers, body };
        }
      }
      if (this.#ended) throw new Error('connection closed before a complete response');
      await new Promise<void>((resolve) => (this.#waiter = resolve));
      this.#waiter = undefined;
    }
  }

  close(): void {
    this.socket.destroy();
  }
}

function openWebSocket(
  url: string,
  options: ConstructorParameters<typeof WebSocket>[2],
): Promise<{ ws: WebSocket } | { status: number } | { error: Error }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, options);
    ws.once('open', () => resolve({ ws }));
    ws.once('unexpected-response', (_req, res) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0 });
    });
    ws.once('error', (error) => resolve({ error }));
  });
}

describe('mTLS refusals', () => {
  let upstream: FakeUpstream;
  let devicePki: TestPki;
  let foreignPki: TestPki;
  let gw: TestGateway;
  let httpsUrl: string;
  let blacklistDir: string;
  let blacklistPath: string;
  let goodCert: CertPair;
  const agents: Agent[] = [];

  function agentFor(cert: CertPair | undefined, options: { connections?: number } = {}): Agent {
    const agent = new Agent({
      connect: {
        ca: upstream.pki.ca.certPem,
        ...(cert === undefined ? {} : { cert: cert.certPem, key: cert.keyPem }),
      },
      ...options,
    });
    agents.push(agent);
    return agent;
  }

  function tlsOptions(cert: CertPair | undefined): ConnectionOptions {
    return {
      ca: upstream.pki.ca.certPem,
      ...(cert === undefined ? {} : { cert: cert.certPem, key: cert.keyPem }),
    };
  }

  /** Requests the fake upstream has seen so far (both hosts, upgrades included). */
  const seen = (): number => upstream.state.requests.length;

  /** The device's request fails, the gateway logs why and from where, and upstream sees nothing. */
  async function expectHandshakeRefused(cert: CertPair | undefined, reason: RegExp): Promise<void> {
    const before = seen();
    const refusals = (): LogLine[] => gw.logs.lines.filter((l) => l.msg === 'mTLS: handshake refused');
    const count = refusals().length;
    const device = new SimulatedDevice('02:00:00:00:ee:01');
    await expect(device.authenticate(httpsUrl, agentFor(cert))).rejects.toThrow();
    await waitUntil('the handshake refusal log line', () => refusals().length > count);
    const line = refusals().at(-1)!;
    expect(line.level).toBe('warn');
    expect(line.reason).toMatch(reason);
    expect(line.ip).toMatch(/127\.0\.0\.1$/);
    expect(seen()).toBe(before);
  }

  /** Rewrite the blacklist and wait until the gateway has loaded exactly `serials` entries from it. */
  async function setBlacklist(text: string | Buffer, serials: number): Promise<void> {
    const reloads = (): LogLine[] => gw.logs.lines.filter((l) => l.msg === 'certificate blacklist reloaded');
    const before = reloads().length;
    await writeFile(blacklistPath, text);
    await waitUntil(`a blacklist reload with ${serials} serials`, () =>
      reloads()
        .slice(before)
        .some((l) => l.serials === serials),
    );
  }

  beforeAll(async () => {
    upstream = await startFakeUpstream({ autoAcceptDevices: false });
    devicePki = await createTestPki({ name: 'mTLS device CA' });
    foreignPki = await createTestPki({ name: 'some other CA' });
    goodCert = await devicePki.issueClient('02:00:00:00:ee:01');
    blacklistDir = await mkdtemp(join(tmpdir(), 'mgw-blacklist-'));
    blacklistPath = join(blacklistDir, 'blacklist.txt');
    await writeFile(blacklistPath, '# revoked device certificates\n');
    gw = await startTestGateway(
      await mtlsGatewayConf(upstream, devicePki.ca.certPath, { BlacklistPath: blacklistPath }),
    );
    httpsUrl = gw.httpsUrl!;
  });

  afterAll(async () => {
    await Promise.all(agents.map((a) => a.close()));
    await gw.close();
    await upstream.close();
    await devicePki.cleanup();
    await foreignPki.cleanup();
    await rm(blacklistDir, { recursive: true, force: true });
  });

  it('refuses a client without a certificate at the handshake', async () => {
    await expectHandshakeRefused(undefined, /did not return a certificate/);
  });

  it('refuses a certificate from another CA at the handshake', async () => {
    await expectHandshakeRefused(
      await foreignPki.issueClient('02:00:00:00:ee:01'),
      /not trusted \(UNABLE_TO_(GET_ISSUER_CERT_LOCALLY|VERIFY_LEAF_SIGNATURE)\)/,
    );
  });

  it('refuses an expired certificate at the handshake', async () => {
    await expectHandshakeRefused(
      await devicePki.issueClient('02:00:00:00:ee:01', { notAfterPast: true }),
      /not trusted \(CERT_HAS_EXPIRED\)/,
    );
  });

  it('ignores and reports blacklist lines that are not hex serials, keeping the valid ones', async () => {
    const cert = await devicePki.issueClient('02:00:00:00:ee:02');
    await setBlacklist(`not-a-serial\n${cert.serial}\n0xZZ\n`, 1);
    const warned = gw.logs.lines
      .filter((l) => l.msg === 'blacklist line is not a hex serial: ignored')
      .map((l) => l.line);
    expect(warned).toEqual(expect.arrayContaining([1, 3]));
    const before = seen();
    await expect(
      new SimulatedDevice('02:00:00:00:ee:02').authenticate(httpsUrl, agentFor(cert)),
    ).rejects.toThrow();
    expect(seen()).toBe(before);
    await setBlacklist('# nothing revoked\n', 0);
  });

  const colons = (s: string): string => (s.match(/../g) ?? []).join(':');
  it.each([
    ['as Node and openssl print it', (s: string) => s],
    ['in lower case', (s: string) => s.toLowerCase()],
    ['with 0x', (s: string) => `0x${s}`],
    ['with colons', (s: string) => colons(s).toLowerCase()],
    ['with leading zeros', (s: string) => `0000${s}`],
    ['as `openssl x509 -serial` output, after a comment', (s: string) => `# revoked 2026-11-22\nserial=${s}`],
  ])(
    'revokes a serial written %s while the gateway runs, and re-admits it when removed',
    async (_label, format) => {
      const mac = '02:00:00:00:ee:10';
      const cert = await devicePki.issueClient(mac);
      const device = new SimulatedDevice(mac);
      // A device with an open keep-alive connection and a JWT.
      const pinned = agentFor(cert, { connections: 1 });
      expect(await device.authenticate(httpsUrl, pinned)).toBe(200);

      await setBlacklist(`${format(cert.serial)}\n`, 1);
      const before = seen();
      // Its next request on the same connection is refused…
      const res = await request(
        `${httpsUrl}/api/devices/v1/deployments/device/deployments/next?device_type=x&artifact_name=y`,
        {
          dispatcher: pinned,
          headers: { authorization: `Bearer ${device.jwt ?? ''}` },
        },
      );
      expect(res.statusCode).toBe(403);
      expect(res.headers['content-type']).toMatch(/application\/json/);
      expect(((await res.body.json()) as { error: string }).error).toMatch(/blacklisted/);
      // …and a new connection is cut right after the handshake.
      await expect(device.authenticate(httpsUrl, agentFor(cert))).rejects.toThrow();
      await gw.logs.waitFor((l) => l.msg === 'mTLS: device refused' && l.serial === cert.serial);
      expect(seen()).toBe(before);

      await setBlacklist('# nothing revoked\n', 0);
      expect(await device.authenticate(httpsUrl, agentFor(cert))).toBe(200);
    },
  );

  describe('a blacklist re-saved in another form never un-revokes a device', () => {
    const mac = '02:00:00:00:ee:30';
    let revoked: CertPair;
    const utf16be = (text: string): Buffer => Buffer.from(text, 'utf16le').swap16();

    async function readiness(): Promise<{ serials: number; lastError: string | undefined }> {
      const res = await request(`${httpsUrl}/api/internal/v1/gateway/ready`, {
        dispatcher: agentFor(goodCert),
      });
      const report = (await res.body.json()) as { blacklist?: { serials: number; lastError?: string } };
      expect(report.blacklist).toBeDefined();
      return { serials: report.blacklist!.serials, lastError: report.blacklist!.lastError };
    }

    async function metric(name: string): Promise<number> {
      const found = await gw.gateway.metrics.registry.getSingleMetric(name)?.get();
      return found?.values[0]?.value ?? 0;
    }

    async function expectRevoked(): Promise<void> {
      const before = seen();
      await expect(new SimulatedDevice(mac).authenticate(httpsUrl, agentFor(revoked))).rejects.toThrow();
      await gw.logs.waitFor((l) => l.msg === 'mTLS: device refused' && l.serial === revoked.serial);
      expect(seen()).toBe(before);
    }

    /** Write the file and wait for the gateway to refuse the reload. */
    async function saveRefused(content: string | Buffer): Promise<string> {
      const failures = (): LogLine[] =>
        gw.logs.lines.filter(
          (l) => l.msg === 'certificate blacklist reload failed: keeping the previous list',
        );
      const before = failures().length;
      await writeFile(blacklistPath, content);
      await waitUntil('a refused blacklist reload', () => failures().length > before);
      const line = failures().at(-1)!;
      expect(line.level).toBe('error');
      return String(line.error);
    }

    beforeAll(async () => {
      revoked = await devicePki.issueClient(mac);
    });

    it.each([
      ['UTF-16 LE with a byte order mark', (t: string) => Buffer.from(`\uFEFF${t}`, 'utf16le')],
      ['UTF-16 BE with a byte order mark', (t: string) => utf16be(`\uFEFF${t}`)],
      ['UTF-8 with a byte order mark', (t: string) => `\uFEFF${t}`],
      ['with CRLF line ends', (t: string) => t.replace(/\n/g, '\r\n')],
      ['with CR line ends only', (t: string) => t.replace(/\n/g, '\r')],
      ['with mixed and doubled line ends', (t: string) => t.replace(/\n/g, '\r\r\n')],
    ])('reads a blacklist saved as %s', async (_form, encode) => {
      await setBlacklist(`# revoked\n${revoked.serial}\n`, 1);
      await setBlacklist(encode(`# revoked\nAB:CD\n${revoked.serial}\n`), 2);
      await expectRevoked();
      await setBlacklist('# nothing revoked\n', 0);
    });

    it.each([
      ['an empty file', ''],
      ['a file of NUL bytes (half-written before a crash)', Buffer.alloc(64)],
      ['UTF-16 LE without a byte order mark', Buffer.from('# revoked\nABCD\n', 'utf16le')],
      ['a file cut in the middle of a line', '# revoked\nAB:C'],
      ['invalid UTF-8', Buffer.from([0x41, 0x42, 0xff, 0xfe, 0x0a])],
    ])(
      'keeps the previous list when the file is replaced by %s, and reports it in logs, readiness and metrics',
      async (_form, content) => {
        await setBlacklist(`# revoked\n${revoked.serial}\n`, 1);
        const failed = await metric('mender_gw_mtls_blacklist_reload_failures_total');
        expect(await readiness()).toEqual({ serials: 1, lastError: undefined });
        const error = await saveRefused(content);
        await expectRevoked();
        expect(await metric('mender_gw_mtls_blacklist_reload_failures_total')).toBe(failed + 1);
        expect(await metric('mender_gw_mtls_blacklist_serials')).toBeGreaterThanOrEqual(1);
        expect(await readiness()).toEqual({ serials: expect.any(Number) as unknown, lastError: error });
        // A deliberate empty list (comments only) is accepted, and clears the error.
        await setBlacklist('# nothing revoked\n', 0);
        expect(await readiness()).toEqual({ serials: 0, lastError: undefined });
        expect(await metric('mender_gw_mtls_blacklist_serials')).toBe(0);
        expect(await new SimulatedDevice(mac).authenticate(httpsUrl, agentFor(revoked))).toBe(200);
      },
    );
  });

  it('refuses an auth request whose signature does not verify, without preauthorizing it', async () => {
    const device = new SimulatedDevice('02:00:00:00:ee:20');
    const body = device.authBody();
    const before = seen();
    const res = await request(`${httpsUrl}${AUTH_PATH}`, {
      method: 'POST',
      dispatcher: agentFor(goodCert),
      headers: {
        'content-type': 'application/json',
        'x-men-signature': device.signature(Buffer.from('something else')),
      },
      body,
    });
    expect(res.statusCode).toBe(401);
    expect(((await res.body.json()) as { error: string }).error).toMatch(/signature/);
    expect(seen()).toBe(before);
    expect(upstream.state.preauthorizations.some((p) => p.identity?.mac === '02:00:00:00:ee:20')).toBe(false);
  });

  it('answers 400 to an auth request that is not JSON', async () => {
    const before = seen();
    const res = await request(`${httpsUrl}${AUTH_PATH}`, {
      method: 'POST',
      dispatcher: agentFor(goodCert),
      headers: { 'content-type': 'application/json', 'x-men-signature': 'c2ln' },
      body: 'not json',
    });
    expect(res.statusCode).toBe(400);
    await res.body.dump();
    expect(seen()).toBe(before);
  });

  it('answers 413 to an auth request body over 1 MiB', async () => {
    const before = seen();
    const res = await request(`${httpsUrl}${AUTH_PATH}`, {
      method: 'POST',
      dispatcher: agentFor(goodCert),
      headers: { 'content-type': 'application/json', 'x-men-signature': 'c2ln' },
      body: Buffer.alloc(1024 * 1024 + 1, 0x20),
    });
    expect(res.statusCode).toBe(413);
    await res.body.dump();
    expect(seen()).toBe(before);
  });

  describe('WebSocket upgrades (docs/decisions.md §11: upgrades bypass the request handler)', () => {
    const wsUrl = (): string => `${httpsUrl.replace('https', 'wss')}${CONNECT_PATH}`;

    it('opens a tunnel for a device with a valid certificate (control)', async () => {
      const cert = await devicePki.issueClient('02:00:00:00:ee:30');
      const device = new SimulatedDevice('02:00:00:00:ee:30');
      expect(await device.authenticate(httpsUrl, agentFor(cert))).toBe(200);
      const result = await openWebSocket(wsUrl(), {
        ...tlsOptions(cert),
        headers: { authorization: `Bearer ${device.jwt ?? ''}` },
      });
      if (!('ws' in result)) throw new Error(`upgrade refused: ${JSON.stringify(result)}`);
      const closed = new Promise<void>((resolve) => result.ws.once('close', () => resolve()));
      result.ws.close(1000);
      await closed;
    });

    it('refuses an upgrade without a client certificate', async () => {
      const before = seen();
      const result = await openWebSocket(wsUrl(), tlsOptions(undefined));
      expect('error' in result).toBe(true);
      expect(seen()).toBe(before);
    });

    it('refuses an upgrade with a blacklisted certificate, on a new connection and on an existing one', async () => {
      const cert = await devicePki.issueClient('02:00:00:00:ee:31');
      const device = new SimulatedDevice('02:00:00:00:ee:31');
      expect(await device.authenticate(httpsUrl, agentFor(cert))).toBe(200);
      const existing = await RawConnection.open(httpsUrl, tlsOptions(cert));
      try {
        const host = new URL(httpsUrl).host;
        expect(
          (await existing.exchange(`GET /api/internal/v1/gateway/alive HTTP/1.1\r\nhost: ${host}\r\n\r\n`))
            .status,
        ).toBe(204);

        await setBlacklist(`${cert.serial}\n`, 1);
        const before = seen();
        const fresh = await openWebSocket(wsUrl(), {
          ...tlsOptions(cert),
          headers: { authorization: `Bearer ${device.jwt ?? ''}` },
        });
        expect('ws' in fresh).toBe(false);
        const upgrade = await existing.exchange(
          `GET ${CONNECT_PATH} HTTP/1.1\r\nhost: ${host}\r\nconnection: Upgrade\r\nupgrade: websocket\r\n` +
            `sec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nauthorization: Bearer ${device.jwt ?? ''}\r\n\r\n`,
        );
        expect(upgrade.status).toBe(403);
        expect((JSON.parse(upgrade.body) as { error: string }).error).toMatch(/blacklisted/);
        expect(seen()).toBe(before);
      } finally {
        existing.close();
        await setBlacklist('# nothing revoked\n', 0);
      }
    });
  });
});

describe('mTLS start-up checks', () => {
  it('fails createGateway with MGW_TLS_MATERIAL when the BlacklistPath file is missing', async () => {
    const pki = await createTestPki({ name: 'start-up CA' });
    const dir = await mkdtemp(join(tmpdir(), 'mgw-mtls-startup-'));
    try {
      const server = await pki.issueServer('gateway.test', { ips: ['127.0.0.1'] });
      const missing = join(dir, 'no-such-blacklist.txt');
      const file = join(dir, 'mender-gateway.conf');
      await writeFile(
        file,
        JSON.stringify({
          UpstreamServer: { URL: 'https://mender.example.com' },
          HTTPS: {
            Enabled: true,
            Listen: '127.0.0.1:0',
            ServerCertificate: server.certPath,
            ServerKey: server.keyPath,
          },
          Features: {
            mTLS: {
              Enabled: true,
              CACertificate: pki.ca.certPath,
              BlacklistPath: missing,
              MenderUsername: 'gw',
              MenderPassword: 'pw',
            },
          },
        }),
      );
      // `serve` already refuses this config while loading it; the gateway must refuse it on its own too.
      await expect(loadConfig({ path: file, env: {} })).rejects.toMatchObject({ code: 'MGW_CONFIG_INVALID' });
      const { config } = await loadConfig({ path: file, env: {}, checkFiles: false });
      const logs = new LogCapture();
      const error = await createGateway(config, { logger: createLogger('debug', logs), env: {} }).then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(error).toMatchObject({ code: 'MGW_TLS_MATERIAL' });
      expect((error as Error).message).toContain('Features.mTLS.BlacklistPath');
      expect((error as Error).message).toContain(missing);
      expect((error as { hint?: string }).hint).toMatch(/Create the file/);
    } finally {
      await rm(dir, { recursive: true, force: true });
      await pki.cleanup();
    }
  });
});
