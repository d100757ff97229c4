/**
 * Header hygiene for everything the gateway relays, in one place (CONTRIBUTING.md §6).
 *
 * RFC 9110 §7.6.1: a proxy must drop the connection-specific ("hop-by-hop") header
 * fields and every field named in `Connection`. `Host` is handled by the caller
 * (docs/protocol.md §7: it becomes the upstream host). WebSocket upgrades keep
 * `Connection`/`Upgrade` (docs/protocol.md §2.6); the tunnel module adds them back.
 */

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'http2-settings',
]);

/** Lower-cased header names listed in a `Connection` header value (RFC 9110 §7.6.1). */
export function connectionTokens(connection: string | string[] | undefined): Set<string> {
  const tokens = new Set<string>();
  if (connection === undefined) return tokens;
  for (const value of Array.isArray(connection) ? connection : [connection]) {
    for (const token of value.split(',')) {
      const name = token.trim().toLowerCase();
      if (name !== '') tokens.add(name);
    }
  }
  return tokens;
}

/** Whether a (lower-cased) header must not cross the proxy. */
export function isHopByHop(name: string, tokens: ReadonlySet<string>): boolean {
  return HOP_BY_HOP.has(name) || tokens.has(name);
}

/**
 * Filter a flat `rawHeaders` list (`[name, value, name, value, …]`, as Node gives it)
 * keeping case, order and duplicates, which matters for byte-faithful relaying.
 * `drop` adds names (lower-case) the caller replaces itself, e.g. `host`.
 */
export function filterRawHeaders(rawHeaders: readonly string[], drop: ReadonlySet<string>): string[] {
  let connection: string[] | undefined;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (rawHeaders[i]?.toLowerCase() === 'connection') (connection ??= []).push(rawHeaders[i + 1] ?? '');
  }
  const tokens = connectionTokens(connection);
  const out: string[] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i];
    const value = rawHeaders[i + 1];
    if (name === undefined || value === undefined) continue;
    const lower = name.toLowerCase();
    if (isHopByHop(lower, tokens) || drop.has(lower)) continue;
    out.push(name, value);
  }
  return out;
}

/**
 * Filter an upstream response header object (undici gives lower-case names, arrays for
 * repeated fields) for relaying to the device.
 */
export function filterResponseHeaders(
  headers: Record<string, string | string[] | undefined>,
  drop: ReadonlySet<string> = new Set(),
): Record<string, string | string[]> {
  const tokens = connectionTokens(headers.connection);
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || isHopByHop(name, tokens) || drop.has(name)) continue;
    out[name] = value;
  }
  return out;
}
