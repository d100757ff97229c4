import { createHash } from 'node:crypto';

/**
 * A locally administered unicast MAC (first octet 0x02) hashed from the device name and its
 * unique folder: stable for one device, distinct across devices even when tests reuse names.
 */
export function deriveMac(name: string, dir: string): string {
  const digest = createHash('sha256').update(`${name}\0${dir}`).digest();
  const octets = [0x02, ...digest.subarray(0, 5)];
  return octets.map((octet) => octet.toString(16).padStart(2, '0')).join(':');
}
