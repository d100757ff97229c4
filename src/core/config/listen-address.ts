import { isIP, isIPv6 } from 'node:net';
import type { ListenAddress } from './gateway-config.js';

/**
 * `HTTP.Listen`, `HTTPS.Listen` and `Metrics.Listen` use Go's `host:port` address syntax
 * (`net.Listen("tcp", addr)`, docs/protocol.md §6.2–6.3): `:443` (all interfaces),
 * `0.0.0.0:8080`, `[::1]:8443`, `localhost:80`. We accept numeric ports only: Go also
 * resolves service names (`:https`), which nobody writes in a gateway config and which
 * would make the port depend on /etc/services. Port 0 (the OS picks a free port) is
 * accepted because tests bind that way; the config checks warn about it.
 */

export type ListenParseResult =
  { ok: true; value: ListenAddress } | { ok: false; message: string; hint: string };

const HOSTNAME =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;

export function parseListenAddress(raw: string, options: { ipOnly?: boolean } = {}): ListenParseResult {
  const shown = JSON.stringify(raw);
  const example = options.ipOnly === true ? '"127.0.0.1:9102" or ":9102"' : '":443" or "0.0.0.0:8443"';
  const bad = (why: string, hint = `use e.g. ${example}`): ListenParseResult => ({
    ok: false,
    message: `${shown} ${why}`,
    hint,
  });

  let host: string;
  let port: string;
  if (raw.startsWith('[')) {
    const close = raw.indexOf(']');
    if (close < 0) return bad('has "[" without a closing "]"', 'write IPv6 addresses as "[::1]:8443"');
    host = raw.slice(1, close);
    if (raw[close + 1] !== ':') return bad('is not host:port (missing ":port" after the "]")');
    port = raw.slice(close + 2);
    if (!isIPv6(host)) return bad(`has ${JSON.stringify(host)} in brackets, which is not an IPv6 address`);
  } else {
    const colon = raw.lastIndexOf(':');
    if (colon < 0) return bad('is not host:port (no ":port")');
    host = raw.slice(0, colon);
    port = raw.slice(colon + 1);
    if (host.includes(':')) {
      return bad(
        'has too many colons; IPv6 addresses need brackets',
        'write e.g. "[::1]:8443" or "[::]:443"',
      );
    }
    if (host !== '' && isIP(host) === 0 && !HOSTNAME.test(host)) {
      return bad(`has ${JSON.stringify(host)} as host, which is neither an IP address nor a host name`);
    }
  }

  if (port === '') return bad('has no port number');
  if (!/^[0-9]+$/.test(port)) {
    return bad(
      `has ${JSON.stringify(port)} as port; ports must be numbers (service names are not supported)`,
    );
  }
  const portNumber = Number(port);
  if (portNumber > 65535) return bad(`has port ${portNumber}; ports are 1–65535`);
  if (options.ipOnly === true && host !== '' && isIP(host) === 0) {
    return bad(
      `has host ${JSON.stringify(host)}; the metrics listener takes an IP address or an empty host, not a host name`,
    );
  }
  return { ok: true, value: { host: host === '' ? undefined : host, port: portNumber, raw } };
}
