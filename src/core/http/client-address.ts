import type { Socket } from 'node:net';

/**
 * The device's IP as the gateway sees it, in the plain form upstream expects in
 * `X-Forwarded-For` (protocol doc §7: upstream resolves the device IP from it).
 * IPv4-mapped IPv6 addresses (`::ffff:10.0.0.5`) from a dual-stack listener are unmapped.
 */
export function clientAddress(socket: Socket): string {
  const address = socket.remoteAddress ?? 'unknown';
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

/**
 * Append the device IP to an existing `X-Forwarded-For` value, as Go's ReverseProxy
 * does. The device cannot hide its real address: upstream reads the last entry, which
 * is always ours.
 */
export function appendForwardedFor(existing: string | string[] | undefined, ip: string): string {
  const prior = Array.isArray(existing) ? existing.join(', ') : existing;
  return prior === undefined || prior.trim() === '' ? ip : `${prior}, ${ip}`;
}
