import { readFile } from 'node:fs/promises';
import { createTestPki } from './test-pki.js';

/**
 * Real PEM contents for configuration tests whose certificate, key and CA files only need
 * to pass the start-up checks (they parse, the key matches, the CA is a CA): one CA and a
 * server certificate for the host names of the documented examples.
 */
export interface TlsFileContents {
  serverCertificate: string;
  serverKey: string;
  caCertificate: string;
  /** The contents for a configuration key that names a file (`ServerKey`, `CACertificate`, …). */
  forKey(key: string): string;
  cleanup(): Promise<void>;
}

export async function createTlsFileContents(): Promise<TlsFileContents> {
  const pki = await createTestPki({ name: 'config-files' });
  const server = await pki.issueServer('gateway.docker.mender.io', {
    dns: ['gateway.docker.mender.io', 'gateway.mender.io', 'mender-gateway', 'localhost'],
    ips: ['127.0.0.1'],
  });
  const [serverCertificate, serverKey, caCertificate] = await Promise.all([
    readFile(server.certPath, 'utf8'),
    readFile(server.keyPath, 'utf8'),
    readFile(pki.ca.certPath, 'utf8'),
  ]);
  return {
    serverCertificate,
    serverKey,
    caCertificate,
    forKey(key) {
      if (key === 'ServerCertificate') return serverCertificate;
      if (key === 'ServerKey') return serverKey;
      if (key === 'BlacklistPath') return '# no revoked device certificates\n';
      return caCertificate;
    },
    cleanup: () => pki.cleanup(),
  };
}
