import { generateKeyPair } from 'node:crypto';
import { GatewayError } from '../errors.js';
import type { KeyObject } from 'node:crypto';

/**
 * Key types `cert issue` generates. ECDSA P-256 is the default because Mender's mTLS guide
 * uses it (`openssl ecparam -genkey -name P-256`); RSA and Ed25519 are the other two types
 * Mender's own mTLS tests exercise (docs/protocol.md §3.3).
 */
export const KEY_TYPES = ['ecdsa', 'rsa', 'ed25519'] as const;
export type KeyType = (typeof KEY_TYPES)[number];

export const RSA_KEY_SIZES = [2048, 3072, 4096] as const;
export type RsaKeySize = (typeof RSA_KEY_SIZES)[number];

export const DEFAULT_KEY_TYPE: KeyType = 'ecdsa';
/** NIST SP 800-57 puts 2048-bit RSA at the end of its life in 2030; Mender's tests use 3072. */
export const DEFAULT_RSA_KEY_SIZE: RsaKeySize = 3072;

export interface KeySpec {
  type: KeyType;
  /** Only for `rsa`; default {@link DEFAULT_RSA_KEY_SIZE}. */
  rsaBits?: RsaKeySize;
}

export interface GeneratedKeyPair {
  privateKey: KeyObject;
  publicKey: KeyObject;
}

export function isKeyType(value: string): value is KeyType {
  return (KEY_TYPES as readonly string[]).includes(value);
}

export function isRsaKeySize(value: number): value is RsaKeySize {
  return (RSA_KEY_SIZES as readonly number[]).includes(value);
}

/**
 * Generate a fresh key pair off the main thread (`crypto.generateKeyPair`, never the Sync
 * variant: RSA-4096 takes about a second and would stall the event loop).
 */
export function generateKey(spec: KeySpec): Promise<GeneratedKeyPair> {
  return new Promise((resolve, reject) => {
    const done = (err: Error | null, publicKey: KeyObject, privateKey: KeyObject): void => {
      if (err) reject(err);
      else resolve({ privateKey, publicKey });
    };
    switch (spec.type) {
      case 'ecdsa':
        generateKeyPair('ec', { namedCurve: 'P-256' }, done);
        break;
      case 'rsa':
        generateKeyPair(
          'rsa',
          { modulusLength: spec.rsaBits ?? DEFAULT_RSA_KEY_SIZE, publicExponent: 0x10001 },
          done,
        );
        break;
      case 'ed25519':
        generateKeyPair('ed25519', {}, done);
        break;
    }
  });
}

/**
 * Build a key spec from loose inputs (flags, prompts): the type defaults to ECDSA P-256 and
 * an RSA size is accepted only with the RSA type.
 */
export function resolveKeySpec(input: { type?: string | undefined; rsaBits?: number | undefined }): KeySpec {
  const type = input.type ?? DEFAULT_KEY_TYPE;
  if (!isKeyType(type)) {
    throw new GatewayError('MGW_PKI_INVALID_INPUT', `unknown key type "${type}"`, {
      hint: `Use one of: ${KEY_TYPES.join(', ')}.`,
    });
  }
  if (input.rsaBits === undefined) return type === 'rsa' ? { type, rsaBits: DEFAULT_RSA_KEY_SIZE } : { type };
  if (type !== 'rsa') {
    throw new GatewayError('MGW_PKI_INVALID_INPUT', `an RSA key size does not apply to ${type} keys`, {
      hint: 'Pass --rsa-bits only together with --key-type rsa.',
    });
  }
  if (!isRsaKeySize(input.rsaBits)) {
    throw new GatewayError('MGW_PKI_INVALID_INPUT', `unsupported RSA key size ${input.rsaBits}`, {
      hint: `Use one of: ${RSA_KEY_SIZES.join(', ')}.`,
    });
  }
  return { type, rsaBits: input.rsaBits };
}
