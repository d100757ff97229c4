import { createPublicKey, verify } from 'node:crypto';

/**
 * Check `X-MEN-Signature` over the exact body bytes with the body's own `pubkey` (docs/protocol.md §2.1): RSA
 * PKCS#1 v1.5 and ECDSA (DER) over SHA-256, Ed25519 over the raw body. Failing
 * early keeps the gateway from preauthorizing keys their sender does not hold (docs/protocol.md §3.7 step 4).
 */
export function verifyAuthSignature(body: Buffer, pubkeyPem: string, signatureBase64: string): boolean {
  try {
    const key = createPublicKey(pubkeyPem);
    const signature = Buffer.from(signatureBase64, 'base64');
    const algorithm = key.asymmetricKeyType === 'ed25519' ? null : 'sha256';
    return verify(algorithm, body, key, signature);
  } catch {
    return false;
  }
}
