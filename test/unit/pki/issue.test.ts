import { execFile } from 'node:child_process';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { x509 } from '../../../src/core/pki/x509-provider.js';
import {
  certificateFilePem,
  createIssuer,
  describeKey,
  generateKey,
  issueCa,
  issueDevices,
  issueServer,
  keyFilePem,
  loadIssuer,
  parseDeviceIdentity,
  resolveKeySpec,
} from '../../../src/core/pki/index.js';
import type { IssuedCertificate, Issuer } from '../../../src/core/pki/index.js';

const run = promisify(execFile);

/** Minimal DER reader: the raw bytes of the TBSCertificate's issuer and subject. */
function tlv(buf: Buffer, offset: number): { start: number; end: number; content: number } {
  let length = buf[offset + 1] ?? 0;
  let header = 2;
  if (length & 0x80) {
    const octets = length & 0x7f;
    length = 0;
    for (let i = 0; i < octets; i++) length = length * 256 + (buf[offset + 2 + i] ?? 0);
    header += octets;
  }
  return { start: offset, content: offset + header, end: offset + header + length };
}
function rawNames(der: Buffer): { issuer: Buffer; subject: Buffer } {
  const tbs = tlv(der, tlv(der, 0).content);
  const fields: Buffer[] = [];
  for (let at = tbs.content; at < tbs.end;) {
    const field = tlv(der, at);
    fields.push(der.subarray(field.start, field.end));
    at = field.end;
  }
  // [0] version, serial, signature algorithm, issuer, validity, subject
  return { issuer: fields[3]!, subject: fields[5]! };
}

const der = (c: x509.X509Certificate): Buffer => Buffer.from(c.rawData);
const node = (c: x509.X509Certificate): X509Certificate => new X509Certificate(der(c));

async function issuerOf(ca: IssuedCertificate, now?: Date): Promise<Issuer> {
  return createIssuer(ca.certificate, ca.privateKey, {
    source: 'test CA',
    rest: ca.chain,
    ...(now ? { now } : {}),
  });
}

describe('key generation', () => {
  it.each([
    [{ type: 'ecdsa' as const }, 'ecdsa-p256'],
    [{ type: 'rsa' as const, rsaBits: 2048 as const }, 'rsa-2048'],
    [{ type: 'ed25519' as const }, 'ed25519'],
  ])('%j gives %s', async (spec, label) => {
    const keys = await generateKey(spec);
    const description = describeKey(keys.privateKey);
    expect(description).toMatchObject({ label });
  });

  it('resolves key specs from flags', () => {
    expect(resolveKeySpec({})).toEqual({ type: 'ecdsa' });
    expect(resolveKeySpec({ type: 'rsa' })).toEqual({ type: 'rsa', rsaBits: 3072 });
    expect(resolveKeySpec({ type: 'rsa', rsaBits: 4096 })).toEqual({ type: 'rsa', rsaBits: 4096 });
    expect(() => resolveKeySpec({ type: 'ecdsa', rsaBits: 2048 })).toThrow(
      /RSA key size does not apply to ecdsa keys/,
    );
    expect(() => resolveKeySpec({ type: 'rsa', rsaBits: 1024 })).toThrow(/unsupported RSA key size 1024/);
    expect(() => resolveKeySpec({ type: 'dsa' })).toThrow(/unknown key type "dsa"/);
  });
});

describe('issuing', () => {
  let root: IssuedCertificate;
  let rootIssuer: Issuer;

  beforeAll(async () => {
    root = await issueCa({ commonName: 'Acme Root CA', organization: 'Acme' });
    rootIssuer = await issuerOf(root);
  });

  it('a root CA: self-signed, CA:TRUE pathLen 1 critical, keyCertSign|cRLSign critical, SKI = AKI, no EKU', () => {
    const cert = root.certificate;
    expect(cert.subject).toBe('O=Acme, CN=Acme Root CA');
    expect(cert.issuer).toBe(cert.subject);
    const bc = cert.getExtension(x509.BasicConstraintsExtension);
    expect(bc).toMatchObject({ ca: true, pathLength: 1, critical: true });
    const ku = cert.getExtension(x509.KeyUsagesExtension);
    expect(ku?.critical).toBe(true);
    expect(ku?.usages).toBe(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign);
    const ski = cert.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId;
    expect(ski).toMatch(/^[0-9a-f]{40}$/);
    expect(cert.getExtension(x509.AuthorityKeyIdentifierExtension)?.keyId).toBe(ski);
    expect(cert.getExtension(x509.ExtendedKeyUsageExtension)).toBeNull();
    expect(node(cert).ca).toBe(true);
    expect(node(cert).verify(node(cert).publicKey)).toBe(true);
    expect(root.keyType).toBe('ecdsa-p256');
    expect(cert.signatureAlgorithm).toMatchObject({ name: 'ECDSA', hash: { name: 'SHA-256' } });
    expect(root.chain).toEqual([]);
    expect(rootIssuer.selfSigned).toBe(true);
  });

  it('an intermediate: signed by the root, pathLen 0, AKI = root SKI, issuer bytes = root subject bytes', async () => {
    const intermediate = await issueCa({
      commonName: 'Acme Factory CA',
      issuer: rootIssuer,
      key: { type: 'ed25519' },
    });
    const cert = intermediate.certificate;
    expect(cert.issuer).toBe('O=Acme, CN=Acme Root CA');
    expect(cert.getExtension(x509.BasicConstraintsExtension)).toMatchObject({ ca: true, pathLength: 0 });
    expect(cert.getExtension(x509.AuthorityKeyIdentifierExtension)?.keyId).toBe(rootIssuer.keyIdentifier);
    expect(node(cert).checkIssued(node(root.certificate))).toBe(true);
    expect(node(cert).verify(node(root.certificate).publicKey)).toBe(true);
    // Go builds chains by comparing raw issuer and subject bytes.
    expect(rawNames(der(cert)).issuer.equals(rawNames(der(root.certificate)).subject)).toBe(true);
    expect(intermediate.chain).toEqual([]);

    // Below an intermediate with pathLen 0 no further CA may be issued.
    const intermediateIssuer = await issuerOf(intermediate);
    await expect(issueCa({ commonName: 'Too deep', issuer: intermediateIssuer })).rejects.toMatchObject({
      code: 'MGW_PKI_CA_UNUSABLE',
    });
    await expect(issueCa({ commonName: 'Too wide', issuer: rootIssuer, pathLength: 1 })).rejects.toThrow(
      /exceeds what test CA allows \(at most 0\)/,
    );
  });

  it('a server certificate: CN = first name, SANs, serverAuth, digitalSignature (+keyEncipherment for RSA), CA:FALSE', async () => {
    const server = await issueServer({
      dns: ['gw.example.com'],
      ip: ['10.0.0.1'],
      issuer: rootIssuer,
      key: { type: 'rsa', rsaBits: 2048 },
    });
    const cert = server.certificate;
    expect(cert.subject).toBe('CN=gw.example.com');
    expect(cert.getExtension(x509.ExtendedKeyUsageExtension)?.usages).toEqual([
      x509.ExtendedKeyUsage.serverAuth,
    ]);
    expect(cert.getExtension(x509.KeyUsagesExtension)?.usages).toBe(
      x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment,
    );
    expect(cert.getExtension(x509.BasicConstraintsExtension)).toMatchObject({ ca: false, critical: true });
    expect(node(cert).ca).toBe(false);
    expect(server.keyType).toBe('rsa-2048');
    // Signed by the EC root: the signature algorithm follows the issuer's key.
    expect(cert.signatureAlgorithm).toMatchObject({ name: 'ECDSA', hash: { name: 'SHA-256' } });
    expect(node(cert).checkPrivateKey(server.privateKey)).toBe(true);
  });

  it('device certificates: CN = identity value, clientAuth, each with its own key, one validity period', async () => {
    const identities = ['mac=02:00:00:00:00:01', 'mac=02:00:00:00:00:02', 'mac=02:00:00:00:00:03'].map(
      parseDeviceIdentity,
    );
    const devices = await issueDevices({
      identities,
      issuer: rootIssuer,
      organization: 'Acme',
      concurrency: 2,
    });
    expect(devices.map((d) => d.certificate.subject)).toEqual([
      'O=Acme, CN=02:00:00:00:00:01',
      'O=Acme, CN=02:00:00:00:00:02',
      'O=Acme, CN=02:00:00:00:00:03',
    ]);
    for (const device of devices) {
      expect(device.certificate.getExtension(x509.ExtendedKeyUsageExtension)?.usages).toEqual([
        x509.ExtendedKeyUsage.clientAuth,
      ]);
      expect(device.certificate.getExtension(x509.KeyUsagesExtension)?.usages).toBe(
        x509.KeyUsageFlags.digitalSignature,
      );
      expect(device.certificate.notAfter).toEqual(devices[0]?.certificate.notAfter);
      expect(device.identity?.value).toBe(device.certificate.subject.split('CN=')[1]);
    }
    const keys = new Set(
      devices.map((d) => d.privateKey.export({ type: 'pkcs8', format: 'der' }).toString('hex')),
    );
    expect(keys.size).toBe(3);
    const serials = new Set(devices.map((d) => d.certificate.serialNumber));
    expect(serials.size).toBe(3);
  });

  it('cuts a leaf back to the CA expiry, and warns only when --days asked for more', async () => {
    const shortCa = await issueCa({ commonName: 'Short CA', days: 10 });
    const issuer = await issuerOf(shortCa);
    const [byDefault] = await issueDevices({ identities: [parseDeviceIdentity('d1')], issuer });
    expect(byDefault?.certificate.notAfter).toEqual(shortCa.certificate.notAfter);
    expect(byDefault?.warnings).toEqual([]);
    const [explicit] = await issueDevices({ identities: [parseDeviceIdentity('d2')], issuer, days: 365 });
    expect(explicit?.warnings[0]).toMatch(/cut back to the issuing CA's expiry/);
  });

  it('writes PEM a Go or OpenSSL client reads: PKCS#8 key, leaf first then chain', async () => {
    const intermediate = await issueCa({ commonName: 'Chain CA', issuer: rootIssuer });
    const [device] = await issueDevices({
      identities: [parseDeviceIdentity('chain-1')],
      issuer: await issuerOf(intermediate),
    });
    if (device === undefined) throw new Error('no device');
    expect(device.chain.map((c) => c.subject)).toEqual(['CN=Chain CA']);
    const withChain = certificateFilePem(device, { includeChain: true });
    expect(withChain.match(/-----BEGIN CERTIFICATE-----/g)).toHaveLength(2);
    expect(
      certificateFilePem(device, { includeChain: false }).match(/-----BEGIN CERTIFICATE-----/g),
    ).toHaveLength(1);
    expect(new X509Certificate(withChain).subject).toBe('CN=chain-1');
    const key = keyFilePem(device);
    expect(key).toMatch(/^-----BEGIN PRIVATE KEY-----\n[\s\S]+\n-----END PRIVATE KEY-----\n$/);
    expect(createPrivateKey(key).asymmetricKeyType).toBe('ec');
  });
});

describe('loading the issuing CA', () => {
  let dir: string;
  let root: IssuedCertificate;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mgw-issuer-'));
    root = await issueCa({ commonName: 'Load Root' });
    await writeFile(join(dir, 'root.crt'), certificateFilePem(root, { includeChain: true }));
    await writeFile(join(dir, 'root.key'), keyFilePem(root));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('loads an intermediate with its chain file and drops the root from the chain', async () => {
    const rootIssuer = await loadIssuer({
      certificatePath: join(dir, 'root.crt'),
      keyPath: join(dir, 'root.key'),
    });
    const intermediate = await issueCa({ commonName: 'Load Intermediate', issuer: rootIssuer });
    // intermediate.crt = intermediate + root: the root must not end up in chains.
    await writeFile(
      join(dir, 'int.crt'),
      certificateFilePem(intermediate, { includeChain: true }) +
        certificateFilePem(root, { includeChain: false }),
    );
    await writeFile(join(dir, 'int.key'), keyFilePem(intermediate));
    const issuer = await loadIssuer({ certificatePath: join(dir, 'int.crt'), keyPath: join(dir, 'int.key') });
    expect(issuer.selfSigned).toBe(false);
    expect(issuer.chain).toEqual([]);
    expect(issuer.pathLength).toBe(0);
    const [device] = await issueDevices({ identities: [parseDeviceIdentity('x1')], issuer });
    expect(device?.chain.map((c) => c.subject)).toEqual(['CN=Load Intermediate']);
  });

  it.each([
    [
      'a leaf as CA',
      async () => {
        const rootIssuer = await issuerOf(root);
        const server = await issueServer({ dns: ['leaf.example'], issuer: rootIssuer });
        return { cert: certificateFilePem(server, { includeChain: false }), key: keyFilePem(server) };
      },
      /is not a CA certificate/,
    ],
    [
      'a key that does not match',
      async () => {
        const other = await issueCa({ commonName: 'Other' });
        return { cert: certificateFilePem(root, { includeChain: false }), key: keyFilePem(other) };
      },
      /is not the private key of/,
    ],
    [
      'an encrypted key',
      () =>
        Promise.resolve({
          cert: certificateFilePem(root, { includeChain: false }),
          key: root.privateKey
            .export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'secret' })
            .toString(),
        }),
      /is encrypted/,
    ],
    [
      'no certificate at all',
      () => Promise.resolve({ cert: 'hello\n', key: keyFilePem(root) }),
      /holds no PEM certificate/,
    ],
    [
      'a garbage key',
      () => Promise.resolve({ cert: certificateFilePem(root, { includeChain: false }), key: 'not a key' }),
      /is not a readable PEM private key/,
    ],
  ])('refuses %s', async (_name, make, message) => {
    const { cert, key } = await make();
    const name = String(Math.random()).slice(2);
    await writeFile(join(dir, `${name}.crt`), cert);
    await writeFile(join(dir, `${name}.key`), key);
    const attempt = loadIssuer({
      certificatePath: join(dir, `${name}.crt`),
      keyPath: join(dir, `${name}.key`),
    });
    await expect(attempt).rejects.toThrow(message);
    await expect(
      loadIssuer({ certificatePath: join(dir, `${name}.crt`), keyPath: join(dir, `${name}.key`) }),
    ).rejects.toMatchObject({ code: 'MGW_PKI_CA_UNUSABLE' });
  });

  it('refuses an expired CA and one not yet valid', async () => {
    await expect(
      createIssuer(root.certificate, root.privateKey, {
        source: 'ca.crt',
        now: new Date(Date.now() + 3651 * 86_400_000),
      }),
    ).rejects.toThrow(/ca\.crt expired on/);
    await expect(
      createIssuer(root.certificate, root.privateKey, {
        source: 'ca.crt',
        now: new Date(Date.now() - 86_400_000),
      }),
    ).rejects.toThrow(/not valid before/);
  });

  it('refuses a chain file in the wrong order', async () => {
    const rootIssuer = await issuerOf(root);
    const a = await issueCa({ commonName: 'A', issuer: rootIssuer });
    const unrelated = await issueCa({ commonName: 'Unrelated' });
    await expect(
      createIssuer(a.certificate, a.privateKey, { source: 'a.crt', rest: [unrelated.certificate] }),
    ).rejects.toThrow(/did not issue/);
  });

  it('accepts a CA made by openssl (SEC1 EC key, UTF8String names) and matches its subject bytes', async () => {
    const env = { ...process.env, OPENSSL_CONF: '/dev/null' };
    await run('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'ossl.key'], {
      cwd: dir,
      env,
    });
    await run(
      'openssl',
      [
        'req',
        '-x509',
        '-new',
        '-key',
        'ossl.key',
        '-subj',
        '/C=NO/O=Acme AS/CN=OpenSSL Root',
        '-days',
        '30',
        '-out',
        'ossl.crt',
        '-addext',
        'basicConstraints=critical,CA:TRUE',
        '-addext',
        'keyUsage=critical,keyCertSign,cRLSign',
        '-addext',
        'subjectKeyIdentifier=hash',
      ],
      { cwd: dir, env },
    );
    expect(await readFile(join(dir, 'ossl.key'), 'utf8')).toMatch(/BEGIN EC PRIVATE KEY/);
    const issuer = await loadIssuer({
      certificatePath: join(dir, 'ossl.crt'),
      keyPath: join(dir, 'ossl.key'),
    });
    expect(issuer.pathLength).toBeUndefined();
    const [device] = await issueDevices({ identities: [parseDeviceIdentity('ossl-1')], issuer });
    if (device === undefined) throw new Error('no device');
    expect(rawNames(der(device.certificate)).issuer.equals(rawNames(der(issuer.certificate)).subject)).toBe(
      true,
    );
    expect(device.certificate.getExtension(x509.AuthorityKeyIdentifierExtension)?.keyId).toBe(
      issuer.certificate.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId,
    );
    // Cut back to the 30-day CA.
    expect(device.certificate.notAfter.getTime()).toBeLessThanOrEqual(issuer.certificate.notAfter.getTime());
    await writeFile(join(dir, 'ossl-device.crt'), certificateFilePem(device, { includeChain: false }));
    const { stdout } = await run(
      'openssl',
      ['verify', '-x509_strict', '-purpose', 'sslclient', '-CAfile', 'ossl.crt', 'ossl-device.crt'],
      { cwd: dir, env },
    );
    expect(stdout.trim()).toBe('ossl-device.crt: OK');
  });
});
