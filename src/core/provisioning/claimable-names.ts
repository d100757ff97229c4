/**
 * Names `device-hosts gen` must never point at the gateway, whatever asks for it (a certificate
 * name, `--alias`, `--ip NAME=`). Its output is appended to devices' `/etc/hosts` or loaded into a
 * site's DNS server by people who will not read it line by line, so a name that means something
 * else on the device would break the device, or hand the gateway a role nobody chose for it.
 */

export interface LeftOutName {
  name: string;
  /** Why it was left out, for the operator: what the name means instead. */
  reason: string;
}

const THE_DEVICE_ITSELF =
  'means the device itself (RFC 6761 §6.3); pointing it elsewhere breaks software on the device';
const EVERY_HOST = "names every host or a multicast group in Debian's default /etc/hosts, not one gateway";

const RESERVED: ReadonlyMap<string, string> = new Map([
  ['localhost', THE_DEVICE_ITSELF],
  ['localhost.localdomain', THE_DEVICE_ITSELF],
  ['localdomain', THE_DEVICE_ITSELF],
  ['ip6-localhost', THE_DEVICE_ITSELF],
  ['ip6-loopback', THE_DEVICE_ITSELF],
  ['broadcasthost', EVERY_HOST],
  ['ip6-localnet', EVERY_HOST],
  ['ip6-mcastprefix', EVERY_HOST],
  ['ip6-allnodes', EVERY_HOST],
  ['ip6-allrouters', EVERY_HOST],
  ['ip6-allhosts', EVERY_HOST],
]);

/**
 * Why `name` (lower case, no trailing dot) must not be claimed, or `undefined` when it may be.
 * Besides the fixed names: anything under `.localhost` (RFC 6761 §6.3) or `.invalid` (§6.4), and
 * names that devices look up to configure themselves: `wpad` (web proxy auto-discovery,
 * https://datatracker.ietf.org/doc/html/draft-ietf-wrec-wpad-01) and `isatap` (RFC 5214 §8.3.2).
 */
export function unclaimableReason(name: string): string | undefined {
  const fixed = RESERVED.get(name);
  if (fixed !== undefined) return fixed;
  if (name.endsWith('.localhost')) return THE_DEVICE_ITSELF;
  if (name === 'invalid' || name.endsWith('.invalid'))
    return 'can never resolve (RFC 6761 §6.4): no device should be given it';
  const first = name.split('.')[0];
  if (first === 'wpad')
    return "is looked up by web proxy auto-discovery: claiming it makes the gateway every device's proxy configuration";
  if (first === 'isatap')
    return 'is looked up to find an ISATAP tunnel router (RFC 5214 §8.3.2), not the gateway';
  return undefined;
}

/** Text safe to put in a `#` comment line: a name from a certificate may hold anything. */
export function commentSafe(name: string): string {
  return /^[\x21-\x7e]+$/.test(name) ? name : JSON.stringify(name);
}
