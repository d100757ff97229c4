import { isIP, isIPv4 } from 'node:net';
import { GatewayError } from '../errors.js';

/**
 * Checks for what `device-hosts gen` writes into `/etc/hosts`, dnsmasq and `mender.conf`:
 * host names in the RFC 1123 §2.1 form (the one resolvers, hosts files and URLs all accept)
 * and IP addresses that `net.isIP` accepts. Both are returned in canonical form so that
 * duplicates are found and the output is stable.
 */

const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

function invalid(message: string, hint: string): GatewayError {
  return new GatewayError('MGW_PROVISIONING_INVALID_INPUT', message, { hint });
}

/**
 * Lower-case a host name and check it against RFC 1123: dot-separated labels of 1–63 letters,
 * digits and "-", not starting or ending with "-", at most 253 characters. One trailing dot
 * (the absolute form) is dropped. Refused: underscores and wildcards (a hosts file cannot hold
 * them), IP addresses (give those as addresses), and a numeric last label, which RFC 1123 §2.1
 * rules out so that a mistyped address such as `10.0.0.256` is never taken for a name.
 *
 * @param what how the value is named in messages, e.g. `--alias "gw"`.
 */
export function normalizeHostName(name: string, what: string): string {
  const value = name.trim().toLowerCase().replace(/\.$/, '');
  if (value === '') throw invalid(`${what}: empty host name`, 'Give a name such as gateway.site.example.');
  if (isIP(value) !== 0 || isIP(value.replace(/^\[|\]$/g, '')) !== 0) {
    throw invalid(
      `${what}: "${name}" is an IP address, not a host name`,
      'Addresses go in --ip; names in --alias or as NAME in --ip NAME=ADDR.',
    );
  }
  if (value.length > 253)
    throw invalid(`${what}: "${name}" is longer than 253 characters`, 'Use a shorter name.');
  const labels = value.split('.');
  for (const label of labels) {
    if (!LABEL.test(label)) {
      throw invalid(
        `${what}: "${name}" is not a valid host name (label "${label}")`,
        'Host names are labels of 1–63 letters, digits and "-" (not at either end), separated by dots (RFC 1123); no "_", "*" or spaces.',
      );
    }
  }
  if (/^[0-9]+$/.test(labels[labels.length - 1] ?? '')) {
    throw invalid(
      `${what}: "${name}" is neither a host name nor an IP address`,
      'A host name cannot end in an all-numeric label (RFC 1123 §2.1); check the address for typos.',
    );
  }
  return value;
}

/**
 * Check a gateway address and return its canonical text: dotted quad for IPv4, RFC 5952
 * compressed lower case for IPv6. Brackets are dropped. Refused: anything `net.isIP` rejects,
 * zone ids (`fe80::1%eth0`: neither hosts files nor dnsmasq nor URLs can carry them) and the
 * unspecified addresses `0.0.0.0`/`::` (a listen address, not one a device can connect to).
 */
export function normalizeAddress(address: string, what: string): string {
  let value = address.trim();
  if (value.startsWith('[') && value.endsWith(']')) value = value.slice(1, -1);
  if (value.includes('%')) {
    throw invalid(
      `${what}: "${address}" has a zone id`,
      'Hosts files and dnsmasq cannot carry "%interface"; give a global or unique-local (fd00::/8) address.',
    );
  }
  const version = isIP(value);
  if (version === 0) {
    throw invalid(
      `${what}: "${address}" is not an IP address`,
      'Give the IPv4 (10.0.0.1) or IPv6 (fd00::1) address devices use to reach the gateway.',
    );
  }
  const canonical = isIPv4(value) ? value : new URL(`http://[${value}]/`).hostname.slice(1, -1);
  if (canonical === '0.0.0.0' || canonical === '::') {
    throw invalid(
      `${what}: "${address}" is the unspecified address`,
      'That is what a server listens on, not where devices connect: give the address of the gateway on the device network.',
    );
  }
  return canonical;
}

/**
 * Whether a certificate name (a dNSName SAN, possibly `*.example.com`) covers `host` the way
 * TLS clients match (RFC 6125 §6.4.3): exact, case-insensitive, or a wildcard standing for
 * exactly one left-most label.
 */
export function certificateNameCovers(certificateName: string, host: string): boolean {
  const pattern = certificateName.toLowerCase().replace(/\.$/, '');
  const name = host.toLowerCase();
  if (!pattern.startsWith('*.')) return pattern === name;
  const dot = name.indexOf('.');
  return dot > 0 && name.slice(dot + 1) === pattern.slice(2);
}
