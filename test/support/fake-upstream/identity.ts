import { createPublicKey } from 'node:crypto';
import type { KeyObject } from 'node:crypto';

/**
 * Canonical identity: JSON with keys sorted, which is how deviceauth compares identities
 * whatever order the client serialised `id_data` in (docs/protocol.md §2.1, 4.x uses arbitrary order).
 */
export function canonicalIdentity(identity: Record<string, unknown>): string {
  const sorted = Object.keys(identity)
    .sort()
    .map((key) => [key, identity[key]] as const);
  return JSON.stringify(Object.fromEntries(sorted));
}

/**
 * Parse a PEM public key (RSA, ECDSA P-256, Ed25519; SPKI or PKCS#1) into a key object,
 * or undefined when it is not a usable key.
 */
export function parsePublicKey(pem: string): KeyObject | undefined {
  try {
    const key = createPublicKey(pem);
    const type = key.asymmetricKeyType;
    if (type === 'rsa' || type === 'ed25519') return key;
    if (type === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return key;
    return undefined;
  } catch {
    return undefined;
  }
}

/**
 * Normalised PEM: the server re-encodes keys before comparing them, so whitespace or
 * line-length differences never make a preauthorized key look different (docs/protocol.md §2.1,
 * ambassador 1.1.0 note in docs/protocol.md §3.2). Undefined when the text is not a key.
 */
export function normalisePubkey(pem: string): string | undefined {
  const key = parsePublicKey(pem);
  return key?.export({ type: 'spki', format: 'pem' }).toString();
}
