import { readFile } from 'node:fs/promises';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { GatewayError } from '../errors.js';
import { key as configKey } from '../config-key.js';

export interface ServerTlsMaterial {
  cert: string;
  key: string;
}

async function readPem(path: string, what: string, key: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    throw new GatewayError('MGW_TLS_MATERIAL', `cannot read ${key} ${path}`, {
      cause: err,
      hint: `Check that the ${what} exists and that the gateway user may read it.`,
    });
  }
}

/**
 * Load and check the HTTPS listener's certificate and key before any listener opens, so a
 * bad file is one clear error at start-up instead of a TLS failure on the first device.
 */
export async function loadServerTls(certPath: string, keyPath: string): Promise<ServerTlsMaterial> {
  const cert = await readPem(certPath, 'server certificate', configKey('HTTPS.ServerCertificate'));
  const key = await readPem(keyPath, 'server key', configKey('HTTPS.ServerKey'));
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(cert);
  } catch (err) {
    throw new GatewayError(
      'MGW_TLS_MATERIAL',
      `${configKey('HTTPS.ServerCertificate')} ${certPath} is not a PEM certificate`,
      {
        cause: err,
        hint: 'The file must start with "-----BEGIN CERTIFICATE-----" (leaf first, then intermediates).',
      },
    );
  }
  try {
    if (!leaf.checkPrivateKey(createPrivateKey(key))) {
      throw new GatewayError(
        'MGW_TLS_MATERIAL',
        `${configKey('HTTPS.ServerKey')} ${keyPath} does not match ${configKey('HTTPS.ServerCertificate')} ${certPath}`,
        {
          hint: 'Use the key the certificate was issued for.',
        },
      );
    }
  } catch (err) {
    if (err instanceof GatewayError) throw err;
    throw new GatewayError(
      'MGW_TLS_MATERIAL',
      `${configKey('HTTPS.ServerKey')} ${keyPath} is not a readable private key`,
      {
        cause: err,
        hint: 'Give an unencrypted PEM private key (PKCS#8, PKCS#1 or SEC1).',
      },
    );
  }
  return { cert, key };
}
