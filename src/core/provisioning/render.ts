import { isIPv4 } from 'node:net';
import type { DeviceHostsPlan, MenderConfFragment } from './device-hosts.js';
import { commentSafe } from './claimable-names.js';

/**
 * The text forms of a {@link DeviceHostsPlan}. Each ends with a newline; none contains a line
 * that was not checked by `planDeviceHosts`.
 */

export const DEVICE_HOSTS_FORMATS = ['hosts', 'dnsmasq', 'json'] as const;
export type DeviceHostsFormat = (typeof DEVICE_HOSTS_FORMATS)[number];

const HEADER = '# Mender gateway names (mender-gw device-hosts gen)';

/** The header, then one comment per name left out, so whoever applies the file sees what was not claimed. */
function header(plan: DeviceHostsPlan): string {
  const notes = plan.leftOut.map((l) => `# left out ${commentSafe(l.name)}: it ${l.reason}`);
  return [HEADER, ...notes].join('\n');
}

/** `/etc/hosts` lines: `<address> <name> <name>…`, one per gateway address, primary first. */
export function renderHostsFile(plan: DeviceHostsPlan): string {
  const lines = plan.hosts.map((entry) => `${entry.address} ${entry.names.join(' ')}`);
  return `${header(plan)}\n${lines.join('\n')}\n`;
}

/**
 * A dnsmasq snippet of `host-record=` lines (`<name>[,<name>…],[<IPv4>],[<IPv6>]`).
 *
 * Why not `address=/name/ip`: that matches the name *and every subdomain of it*, answers
 * one address family per line, and is overridden by /etc/hosts. `host-record` is exact
 * (A and AAAA for exactly these names, plus PTR), takes one IPv4 and one IPv6 address per
 * line, and a name may appear in several lines, which is how a gateway with more addresses of
 * one family is written: its IPv4 and IPv6 addresses are paired line by line.
 */
export function renderDnsmasq(plan: DeviceHostsPlan): string {
  const lines: string[] = [];
  for (const gateway of plan.gateways) {
    const v4 = gateway.addresses.filter((a) => isIPv4(a));
    const v6 = gateway.addresses.filter((a) => !isIPv4(a));
    const count = Math.max(v4.length, v6.length);
    for (let i = 0; i < count; i += 1) {
      const fields = [...gateway.names];
      const a = v4[i];
      const aaaa = v6[i];
      if (a !== undefined) fields.push(a);
      if (aaaa !== undefined) fields.push(aaaa);
      lines.push(`host-record=${fields.join(',')}`);
    }
  }
  return `${header(plan)}\n${lines.join('\n')}\n`;
}

/** The `--format json` document: the whole plan. */
export function renderDeviceHostsJson(plan: DeviceHostsPlan): string {
  return `${JSON.stringify(plan, null, 2)}\n`;
}

/** The `mender.conf` fragment file (JSON, to merge into the device's mender.conf). */
export function renderMenderConf(fragment: MenderConfFragment): string {
  return `${JSON.stringify(fragment, null, 2)}\n`;
}

export function renderDeviceHosts(plan: DeviceHostsPlan, format: DeviceHostsFormat): string {
  switch (format) {
    case 'hosts':
      return renderHostsFile(plan);
    case 'dnsmasq':
      return renderDnsmasq(plan);
    case 'json':
      return renderDeviceHostsJson(plan);
  }
}
