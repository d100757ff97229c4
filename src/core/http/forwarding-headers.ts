/**
 * The gateway is the trust boundary for client addresses: upstream believes what it is told about
 * who is calling, so a device must not be able to tell it. Every header that claims a client
 * address, the original host or scheme is dropped from device requests, and the gateway sets the
 * device's address itself in `X-Forwarded-For` (RFC 7239 §5.2 describes the same facts in
 * `Forwarded`; `X-Forwarded-For` and `X-Real-IP` are what Mender's own gateway and nginx send).
 * Documented in docs/security.md.
 */
export const CLIENT_ADDRESS_HEADERS: readonly string[] = [
  'x-forwarded-for',
  'x-real-ip',
  'forwarded',
  'true-client-ip',
  'x-client-ip',
  'client-ip',
  'cf-connecting-ip',
  'fastly-client-ip',
  'x-cluster-client-ip',
  'x-original-forwarded-for',
  'x-forwarded',
  'forwarded-for',
  'x-forwarded-host',
  'x-forwarded-proto',
  'x-forwarded-port',
  'x-forwarded-server',
  'x-original-host',
];

/**
 * `Expect` is a request to the next hop, answered by Node before the request reached the gateway
 * (100 Continue, or 417 for anything else): it is never forwarded (undici refuses to send it).
 */
const ANSWERED_HERE = ['expect'];

/** Device request headers the gateway never forwards as sent (it replaces `host` itself). */
export const NOT_FORWARDED: ReadonlySet<string> = new Set([
  'host',
  ...CLIENT_ADDRESS_HEADERS,
  ...ANSWERED_HERE,
]);

/** The address headers the gateway sets on every upstream request, as a flat raw-header list. */
export function forwardedFor(clientIp: string): string[] {
  return ['x-forwarded-for', clientIp, 'x-real-ip', clientIp];
}
