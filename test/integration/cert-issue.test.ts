import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, request } from 'node:https';
import type { Server } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TLSSocket } from 'node:tls';
import type { SecureVersion } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueCaFiles, issueDeviceFiles, issueServerFiles } from '../../src/core/pki/index.js';
import type { IssueResult } from '../../src/core/pki/index.js';

/**
 * `cert issue` output is accepted by the tools that will meet it: `openssl verify` (strict,
 * with the TLS client/server purposes, directly under the root and through an intermediate),
 * and Node's TLS stack doing mTLS the way the gateway does (`requestCert` +
 * `rejectUnauthorized` against the issued root). One PKI per key type the Mender client
 * supports: ECDSA P-256, RSA 2048 and Ed25519. Device certificates of a second, unrelated CA
 * must be refused.
 *
 * The device batch of each PKI is issued by the built `mender-gw` binary (needs `npm run
 * build`), everything else through the core API the commands call.
 */

const execFileAsync = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(ROOT, 'bin/run.js');
const OPENSSL_ENV = { ...process.env, OPENSSL_CONF: '/dev/null' };

async function openssl(args: string[], cwd: string): Promise<{ ok: boolean; output: string }> {
  try {
    const { stdout, stderr } = await execFileAsync('openssl', args, { cwd, env: OPENSSL_ENV });
    return { ok: true, output: `${stdout}${stderr}`.trim() };
  } catch (err) {
    const { stdout = '', stderr = '' } = err as { stdout?: string; stderr?: string };
    return { ok: false, output: `${stdout}${stderr}`.trim() };
  }
}

async function mgw(args: string[]): Promise<IssueResult> {
  const { stdout } = await execFileAsync(process.execPath, [BIN, ...args, '--json'], {
    env: { ...process.env, CI: '1' },
  });
  return JSON.parse(stdout) as IssueResult;
}

interface MtlsServer {
  port: number;
  /** Subjects of the client certificates of requests that reached the handler. */
  seen: string[];
  close(): Promise<void>;
}

async function startMtlsServer(files: { cert: string; key: string; ca: string }): Promise<MtlsServer> {
  const seen: string[] = [];
  const server: Server = createServer(
    {
      cert: await readFile(files.cert),
      key: await readFile(files.key),
      ca: await readFile(files.ca),
      requestCert: true,
      rejectUnauthorized: true,
      minVersion: 'TLSv1.2',
    },
    (req, res) => {
      const socket = req.socket;
      if (!(socket instanceof TLSSocket)) throw new Error('not a TLS socket');
      const peer = socket.getPeerX509Certificate();
      seen.push(peer?.subject ?? '(none)');
      res.end(
        JSON.stringify({
          authorized: socket.authorized,
          subject: peer?.subject,
          protocol: socket.getProtocol(),
        }),
      );
    },
  );
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  // A refused handshake is expected in some tests; keep it from being an unhandled error.
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    seen,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

interface Answer {
  authorized: boolean;
  subject: string;
  protocol: string;
}

async function mtlsGet(
  port: number,
  options: { ca: string; cert?: string; key?: string; servername?: string; maxVersion?: SecureVersion },
): Promise<Answer> {
  const tls = {
    ca: await readFile(options.ca),
    ...(options.cert === undefined ? {} : { cert: await readFile(options.cert) }),
    ...(options.key === undefined ? {} : { key: await readFile(options.key) }),
    ...(options.maxVersion === undefined ? {} : { maxVersion: options.maxVersion }),
  };
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: '/',
        agent: false,
        ...(options.servername === undefined ? {} : { servername: options.servername }),
        ...tls,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          try {
            resolve(JSON.parse(Buffer.concat(chunks).toString()) as Answer);
          } catch (err) {
            reject(err instanceof Error ? err : new Error(String(err)));
          }
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

const KEY_TYPES = [
  { label: 'ECDSA P-256', keyType: 'ecdsa', rsaBits: undefined, summary: 'ecdsa-p256' },
  { label: 'RSA 2048', keyType: 'rsa', rsaBits: 2048, summary: 'rsa-2048' },
  { label: 'Ed25519', keyType: 'ed25519', rsaBits: undefined, summary: 'ed25519' },
] as const;

beforeAll(() => {
  if (!existsSync(join(ROOT, 'dist/commands/cert/issue/device.js'))) {
    throw new Error('dist/ is missing or stale: run `npm run build` before these tests (npm test does)');
  }
});

describe.each(KEY_TYPES)('cert issue with $label keys', ({ keyType, rsaBits, summary }) => {
  let dir: string;
  const key = { keyType, rsaBits };
  const at = (...parts: string[]): string => join(dir, ...parts);
  const ROOT_ID = 'mac=02:00:00:00:00:01';
  const VIA_INTERMEDIATE_ID = 'mac=02:00:00:00:01:01';
  let server: MtlsServer;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), `mgw-cert-issue-${keyType}-`));
    // root → intermediate → server; devices under the root and under the intermediate.
    await issueCaFiles({ commonName: `Root ${keyType}`, organization: 'Acme', outDir: dir, ...key });
    await issueCaFiles({
      commonName: `Intermediate ${keyType}`,
      name: 'intermediate',
      outDir: dir,
      caCertificatePath: at('ca.crt'),
      caKeyPath: at('ca.key'),
      ...key,
    });
    await issueServerFiles({
      dns: ['localhost', 'gateway.test'],
      ip: ['127.0.0.1'],
      outDir: dir,
      caCertificatePath: at('intermediate.crt'),
      caKeyPath: at('intermediate.key'),
      ...key,
    });
    const keyArgs = [
      '--key-type',
      keyType,
      ...(rsaBits === undefined ? [] : ['--rsa-bits', String(rsaBits)]),
    ];
    const direct = await mgw([
      'cert',
      'issue',
      'device',
      '--ca-cert',
      at('ca.crt'),
      '--ca-key',
      at('ca.key'),
      '--identity',
      ROOT_ID,
      '--count',
      '2',
      '--out-dir',
      at('direct'),
      ...keyArgs,
    ]);
    expect(direct.certificates.map((c) => [c.subject, c.keyType, c.certificatesInFile])).toEqual([
      ['CN=02:00:00:00:00:01', summary, 1],
      ['CN=02:00:00:00:00:02', summary, 1],
    ]);
    await issueDeviceFiles({
      identity: VIA_INTERMEDIATE_ID,
      outDir: at('via-intermediate'),
      caCertificatePath: at('intermediate.crt'),
      caKeyPath: at('intermediate.key'),
      ...key,
    });
    await issueDeviceFiles({
      identity: VIA_INTERMEDIATE_ID,
      outDir: at('no-chain'),
      chain: false,
      caCertificatePath: at('intermediate.crt'),
      caKeyPath: at('intermediate.key'),
      ...key,
    });
    // An unrelated CA with a device of the same identity.
    await issueCaFiles({
      commonName: `Root ${keyType}`,
      organization: 'Acme',
      outDir: at('foreign'),
      ...key,
    });
    await issueDeviceFiles({
      identity: ROOT_ID,
      outDir: at('foreign'),
      caCertificatePath: at('foreign', 'ca.crt'),
      caKeyPath: at('foreign', 'ca.key'),
      ...key,
    });

    server = await startMtlsServer({ cert: at('server.crt'), key: at('server.key'), ca: at('ca.crt') });
  });

  afterAll(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  describe('openssl verify', () => {
    it('accepts the intermediate CA under the root', async () => {
      expect(await openssl(['verify', '-x509_strict', '-CAfile', 'ca.crt', 'intermediate.crt'], dir)).toEqual(
        { ok: true, output: 'intermediate.crt: OK' },
      );
    });

    it('accepts a device certificate issued by the root, for TLS client use', async () => {
      const file = 'direct/device-02-00-00-00-00-01.crt';
      expect(
        await openssl(['verify', '-x509_strict', '-purpose', 'sslclient', '-CAfile', 'ca.crt', file], dir),
      ).toEqual({ ok: true, output: `${file}: OK` });
    });

    it('accepts a device certificate issued by the intermediate, with the intermediate as untrusted chain', async () => {
      const file = 'via-intermediate/device-02-00-00-00-01-01.crt';
      expect(
        await openssl(
          [
            'verify',
            '-x509_strict',
            '-purpose',
            'sslclient',
            '-CAfile',
            'ca.crt',
            '-untrusted',
            'intermediate.crt',
            file,
          ],
          dir,
        ),
      ).toEqual({
        ok: true,
        output: `${file}: OK`,
      });
    });

    it('accepts the server certificate for TLS server use, through the chain it carries', async () => {
      // server.crt holds server + intermediate; -untrusted reads every certificate in the file.
      expect(
        await openssl(
          [
            'verify',
            '-x509_strict',
            '-purpose',
            'sslserver',
            '-CAfile',
            'ca.crt',
            '-untrusted',
            'server.crt',
            'server.crt',
          ],
          dir,
        ),
      ).toEqual({
        ok: true,
        output: 'server.crt: OK',
      });
    });

    it('refuses a device certificate for server use (EKU clientAuth only)', async () => {
      const result = await openssl(
        ['verify', '-purpose', 'sslserver', '-CAfile', 'ca.crt', 'direct/device-02-00-00-00-00-01.crt'],
        dir,
      );
      expect(result.ok).toBe(false);
      expect(result.output).toMatch(/unsuitable certificate purpose/);
    });

    it('refuses a device certificate of another CA with the same name', async () => {
      const result = await openssl(
        ['verify', '-CAfile', 'ca.crt', 'foreign/device-02-00-00-00-00-01.crt'],
        dir,
      );
      expect(result.ok).toBe(false);
      expect(result.output).toMatch(/certificate signature failure|unable to get local issuer certificate/);
    });
  });

  describe('Node TLS with mTLS (requestCert, rejectUnauthorized, ca = issued root)', () => {
    it.each(['TLSv1.3', 'TLSv1.2'] as const)(
      'accepts a device certificate issued by the root (%s)',
      async (maxVersion) => {
        const answer = await mtlsGet(server.port, {
          ca: at('ca.crt'),
          cert: at('direct', 'device-02-00-00-00-00-02.crt'),
          key: at('direct', 'device-02-00-00-00-00-02.key'),
          maxVersion,
        });
        expect(answer).toEqual({ authorized: true, subject: 'CN=02:00:00:00:00:02', protocol: maxVersion });
      },
    );

    it('accepts a device certificate issued by the intermediate, sent with its chain', async () => {
      const answer = await mtlsGet(server.port, {
        ca: at('ca.crt'),
        cert: at('via-intermediate', 'device-02-00-00-00-01-01.crt'),
        key: at('via-intermediate', 'device-02-00-00-00-01-01.key'),
        servername: 'gateway.test',
      });
      expect(answer).toMatchObject({ authorized: true, subject: 'CN=02:00:00:00:01:01' });
    });

    it('verifies the server by host name and by IP address through the chain in server.crt', async () => {
      const byName = await mtlsGet(server.port, {
        ca: at('ca.crt'),
        cert: at('direct', 'device-02-00-00-00-00-01.crt'),
        key: at('direct', 'device-02-00-00-00-00-01.key'),
        servername: 'localhost',
      });
      expect(byName.authorized).toBe(true);
      await expect(
        mtlsGet(server.port, {
          ca: at('ca.crt'),
          cert: at('direct', 'device-02-00-00-00-00-01.crt'),
          key: at('direct', 'device-02-00-00-00-00-01.key'),
          servername: 'not-in-the-certificate.test',
        }),
      ).rejects.toMatchObject({ code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
    });

    it('refuses a device certificate from another CA', async () => {
      const before = server.seen.length;
      await expect(
        mtlsGet(server.port, {
          ca: at('ca.crt'),
          cert: at('foreign', 'device-02-00-00-00-00-01.crt'),
          key: at('foreign', 'device-02-00-00-00-00-01.key'),
        }),
      ).rejects.toThrow();
      expect(server.seen.length).toBe(before);
    });

    it('refuses a client without a certificate', async () => {
      const before = server.seen.length;
      await expect(mtlsGet(server.port, { ca: at('ca.crt') })).rejects.toThrow();
      expect(server.seen.length).toBe(before);
    });

    it('refuses an intermediate-issued device certificate sent without its chain (why --chain is the default)', async () => {
      await expect(
        mtlsGet(server.port, {
          ca: at('ca.crt'),
          cert: at('no-chain', 'device-02-00-00-00-01-01.crt'),
          key: at('no-chain', 'device-02-00-00-00-01-01.key'),
        }),
      ).rejects.toThrow();
    });
  });
});
