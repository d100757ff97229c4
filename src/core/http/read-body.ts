import type { IncomingMessage } from 'node:http';
import { GatewayError } from '../errors.js';

/**
 * Read a request body the gateway must inspect (auth requests, inventory), bounded: 1 MiB is
 * upstream's own default limit (protocol doc §7, "Timeouts"), so nothing legitimate is larger.
 * A body over the limit is refused with 413 before it is read in full.
 */
export async function readBoundedBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  const tooLarge = (): GatewayError =>
    new GatewayError('MGW_BODY_TOO_LARGE', `request body larger than ${limit} bytes`, {
      hint: 'The Mender server refuses bodies this large too; reduce what the device sends.',
    });
  if (Number.isFinite(declared) && declared > limit) {
    req.resume(); // drain so the connection stays usable for the 413
    throw tooLarge();
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      req.resume();
      throw tooLarge();
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}
