/**
 * Path policy for the device listener (docs/protocol.md §1, §9.13).
 *
 * Only `/api/devices/**` is relayed. The check runs on the raw request target as the
 * upstream will see it, so it must also refuse anything a server or reverse proxy
 * upstream could normalise into another API: dot segments (`/api/devices/../management`),
 * their percent-encoded forms (`%2e%2e`, also double-encoded `%252e%252e`), and encoded
 * separators (`%2f`, `%5c`) that some proxies decode before routing. Otherwise the management
 * API would be reachable from the device network through the gateway.
 */

export const DEVICE_API_PREFIX = '/api/devices/';
export const ALIVE_PATH = '/api/internal/v1/gateway/alive';
/** Readiness: upstream link and cache volume; ours, not Mender Gateway's. */
export const READY_PATH = '/api/internal/v1/gateway/ready';
/** Gateway download links (`artifacts/artifact-link.ts`): cache mode, then proxy mode. */
export const ARTIFACT_ROUTE = '/api/devices/v1/gateway/artifacts/';
export const PROXY_ROUTE = `${ARTIFACT_ROUTE}proxy/`;

export type PathVerdict = 'device-api' | 'alive' | 'ready' | 'not-found' | 'unsafe';

/** Split a request target into path and query without parsing it into a URL (no normalisation). */
export function splitTarget(target: string): { path: string; query: string } {
  const q = target.indexOf('?');
  return q === -1 ? { path: target, query: '' } : { path: target.slice(0, q), query: target.slice(q) };
}

/** Decoding rounds checked: `%2e`, `%252e`, `%25252e` (more is not a plausible server bug). */
const DECODE_ROUNDS = 3;

function isUnsafeSegment(segment: string): boolean {
  // Also decoded more than once: a server or proxy behind upstream that decodes twice
  // would turn `%252e%252e` into `..` (double encoding, CWE-174). No device API path has a
  // percent-encoded percent sign, so refusing these costs nothing.
  let current = segment;
  for (let round = 0; round < DECODE_ROUNDS; round++) {
    let decoded: string;
    try {
      decoded = decodeURIComponent(current);
    } catch {
      return round === 0; // malformed percent-encoding: nothing legitimate sends it
    }
    if (decoded === '.' || decoded === '..' || decoded.includes('/') || decoded.includes('\\')) return true;
    if (decoded === current) return false;
    current = decoded;
  }
  return false;
}

export function classifyPath(path: string): PathVerdict {
  if (path === ALIVE_PATH) return 'alive';
  if (path === READY_PATH) return 'ready';
  if (!path.startsWith(DEVICE_API_PREFIX)) return 'not-found';
  if (path.includes('\\') || path.includes('//')) return 'unsafe';
  for (const segment of path.slice(1).split('/')) {
    if (isUnsafeSegment(segment)) return 'unsafe';
  }
  return 'device-api';
}
