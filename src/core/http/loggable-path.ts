import { withoutQuery } from '../logger.js';
import { PROXY_ROUTE } from './device-path.js';

/**
 * The request path as it may be logged or shown: without its query (gateway link signatures live
 * there), and a proxy-only artifact link without its last segment, which is the whole presigned
 * storage URL, signature and credential included, base64url-encoded.
 */
export function loggablePath(target: string): string {
  const path = withoutQuery(target);
  return path.startsWith(PROXY_ROUTE) ? `${PROXY_ROUTE}[redacted]` : path;
}
