import 'reflect-metadata';
import { randomBytes, webcrypto, X509Certificate } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto);

/**
 * Certificates with any dates and any shape (intermediates, expired leaves) for the mTLS tests,
 * built in memory with @peculiar/x509 on Node's WebCrypto (ECDSA P-256 / SHA-256). The test PKI
 * (`test/support/test-pki.ts`) only issues leaves directly under its root.
 */
export interface FixtureCert {
  cert: X509Certificate;
  certPem: string;
  keyPem: string;
  /** Upper-case hex, as Node prints it. */
  serial: string;
  keys: webcrypto.CryptoKeyPair;
}

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY = 86_400_000;

function pem(label: string, der: ArrayBuffer): string {
  const b64 = Buffer.from(der).toString('base64');
  return `-----BEGIN ${label}-----\n${(b64.match(/.{1,64}/g) ?? []).join('\n')}\n-----END ${label}-----\n`;
}

function serialHex(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! & 0x7f) | 0x01;
  return bytes.toString('hex').toUpperCase();
}

async function finish(
  cert: x509.X509Certificate,
  keys: webcrypto.CryptoKeyPair,
  serial: string,
): Promise<FixtureCert> {
  const certPem = cert.toString('pem') + '\n';
  const keyPem = pem('PRIVATE KEY', await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  return { cert: new X509Certificate(certPem), certPem, keyPem, serial, keys };
}

export interface FixtureOptions {
  /** Default: signed by itself (a root). */
  issuer?: FixtureCert;
  ca?: boolean;
  notBefore?: Date;
  notAfter?: Date;
}

/** A CA (`ca: true`, the default) or a leaf, signed by `issuer` or self-signed. */
export async function issueFixture(commonName: string, options: FixtureOptions = {}): Promise<FixtureCert> {
  const keys = await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify']);
  const serial = serialHex();
  const ca = options.ca ?? true;
  const ski = await x509.SubjectKeyIdentifierExtension.create(keys.publicKey);
  const issuer = options.issuer;
  const extensions: x509.Extension[] = [new x509.BasicConstraintsExtension(ca, undefined, true), ski];
  if (ca)
    extensions.push(
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
    );
  extensions.push(
    issuer === undefined
      ? new x509.AuthorityKeyIdentifierExtension(ski.keyId)
      : await x509.AuthorityKeyIdentifierExtension.create(issuer.keys.publicKey),
  );
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial,
    subject: `CN=${commonName}`,
    // The issuer's subject re-encoded from its DER, so it matches byte for byte.
    issuer:
      issuer === undefined
        ? `CN=${commonName}`
        : new x509.Name(new x509.X509Certificate(issuer.certPem).subjectName.toArrayBuffer()),
    notBefore: options.notBefore ?? new Date(Date.now() - 60_000),
    notAfter: options.notAfter ?? new Date(Date.now() + 365 * DAY),
    publicKey: keys.publicKey,
    signingKey: issuer === undefined ? keys.privateKey : issuer.keys.privateKey,
    signingAlgorithm: ALG,
    extensions,
  });
  return finish(cert, keys, serial);
}

/** Load a CA made elsewhere (e.g. by the test PKI: PEM certificate, PKCS#8 EC P-256 key) to sign fixtures with it. */
export async function importFixture(certPem: string, keyPem: string): Promise<FixtureCert> {
  const der = Buffer.from(keyPem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
  const privateKey = await webcrypto.subtle.importKey('pkcs8', der, ALG, true, ['sign']);
  const cert = new x509.X509Certificate(certPem);
  const publicKey = await cert.publicKey.export(ALG, ['verify']);
  const node = new X509Certificate(certPem);
  return { cert: node, certPem, keyPem, serial: node.serialNumber, keys: { privateKey, publicKey } };
}

export const expiredValidity = (): { notBefore: Date; notAfter: Date } => ({
  notBefore: new Date(Date.now() - 2 * DAY),
  notAfter: new Date(Date.now() - DAY),
});
