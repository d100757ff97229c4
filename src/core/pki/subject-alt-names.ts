import { isIP, isIPv4 } from 'node:net';
import { GatewayError } from '../errors.js';

/** One subjectAltName entry, as `--json` reports it. */
export interface SubjectAltName {
  type: 'dns' | 'ip';
  value: string;
}

const DNS_LABEL = /^(?!-)[a-z0-9_-]{1,63}(?<!-)$/;

function invalid(message: string, hint: string): GatewayError {
  return new GatewayError('MGW_PKI_INVALID_INPUT', message, { hint });
}

/**
 * Check and lower-case a DNS name for a dNSName SAN (RFC 5280 §4.2.1.6: preferred name
 * syntax, IA5String). A wildcard is allowed only as the whole left-most label. Underscores
 * are tolerated because internal host names use them and Go and OpenSSL match them.
 */
export function normalizeDnsName(name: string): string {
  const value = name.trim().toLowerCase();
  if (value === '') throw invalid('empty DNS name', 'Give a host name such as gateway.example.com.');
  if (isIP(value) !== 0) {
    throw invalid(`"${name}" is an IP address, not a DNS name`, `Pass it with --ip ${value} instead.`);
  }
  if (/[^\x20-\x7e]/.test(value)) {
    throw invalid(
      `DNS name "${name}" has non-ASCII characters`,
      'Certificates carry the ASCII (punycode, "xn--…") form of internationalised names; convert it first.',
    );
  }
  if (value.endsWith('.'))
    throw invalid(`DNS name "${name}" ends with a dot`, `Write it without the trailing dot.`);
  if (value.length > 253)
    throw invalid(`DNS name "${name}" is longer than 253 characters`, 'Use a shorter name.');
  const labels = value.split('.');
  labels.forEach((label, index) => {
    if (label === '*' && index === 0 && labels.length > 1) return;
    if (!DNS_LABEL.test(label)) {
      throw invalid(
        `DNS name "${name}" has an invalid label "${label}"`,
        'Labels are 1–63 letters, digits, "-" or "_", not starting or ending with "-"; "*" may only be the whole first label.',
      );
    }
  });
  return value;
}

/**
 * Check an IP address for an iPAddress SAN and return its canonical text: dotted quad for
 * IPv4, RFC 5952 compressed lower case for IPv6 (no embedded dotted quad). Brackets are
 * accepted and dropped; zone ids (`%eth0`) are refused because certificates cannot hold them.
 */
export function normalizeIpAddress(address: string): string {
  let value = address.trim();
  if (value.startsWith('[') && value.endsWith(']')) value = value.slice(1, -1);
  if (value.includes('%')) {
    throw invalid(
      `IP address "${address}" has a zone id`,
      'Certificates hold the bare address; drop the "%…" part.',
    );
  }
  if (isIPv4(value)) return value;
  if (isIP(value) !== 6) {
    throw invalid(
      `"${address}" is not an IP address`,
      'Give an IPv4 (10.0.0.1) or IPv6 (fd00::1) address, or use --dns for names.',
    );
  }
  return new URL(`http://[${value}]/`).hostname.slice(1, -1);
}

/**
 * The subjectAltName list for a server certificate: DNS names first, then IP addresses, in
 * the order given, without duplicates. At least one entry is required: TLS clients (Go,
 * Node, OpenSSL) match the host name against SANs only, never against the CN.
 */
export function buildSubjectAltNames(input: {
  dns?: readonly string[];
  ip?: readonly string[];
}): SubjectAltName[] {
  const names: SubjectAltName[] = [];
  const seen = new Set<string>();
  const add = (type: SubjectAltName['type'], value: string): void => {
    const key = `${type}:${value}`;
    if (seen.has(key)) return;
    seen.add(key);
    names.push({ type, value });
  };
  for (const dns of input.dns ?? []) add('dns', normalizeDnsName(dns));
  for (const ip of input.ip ?? []) add('ip', normalizeIpAddress(ip));
  if (names.length === 0) {
    throw invalid(
      'a server certificate needs at least one DNS name or IP address',
      'Pass the names devices use to reach the gateway: --dns gateway.example.com and/or --ip 10.0.0.1.',
    );
  }
  return names;
}

/** Sort free-form host names (an interactive answer, `a.example, 10.0.0.1`) into DNS names and IPs. */
export function splitHostNames(text: string): { dns: string[]; ip: string[] } {
  const dns: string[] = [];
  const ip: string[] = [];
  for (const item of text.split(/[\s,]+/)) {
    if (item === '') continue;
    const bare = item.startsWith('[') && item.endsWith(']') ? item.slice(1, -1) : item;
    if (isIP(bare.split('%')[0] ?? '') !== 0) ip.push(item);
    else dns.push(item);
  }
  return { dns, ip };
}
