import { verify } from 'node:crypto';
import type { KeyObject } from 'node:crypto';

/**
 * Check `X-MEN-Signature` over the exact body bytes (docs/protocol.md §2.1):
 * RSA → PKCS#1 v1.5 over SHA-256, ECDSA P-256 → DER `SEQUENCE{r,s}` over SHA-256,
 * Ed25519 → pure Ed25519 over the raw bytes. The header is standard base64.
 */
export function verifyAuthSignature(publicKey: KeyObject, body: Buffer, signatureB64: string): boolean {
  const signature = Buffer.from(signatureB64.trim(), 'base64');
  if (signature.length === 0) return false;
  try {
    const algorithm = publicKey.asymmetricKeyType === 'ed25519' ? null : 'sha256';
    // Node's default ECDSA encoding is DER, which is what Mender clients send.
    return verify(algorithm, body, publicKey, signature);
  } catch {
    return false;
  }
}
