import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mtlsGatewayConf } from '../support/mtls-gateway.js';
import { webcrypto, X509Certificate } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import type { SecureVersion } from 'node:tls';
import { Agent, request } from 'undici';
import { x509 } from '../../src/core/pki/x509-provider.js';
import { DEFAULT_MANAGEMENT, startFakeUpstream } from '../support/fake-upstream/index.js';
import type { FakeUpstream } from '../support/fake-upstream/index.js';
import { rawExchange } from '../support/raw-http.js';
import { startTestGateway } from '../support/test-gateway.js';
import type { TestGateway } from '../support/test-gateway.js';
import { SimulatedDevice } from '../support/simulated-device.js';
import { waitUntil } from '../support/wait-until.js';

/**
 * Hostile TLS from the device network: protocol versions below
 * HTTPS.MinimumTLSVersion, client certificates with odd serials and subjects (which end up in log
 * lines: they must not break or forge them), and oversized or stalled auth-request bodies, which
 * the gateway reads itself with mTLS.
 */

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY = 86_400_000;
const ALIVE = '/api/internal/v1/gateway/alive';
const AUTH = '/api/devices/v1/authentication/auth_requests';

interface Issued {
  certPem: string;
  keyPem: string;
  /** As Node prints it. */
  serial: string;
  keys: webcrypto.CryptoKeyPair;
}

function pem(label: string, der: ArrayBuffer): string {
  const b64 = Buffer.from(der).toString('base64');
  return `-----BEGIN ${label}-----\n${(b64.match(/.{1,64}/g) ?? []).join('\n')}\n-----END ${label}-----\n`;
}

/** DER TLV with a definite length (enough for names up to 64 KiB). */
function tlv(tag: number, content: Buffer): Buffer {
  const n = content.length;
  const length = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : [0x82, n >> 8, n & 0xff];
  return Buffer.concat([Buffer.from([tag, ...length]), content]);
}

const OIDS = { CN: [0x55, 0x04, 0x03], O: [0x55, 0x04, 0x0a], OU: [0x55, 0x04, 0x0b] } as const;

/**
 * A distinguished name in DER with UTF8String values taken byte for byte: @peculiar/x509's
 * string and JSON forms parse quotes, commas and backslashes, which is what must stay intact here.
 * Each inner array is one RDN (several entries: a multi-valued RDN).
 */
function rawName(rdns: [keyof typeof OIDS, string][][]): x509.Name {
  const der = tlv(
    0x30,
    Buffer.concat(
      rdns.map((rdn) =>
        tlv(
          0x31,
          Buffer.concat(
            rdn.map(([type, value]) =>
              tlv(
                0x30,
                Buffer.concat([tlv(0x06, Buffer.from(OIDS[type])), tlv(0x0c, Buffer.from(value, 'utf8'))]),
              ),
            ),
          ),
        ),
      ),
    ),
  );
  return new x509.Name(der.buffer.slice(der.byteOffset, der.byteOffset + der.length));
}

async function issue(options: {
  subject: x509.Name;
  serial: string;
  ca?: Issued;
  expired?: boolean;
}): Promise<Issued> {
  const keys = await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify']);
  const ca = options.ca;
  const validity = options.expired
    ? { notBefore: new Date(Date.now() - 2 * DAY), notAfter: new Date(Date.now() - DAY) }
    : { notBefore: new Date(Date.now() - 60_000), notAfter: new Date(Date.now() + 30 * DAY) };
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: options.serial,
    subject: options.subject,
    issuer: ca === undefined ? options.subject : new x509.X509Certificate(ca.certPem).subjectName,
    ...validity,
    publicKey: keys.publicKey,
    signingKey: ca === undefined ? keys.privateKey : ca.keys.privateKey,
    signingAlgorithm: ALG,
    extensions:
      ca === undefined
        ? [
            new x509.BasicConstraintsExtension(true, undefined, true),
            new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
            await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
          ]
        : [
            new x509.BasicConstraintsExtension(false, undefined, true),
            new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
            new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]),
            await x509.AuthorityKeyIdentifierExtension.create(ca.keys.publicKey),
          ],
  });
  const certPem = `${cert.toString('pem')}\n`;
  const keyPem = pem('PRIVATE KEY', await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  return { certPem, keyPem, serial: new X509Certificate(certPem).serialNumber, keys };
}

/** Text that would forge a log line if it reached the log unescaped, plus control and non-ASCII characters. */
const FORGED_LINE = '{"level":"error","msg":"forged by a certificate"}';
const ODD_CN =
  `evil\n${FORGED_LINE}\r\n"quoted", comma, back\\slash = + ; <tag> Ωμέγα 设备 🚀 \u001b[31mred\u0000nul ` +
  'z'.repeat(2_000);

describe('TLS below HTTPS.MinimumTLSVersion', () => {
  let upstream: FakeUpstream;
  let gw: TestGateway;

  beforeAll(async () => {
    upstream = await startFakeUpstream();
    const server = await upstream.pki.issueServer('gateway.test', {
      dns: ['gateway.test'],
      ips: ['127.0.0.1'],
    });
    gw = await startTestGateway({
      UpstreamServer: { URL: upstream.url, CACertificate: upstream.pki.ca.certPath },
      HTTP: { Enabled: false },
      HTTPS: {
        Enabled: true,
        Listen: '127.0.0.1:0',
        MinimumTLSVersion: '1.3',
        ServerCertificate: server.certPath,
        ServerKey: server.keyPath,
      },
    });
  });
  afterAll(async () => {
    await gw.close();
    await upstream.close();
  });

  function handshake(
    maxVersion: SecureVersion,
  ): Promise<{ ok: boolean; protocol: string | null; error?: string }> {
    const { port } = new URL(gw.httpsUrl!);
    return new Promise((resolve) => {
      const socket = tlsConnect({
        host: '127.0.0.1',
        port: Number(port),
        ca: upstream.pki.ca.certPem,
        maxVersion,
        servername: 'gateway.test',
      });
      socket.once('secureConnect', () => {
        resolve({ ok: true, protocol: socket.getProtocol() });
        socket.destroy();
      });
      socket.once('error', (err: NodeJS.ErrnoException) =>
        resolve({ ok: false, protocol: null, error: err.code }),
      );
    });
  }

  it.each(['TLSv1.2', 'TLSv1.1', 'TLSv1'] as const)(
    'refuses a client limited to %s with a failed handshake and a log line, and serves TLS 1.3 clients',
    async (version) => {
      const before = gw.logs.lines.length;
      const refused = await handshake(version);
      expect(refused.ok).toBe(false);
      expect(refused.error).toMatch(/^ERR_SSL_/);
      await waitUntil('the handshake failure log line', () =>
        gw.logs.lines.slice(before).some((l) => l.msg === 'TLS handshake failed'),
      );
      const line = gw.logs.lines.slice(before).find((l) => l.msg === 'TLS handshake failed')!;
      expect(line).toMatchObject({ level: 'warn', ip: '127.0.0.1' });
      expect(String(line.code)).toMatch(/^ERR_SSL_/);
      // OpenSSL's own text, e.g. "unsupported protocol"; for 1.0/1.1 clients "unexpected message".
      expect(typeof line.reason).toBe('string');
      if (version === 'TLSv1.2') expect(String(line.reason)).toMatch(/unsupported protocol/i);

      expect(await handshake('TLSv1.3')).toEqual({ ok: true, protocol: 'TLSv1.3' });
      const res = await request(`${gw.httpsUrl}${ALIVE}`, {
        dispatcher: new Agent({ connect: { ca: upstream.pki.ca.certPem, servername: 'gateway.test' } }),
      });
      expect(res.statusCode).toBe(204);
      await res.body.dump();
    },
  );
});

describe('mTLS with odd client certificates and hostile auth bodies', () => {
  let upstream: FakeUpstream;
  let gw: TestGateway;
  let dir: string;
  let ca: Issued;
  let otherCa: Issued;
  const agents: Agent[] = [];

  beforeAll(async () => {
    upstream = await startFakeUpstream({ autoAcceptDevices: false });
    dir = await mkdtemp(join(tmpdir(), 'mgw-hostile-tls-'));
    ca = await issue({ subject: rawName([[['CN', 'hostile device CA']]]), serial: '01' });
    otherCa = await issue({ subject: rawName([[['CN', 'hostile device CA']]]), serial: '01' });
    await writeFile(join(dir, 'device-ca.crt'), ca.certPem);
    // Written as other tools print serials: with the DER sign octet and colons.
    await writeFile(join(dir, 'blacklist.txt'), '# revoked\n00:AB:CD:EF:01\n');
    gw = await startTestGateway(
      await mtlsGatewayConf(
        upstream,
        join(dir, 'device-ca.crt'),
        {
          BlacklistPath: join(dir, 'blacklist.txt'),
          MenderPassword: undefined,
          // Expired certificates are accepted with a warning that quotes the subject.
          InsecureSkipClientExpireAfter: true,
        },
        {
          UpstreamServer: {
            URL: upstream.url,
            CACertificate: upstream.pki.ca.certPath,
            BodyIdleTimeout: '1s',
          },
        },
      ),
      { env: { MTLS_MENDER_PASSWORD: DEFAULT_MANAGEMENT.password } },
    );
  });

  afterAll(async () => {
    await Promise.all(agents.map((a) => a.close()));
    await gw.close();
    await upstream.close();
    await rm(dir, { recursive: true, force: true });
  });

  function agentFor(cert: Issued): Agent {
    const agent = new Agent({
      connect: {
        ca: upstream.pki.ca.certPem,
        cert: cert.certPem,
        key: cert.keyPem,
        servername: 'gateway.test',
      },
    });
    agents.push(agent);
    return agent;
  }

  /** Every log line is one well-formed JSON object, and none was forged by certificate contents. */
  function expectLogIntact(): void {
    expect(gw.logs.lines.length).toBe(gw.logs.raw.length);
    for (const raw of gw.logs.raw) {
      expect(() => JSON.parse(raw) as unknown).not.toThrow();
      // eslint-disable-next-line no-control-regex -- control characters are what must not appear
      expect(raw).not.toMatch(/[\u0000-\u001f\u007f]/);
    }
    expect(gw.logs.lines.some((l) => l.msg === 'forged by a certificate')).toBe(false);
  }

  async function stillServes(): Promise<void> {
    const plain = await issue({ subject: rawName([[['CN', 'plain-device']]]), serial: '5A5A', ca });
    const res = await request(`${gw.httpsUrl}${ALIVE}`, { dispatcher: agentFor(plain) });
    expect(res.statusCode).toBe(204);
    await res.body.dump();
  }

  it.each([
    ['a DER sign octet (0x00 before a high first byte)', '00FF0102030405', 'FF0102030405'],
    ['the largest positive 20-octet serial', `7F${'FF'.repeat(19)}`, `7F${'FF'.repeat(19)}`],
    ['a one-octet serial', '01', '01'],
    ['a leading zero nibble', '0A0B0C', '0A0B0C'],
  ])('auto-accepts a device whose certificate serial has %s', async (_name, serial, printed) => {
    const subject = rawName([[['O', 'Odd "Org", Ltd.']], [['CN', `dev-${serial.slice(0, 8)}`]]]);
    const cert = await issue({ subject, serial, ca });
    expect(cert.serial).toBe(printed);
    const device = new SimulatedDevice(`02:00:00:00:0d:${serial.slice(-2).toLowerCase()}`);
    expect(await device.authenticate(gw.httpsUrl!, agentFor(cert))).toBe(200);
    expectLogIntact();
  });

  it('logs the subject of an odd expired certificate safely: one escaped field, no forged or split lines', async () => {
    const subject = rawName([
      [['O', 'A, B "C" \\ Ltd.']],
      [
        ['OU', 'multi'],
        ['CN', 'valued'],
      ],
      [['CN', ODD_CN]],
    ]);
    const cert = await issue({ subject, serial: '00C0FFEE', ca, expired: true });
    const device = new SimulatedDevice('02:00:00:00:0d:ee');
    expect(await device.authenticate(gw.httpsUrl!, agentFor(cert))).toBe(200);
    const line = await gw.logs.waitFor((l) => l.msg.startsWith('mTLS: expired device certificate accepted'));
    expect(line).toMatchObject({ level: 'warn', serial: 'C0FFEE' });
    const logged = String(line.subject);
    // OpenSSL escapes control characters inside the value; pino escapes what is left.
    expect(logged).toContain('evil\\0A');
    expect(logged).toContain('Ωμέγα 设备 🚀');
    expect(logged).toContain('z'.repeat(2_000));
    // eslint-disable-next-line no-control-regex -- control characters are what must not appear
    expect(logged).not.toMatch(/[\u0000-\u001f]/);
    expectLogIntact();
    await stillServes();
  });

  it('refuses a blacklisted odd serial (listed with its sign octet and colons) and logs it', async () => {
    const cert = await issue({
      subject: rawName([[['CN', `revoked\n${FORGED_LINE}`]]]),
      serial: '00ABCDEF01',
      ca,
    });
    expect(cert.serial).toBe('ABCDEF01');
    const status = await request(`${gw.httpsUrl}${ALIVE}`, { dispatcher: agentFor(cert) }).then(
      async (res) => {
        await res.body.dump();
        return res.statusCode;
      },
      () => 0,
    );
    expect(status).toBe(0);
    const line = await gw.logs.waitFor((l) => l.msg === 'mTLS: device refused' && l.serial === 'ABCDEF01');
    expect(String(line.reason)).toMatch(/blacklisted/);
    expectLogIntact();
    await stillServes();
  });

  it('refuses an odd certificate from another CA with the same name', async () => {
    const cert = await issue({ subject: rawName([[['CN', ODD_CN]]]), serial: '00FF0102030405', ca: otherCa });
    const status = await request(`${gw.httpsUrl}${ALIVE}`, { dispatcher: agentFor(cert) }).then(
      async (res) => {
        await res.body.dump();
        return res.statusCode;
      },
      () => 0,
    );
    expect(status).toBe(0);
    await gw.logs.waitFor(
      (l) => l.msg === 'mTLS: device refused' && String(l.reason).includes('not trusted'),
    );
    expectLogIntact();
    await stillServes();
  });

  it('answers 413 to an auth request body over 1 MiB without preauthorizing or relaying it', async () => {
    const cert = await issue({ subject: rawName([[['CN', 'big-body']]]), serial: '0B16', ca });
    const [preauths, authRequests] = [
      upstream.state.preauthorizations.length,
      upstream.state.authRequests.length,
    ];
    const body = Buffer.alloc(1024 * 1024 + 1, 0x20);
    const res = await request(`${gw.httpsUrl}${AUTH}`, {
      method: 'POST',
      dispatcher: agentFor(cert),
      headers: { 'content-type': 'application/json', 'x-men-signature': 'c2ln' },
      body,
    });
    expect(res.statusCode).toBe(413);
    await res.body.dump();
    expect(upstream.state.preauthorizations.length).toBe(preauths);
    expect(upstream.state.authRequests.length).toBe(authRequests);
    await stillServes();
  });

  it.each([
    ['in id_data', true],
    ['in the body itself', false],
  ])(
    'answers 400 JSON to an auth request nested too deeply %s, without preauthorizing or relaying it',
    async (_where, inIdData) => {
      const depth = 100_000;
      const deep = `${'['.repeat(depth)}${']'.repeat(depth)}`;
      const cert = await issue({ subject: rawName([[['CN', 'deep-body']]]), serial: '0B18', ca });
      const device = new SimulatedDevice('02:00:00:00:de:e1');
      // Built as text: JSON.stringify cannot write what an attacker sends.
      const idData = inIdData ? `{"mac":"${device.mac}","x":${deep}}` : `{"mac":"${device.mac}"}`;
      const body = Buffer.from(
        `{"id_data":${JSON.stringify(idData)},"pubkey":${JSON.stringify(device.publicKeyPem)}${inIdData ? '' : `,"x":${deep}`}}`,
      );
      const [preauths, authRequests] = [
        upstream.state.preauthorizations.length,
        upstream.state.authRequests.length,
      ];
      const failures = (await gw.gateway.metrics.upstreamErrors.get()).values.length;
      const res = await request(`${gw.httpsUrl}${AUTH}`, {
        method: 'POST',
        dispatcher: agentFor(cert),
        headers: { 'content-type': 'application/json', 'x-men-signature': device.signature(body) },
        body,
      });
      expect(res.statusCode).toBe(400);
      expect(res.headers['content-type']).toMatch(/application\/json/);
      expect((await res.body.json()) as { error: string }).toMatchObject({
        error: expect.stringMatching(/nested deeper than 64/) as unknown,
      });
      expect(upstream.state.preauthorizations.length).toBe(preauths);
      expect(upstream.state.authRequests.length).toBe(authRequests);
      expect((await gw.gateway.metrics.upstreamErrors.get()).values.length).toBe(failures);
      expectLogIntact();
      await stillServes();
    },
  );

  it('answers 408 to an auth request body that stops arriving, and closes the connection', async () => {
    const cert = await issue({ subject: rawName([[['CN', 'stalled-body']]]), serial: '0B17', ca });
    const answer = await rawExchange(
      gw.httpsUrl!,
      `POST ${AUTH} HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{"id_data":`,
      {
        tls: {
          ca: upstream.pki.ca.certPem,
          cert: cert.certPem,
          key: cert.keyPem,
          servername: 'gateway.test',
        },
        waitMs: 10_000,
      },
    );
    expect(answer.status).toBe(408);
    expect(answer.closed).toBe(true);
    await gw.logs.waitFor((l) => l.msg === 'request' && l.status === 408 && l.path === AUTH);
    await stillServes();
  });
});
