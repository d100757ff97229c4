import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { GatewayError } from '../errors.js';
import { checkNameAttribute, MAX_COMMON_NAME_LENGTH } from './subject-name.js';

/** More than this in one run is more likely a typo than a factory batch. */
export const MAX_DEVICE_BATCH = 10_000;

/**
 * A device identity as the operator writes it. Mender identities are attribute sets
 * (`mac=02:00:00:00:00:01`); the certificate carries the **value** in its subject CN, as
 * Mender's mTLS guide does. The attribute name is not stored in the certificate: neither the
 * gateway nor the Mender server reads the subject (the identity a device reports comes from
 * its auth request), so the CN is for people and for logs.
 */
export interface DeviceIdentity {
  /** As given, e.g. `mac=02:00:00:00:00:01` or `02:00:00:00:00:01`. */
  text: string;
  /** `mac` in `mac=…`; undefined for a bare value. */
  attribute: string | undefined;
  /** What goes into CN. */
  value: string;
}

const ATTRIBUTE = /^[A-Za-z_][A-Za-z0-9_.-]*$/;
const MAC = /^[0-9a-f]{2}([:-])(?:[0-9a-f]{2}\1){4}[0-9a-f]{2}$/i;
const TRAILING_NUMBER = /^(.*?)(\d+)$/;

/**
 * Parse `name=value` or a bare `value`. Only a leading `name=` whose name looks like an
 * attribute name (letters, digits, `_ . -`, not starting with a digit) is split off, so a
 * value may itself contain `=` after the first one.
 */
export function parseDeviceIdentity(text: string): DeviceIdentity {
  const trimmed = text.trim();
  const eq = trimmed.indexOf('=');
  const name = eq > 0 ? trimmed.slice(0, eq).trim() : '';
  const attribute = name !== '' && ATTRIBUTE.test(name) ? name : undefined;
  const rawValue = attribute === undefined ? trimmed : trimmed.slice(eq + 1);
  const value = checkNameAttribute(rawValue, `device identity value in "${trimmed}"`, MAX_COMMON_NAME_LENGTH);
  return { text: attribute === undefined ? value : `${attribute}=${value}`, attribute, value };
}

function withValue(identity: DeviceIdentity, value: string): DeviceIdentity {
  return {
    text: identity.attribute === undefined ? value : `${identity.attribute}=${value}`,
    attribute: identity.attribute,
    value,
  };
}

/**
 * `count` identities starting at `first`: a MAC address counts up as a 48-bit number
 * (keeping its separator and letter case), any other value counts up its trailing number
 * (keeping zero padding: `dev-009`, `dev-010`).
 */
export function expandDeviceIdentities(first: DeviceIdentity, count: number): DeviceIdentity[] {
  if (!Number.isInteger(count) || count < 1 || count > MAX_DEVICE_BATCH) {
    throw new GatewayError(
      'MGW_PKI_INVALID_INPUT',
      `count must be between 1 and ${MAX_DEVICE_BATCH}, got ${count}`,
      {
        hint: `Issue larger batches in several runs of at most ${MAX_DEVICE_BATCH}.`,
      },
    );
  }
  if (count === 1) return [first];
  const mac = MAC.exec(first.value);
  if (mac !== null) {
    const separator = mac[1] ?? ':';
    const upper = /[A-F]/.test(first.value);
    const start = BigInt(`0x${first.value.replace(/[:-]/g, '')}`);
    const last = start + BigInt(count - 1);
    if (last > 0xffffffffffffn) {
      throw new GatewayError(
        'MGW_PKI_INVALID_INPUT',
        `${count} MAC addresses from ${first.value} run past ff:ff:ff:ff:ff:ff`,
        {
          hint: 'Start lower or issue fewer.',
        },
      );
    }
    return Array.from({ length: count }, (_, i) => {
      const hex = (start + BigInt(i)).toString(16).padStart(12, '0');
      const octets = hex.match(/../g) ?? [];
      const text = octets.join(separator);
      return withValue(first, upper ? text.toUpperCase() : text);
    });
  }
  const numbered = TRAILING_NUMBER.exec(first.value);
  if (numbered === null) {
    throw new GatewayError('MGW_PKI_INVALID_INPUT', `cannot count up from device identity "${first.text}"`, {
      hint: 'For a batch, start from a MAC address (mac=02:00:00:00:00:01) or a value ending in a number (serial=dev-0001), or list the identities with --identities-file.',
    });
  }
  const prefix = numbered[1] ?? '';
  const digits = numbered[2] ?? '0';
  const start = BigInt(digits);
  return Array.from({ length: count }, (_, i) => {
    const value = `${prefix}${(start + BigInt(i)).toString().padStart(digits.length, '0')}`;
    return withValue(first, checkNameAttribute(value, 'device identity value', MAX_COMMON_NAME_LENGTH));
  });
}

/**
 * Parse an identities list: one identity per line; blank lines and lines starting with `#`
 * are skipped. `source` names the file in error messages.
 */
export function parseIdentityList(text: string, source: string): DeviceIdentity[] {
  const identities: DeviceIdentity[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((line, index) => {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return;
    try {
      identities.push(parseDeviceIdentity(trimmed));
    } catch (err) {
      if (err instanceof GatewayError) {
        throw new GatewayError(err.code, `${source}:${index + 1}: ${err.message}`, {
          hint: err.hint,
          cause: err,
        });
      }
      throw err;
    }
  });
  if (identities.length === 0) {
    throw new GatewayError('MGW_PKI_INVALID_INPUT', `${source} lists no device identities`, {
      hint: 'Write one identity per line, e.g. mac=02:00:00:00:00:01; lines starting with # are comments.',
    });
  }
  if (identities.length > MAX_DEVICE_BATCH) {
    throw new GatewayError(
      'MGW_PKI_INVALID_INPUT',
      `${source} lists ${identities.length} identities, more than ${MAX_DEVICE_BATCH}`,
      {
        hint: `Split the file into batches of at most ${MAX_DEVICE_BATCH}.`,
      },
    );
  }
  return identities;
}

/** Read and parse an identities file ({@link parseIdentityList}). */
export async function readIdentitiesFile(path: string): Promise<DeviceIdentity[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new GatewayError(
      'MGW_PKI_INVALID_INPUT',
      `cannot read identities file ${path}: ${(err as Error).message}`,
      {
        cause: err,
        hint: 'Check the path given to --identities-file and that it is readable.',
      },
    );
  }
  return parseIdentityList(text, path);
}

/**
 * The file name stem for a device: `device-` plus the value with every run of characters
 * outside `A-Z a-z 0-9 . _ -` replaced by `-` (`02:00:00:00:00:01` → `device-02-00-00-00-00-01`).
 * A value with nothing usable left gets a short hash instead, so the stem is never empty.
 */
export function deviceFileStem(identity: DeviceIdentity): string {
  const safe = identity.value.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[-.]+|-+$/g, '');
  if (safe !== '') return `device-${safe}`;
  return `device-${createHash('sha256').update(identity.value).digest('hex').slice(0, 12)}`;
}

/**
 * Refuse a batch in which two identities have the same value or map to the same file name
 * (`a:b` and `a-b`), before any key is generated.
 */
export function checkDistinctIdentities(identities: readonly DeviceIdentity[]): void {
  const byValue = new Map<string, DeviceIdentity>();
  const byStem = new Map<string, DeviceIdentity>();
  for (const identity of identities) {
    const sameValue = byValue.get(identity.value);
    if (sameValue !== undefined) {
      throw new GatewayError('MGW_PKI_INVALID_INPUT', `device identity "${identity.value}" is listed twice`, {
        hint: 'Each device gets its own certificate; remove the duplicate.',
      });
    }
    byValue.set(identity.value, identity);
    const stem = deviceFileStem(identity);
    const sameStem = byStem.get(stem);
    if (sameStem !== undefined) {
      throw new GatewayError(
        'MGW_PKI_INVALID_INPUT',
        `device identities "${sameStem.value}" and "${identity.value}" would both be written as ${stem}.crt`,
        { hint: 'Issue them in separate runs with different --out-dir directories.' },
      );
    }
    byStem.set(stem, identity);
  }
}
