import { webcrypto } from 'node:crypto';
import type { KeyObject } from 'node:crypto';

type CryptoKey = webcrypto.CryptoKey;
type ImportParams = webcrypto.RsaHashedImportParams | webcrypto.EcKeyImportParams | webcrypto.Algorithm;

/**
 * What a key is, in the terms certificates need: a stable label for summaries
 * (`ecdsa-p256`, `rsa-3072`, `ed25519`), how WebCrypto imports it, and the signature
 * algorithm it signs certificates with (SHA-256 except where the curve calls for more;
 * Ed25519 hashes internally).
 */
export interface KeyDescription {
  label: string;
  importParams: ImportParams;
  signingAlgorithm: webcrypto.Algorithm | webcrypto.EcdsaParams;
}

const EC_CURVES: Record<string, { curve: string; hash: string; label: string } | undefined> = {
  prime256v1: { curve: 'P-256', hash: 'SHA-256', label: 'ecdsa-p256' },
  secp384r1: { curve: 'P-384', hash: 'SHA-384', label: 'ecdsa-p384' },
  secp521r1: { curve: 'P-521', hash: 'SHA-512', label: 'ecdsa-p521' },
};

/**
 * Describe a private or public key, or return a reason it cannot sign or be certified here.
 * Generated keys are always P-256, RSA or Ed25519; a CA key loaded from a file may also be
 * P-384 or P-521 (signed with SHA-384/SHA-512, as is usual for those curves).
 */
export function describeKey(key: KeyObject): KeyDescription | { unsupported: string } {
  const type = key.asymmetricKeyType;
  const details = key.asymmetricKeyDetails ?? {};
  switch (type) {
    case 'ec': {
      const curve = EC_CURVES[details.namedCurve ?? ''];
      if (curve === undefined) return { unsupported: `EC curve ${details.namedCurve ?? '(unknown)'}` };
      return {
        label: curve.label,
        importParams: { name: 'ECDSA', namedCurve: curve.curve },
        signingAlgorithm: { name: 'ECDSA', hash: curve.hash },
      };
    }
    case 'rsa': {
      const bits = details.modulusLength ?? 0;
      if (bits < 2048) return { unsupported: `${bits}-bit RSA (at least 2048 bits are needed)` };
      return {
        label: `rsa-${bits}`,
        importParams: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
        signingAlgorithm: { name: 'RSASSA-PKCS1-v1_5' },
      };
    }
    case 'ed25519':
      return { label: 'ed25519', importParams: { name: 'Ed25519' }, signingAlgorithm: { name: 'Ed25519' } };
    case 'rsa-pss':
    case 'dsa':
    case 'ed448':
    case 'x25519':
    case 'x448':
    case undefined:
      return { unsupported: `${type ?? 'symmetric'} keys` };
  }
}

/** {@link describeKey} for keys this module produced itself: unsupported means a bug. */
export function describeOwnKey(key: KeyObject): KeyDescription {
  const description = describeKey(key);
  if ('unsupported' in description) throw new Error(`internal: cannot use ${description.unsupported}`);
  return description;
}

/** Hand a private key to WebCrypto (which @peculiar/x509 signs with), non-extractable. */
export async function importSigningKey(
  privateKey: KeyObject,
  description: KeyDescription,
): Promise<CryptoKey> {
  const pkcs8 = privateKey.export({ type: 'pkcs8', format: 'der' });
  return webcrypto.subtle.importKey('pkcs8', pkcs8, description.importParams, false, ['sign']);
}

/** The DER SubjectPublicKeyInfo of a key: what goes into a certificate and its SKI. */
export function subjectPublicKeyInfo(publicKey: KeyObject): Buffer {
  return publicKey.export({ type: 'spki', format: 'der' });
}

/** PKCS#8 PEM: what `cert issue` writes; Go's crypto/tls, OpenSSL and Node all read it. */
export function privateKeyPem(privateKey: KeyObject): string {
  return privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
}
