import { createHash } from 'node:crypto';
import { request } from 'undici';

/** The path prefix of the gateway's signed artifact links (cache mode). */
export const GATEWAY_ARTIFACTS = '/api/devices/v1/gateway/artifacts/';

export const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

/** What a device saw: the status and headers, the body bytes it got, and why the body ended early. */
export interface DeviceAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  /** Set when the connection was cut before the declared body was complete. */
  cut: string | undefined;
}

/**
 * Call the gateway as a device and keep every body byte that arrived, also when the connection
 * is cut mid-body (a cut must never look like a complete answer).
 */
export async function callAsDevice(
  url: string,
  options: Parameters<typeof request>[1] = {},
): Promise<DeviceAnswer> {
  const res = await request(url, options);
  const chunks: Buffer[] = [];
  let cut: string | undefined;
  try {
    for await (const chunk of res.body) chunks.push(chunk as Buffer);
  } catch (err) {
    cut = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
  }
  return { status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks), cut };
}
