import { createPublicKey, generateKeyPair } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import type { MenderKeyType } from './types.js';

const generate = promisify(generateKeyPair);

export interface DeviceKey {
  /** PKCS#8 PEM (`BEGIN PRIVATE KEY`), written to `data/mender-agent.pem`. */
  privateKeyPem: string;
  /** SPKI PEM (`BEGIN PUBLIC KEY`), what the client puts in the auth request's `pubkey`. */
  publicKeyPem: string;
}

/**
 * A device key the 3.4 client loads as is. Its OpenSSL-based loader reads PKCS#8 for all three
 * types (checked here: RSA, EC P-256 and Ed25519 keys all sign verifiable auth requests), so one
 * format serves all. RSA is 2048-bit rather than the client's own 3072 to keep generation fast.
 */
export async function generateDeviceKey(type: MenderKeyType): Promise<DeviceKey> {
  const pair =
    type === 'rsa'
      ? await generate('rsa', { modulusLength: 2048 })
      : type === 'ec'
        ? await generate('ec', { namedCurve: 'P-256' })
        : await generate('ed25519');
  return {
    privateKeyPem: pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKeyPem: pair.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

/**
 * SPKI PEM of the key in a PEM private key file. Used for mTLS devices: with `HttpsClient` set
 * and no `Security.AuthPrivateKey`, 3.4 signs auth requests with the client certificate's key
 * (checked here: the `pubkey` it sends is that key's, not `mender-agent.pem`'s).
 */
export async function publicKeyOfFile(privateKeyPath: string): Promise<string> {
  const key = createPublicKey(await readFile(privateKeyPath));
  return key.export({ type: 'spki', format: 'pem' }).toString();
}
