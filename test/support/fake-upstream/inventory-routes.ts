import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ApiContext } from './api-context.js';
import { requireDevice } from './api-context.js';
import { BodyError, headerValue, isRecord, parseJson, readBody, sendEmpty, sendError } from './http-util.js';
import type { InventoryAttribute, InventoryRequestRecord } from './state.js';

function isAttribute(value: unknown): value is InventoryAttribute {
  return isRecord(value) && typeof value.name === 'string' && value.name !== '' && 'value' in value;
}

/**
 * `PUT|PATCH /api/devices/v1/inventory/device/attributes` (docs/protocol.md §2.3): a JSON array of
 * `{name, value, description?}`; PUT replaces the device's whole attribute set, PATCH upserts by
 * name; 200 with an empty body. The raw body and its framing are recorded so tests can check
 * what a proxy did to it (attribute injection must fix `Content-Length`, docs/protocol.md §5).
 */
export async function handleInventory(
  ctx: ApiContext,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const device = requireDevice(ctx, req, res);
  if (device === undefined) return;
  const method = req.method === 'PATCH' ? 'PATCH' : 'PUT';
  const contentLengthHeader = headerValue(req, 'content-length');
  const record: InventoryRequestRecord = {
    at: new Date(),
    deviceId: device.id,
    method,
    rawBody: Buffer.alloc(0),
    contentLengthHeader,
    transferEncoding: headerValue(req, 'transfer-encoding'),
    contentLengthMatched: undefined,
    responseStatus: 0,
  };
  ctx.state.inventoryRequests.push(record);

  try {
    record.rawBody = await readBody(req, { limit: 1024 * 1024 });
  } catch (error) {
    if (error instanceof BodyError && error.reason === 'incomplete' && contentLengthHeader !== undefined) {
      record.contentLengthMatched = false;
    }
    record.responseStatus = error instanceof BodyError && error.reason === 'too-large' ? 413 : 400;
    res.setHeader('Connection', 'close');
    sendError(req, res, record.responseStatus, 'failed to read request body', ctx.json);
    return;
  }
  if (contentLengthHeader !== undefined)
    record.contentLengthMatched = Number(contentLengthHeader) === record.rawBody.length;

  const parsed = parseJson(record.rawBody);
  if (!parsed.ok || !Array.isArray(parsed.value) || !parsed.value.every(isAttribute)) {
    record.responseStatus = 400;
    sendError(req, res, 400, 'failed to decode request body: expected an array of attributes', ctx.json);
    return;
  }
  const incoming = parsed.value;
  const current =
    method === 'PUT'
      ? new Map<string, InventoryAttribute>()
      : new Map((ctx.state.inventory.get(device.id) ?? []).map((a) => [a.name, a]));
  for (const attribute of incoming) current.set(attribute.name, attribute);
  ctx.state.inventory.set(device.id, [...current.values()]);
  record.responseStatus = 200;
  sendEmpty(res, 200);
}
