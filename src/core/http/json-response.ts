import type { ServerResponse } from 'node:http';

/**
 * Send the Mender-style error body `{"error": …, "request_id": …}` (docs/protocol.md §2,
 * "Error body shape everywhere"). If headers are already on the wire the only honest
 * thing left is to cut the connection, so the device sees a broken transfer, never a
 * truncated body that looks complete (docs/protocol.md §7, MEN-9044). Returns the body bytes sent.
 */
export function sendJsonError(
  res: ServerResponse,
  status: number,
  message: string,
  requestId?: string,
): number {
  if (res.headersSent) {
    res.destroy();
    return 0;
  }
  const body = JSON.stringify(
    requestId === undefined ? { error: message } : { error: message, request_id: requestId },
  );
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
  });
  res.end(body);
  return Buffer.byteLength(body);
}
