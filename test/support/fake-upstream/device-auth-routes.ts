import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ApiContext } from './api-context.js';
import { verifyAuthSignature } from './auth-signature.js';
import { BodyError, headerValue, isRecord, parseJson, readBody, sendError } from './http-util.js';
import { normalisePubkey, parsePublicKey } from './identity.js';
import type { AuthRequestRecord } from './state.js';

/**
 * `POST /api/devices/v1/authentication/auth_requests` (docs/protocol.md §2.1). Order of checks as in
 * deviceauth's `SubmitAuthRequestHandler`: body JSON → required fields → signature header (400)
 * → signature (401) → auth-set state (200 JWT or 401).
 */
export async function handleAuthRequest(
  ctx: ApiContext,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const record: AuthRequestRecord = {
    at: new Date(),
    rawBody: Buffer.alloc(0),
    headers: req.headers,
    remoteAddress: req.socket.remoteAddress,
    signatureValid: false,
    idData: undefined,
    pubkey: undefined,
    tenantToken: undefined,
    deviceId: undefined,
    responseStatus: 0,
  };
  ctx.state.authRequests.push(record);
  const fail = (status: number, message: string): void => {
    record.responseStatus = status;
    sendError(req, res, status, message, ctx.json);
  };

  try {
    // deviceauth caps request bodies at 1 MiB (docs/protocol.md §3.7).
    record.rawBody = await readBody(req, { limit: 1024 * 1024 });
  } catch (error) {
    fail(
      error instanceof BodyError && error.reason === 'too-large' ? 413 : 400,
      'failed to decode auth request',
    );
    return;
  }

  const parsed = parseJson(record.rawBody);
  if (!parsed.ok || !isRecord(parsed.value)) {
    fail(400, 'failed to decode auth request: invalid JSON');
    return;
  }
  const { id_data: idData, pubkey, tenant_token: tenantToken } = parsed.value;
  if (typeof tenantToken === 'string') record.tenantToken = tenantToken;
  if (typeof idData !== 'string' || idData === '') {
    fail(400, 'id_data: cannot be blank.');
    return;
  }
  const identity = parseJson(Buffer.from(idData));
  if (!identity.ok || !isRecord(identity.value)) {
    fail(400, 'id_data: must be a JSON object encoded as a string.');
    return;
  }
  record.idData = identity.value;
  if (typeof pubkey !== 'string' || pubkey === '') {
    fail(400, 'pubkey: cannot be blank.');
    return;
  }
  record.pubkey = pubkey;
  const key = parsePublicKey(pubkey);
  const normalised = normalisePubkey(pubkey);
  if (key === undefined || normalised === undefined) {
    fail(400, 'cannot decode public key');
    return;
  }

  const signature = headerValue(req, 'x-men-signature');
  if (signature === undefined || signature === '') {
    fail(400, 'missing request signature header');
    return;
  }
  record.signatureValid = verifyAuthSignature(key, record.rawBody, signature);
  if (!record.signatureValid) {
    fail(401, 'signature verification failed');
    return;
  }

  const outcome = ctx.registry.submitAuthRequest(identity.value, normalised);
  record.deviceId = outcome.device.id;
  if (outcome.kind === 'unauthorized') {
    fail(401, 'unauthorized');
    return;
  }
  record.responseStatus = 200;
  const body = Buffer.from(outcome.token);
  // Raw JWT text, `application/jwt` since MEN-6912 (docs/protocol.md §2.1).
  res.writeHead(200, { 'Content-Type': 'application/jwt', 'Content-Length': body.length });
  res.end(body);
}
