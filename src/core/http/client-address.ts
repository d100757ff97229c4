import type { Socket } from 'node:net';

/**
 * The device's IP as the gateway sees it, in the plain form upstream expects in
 * `X-Forwarded-For` (docs/protocol.md §7: upstream resolves the device IP from it).
 * IPv4-mapped IPv6 addresses (`::ffff:10.0.0.5`) from a dual-stack listener are unmapped.
 */
export function clientAddress(socket: Socket): string {
  const address = socket.remoteAddress ?? 'unknown';
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}
