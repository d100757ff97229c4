import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ApiContext } from './api-context.js';
import { headerValue, isRecord, parseJson, readBody, sendError, sendJson } from './http-util.js';
import { normalisePubkey } from './identity.js';
import { bearerToken } from './jwt.js';
import { basicCredentials } from './management-auth.js';
import type { FakeDevice, PreauthorizationRecord } from './state.js';

/**
 * `POST /api/management/v1/useradm/auth/login` with HTTP Basic → 200 raw JWT
 * (`application/jwt`) or 401 (docs/protocol.md §3.4). The optional body is ignored.
 */
export async function handleLogin(ctx: ApiContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  await readBody(req).catch(() => Buffer.alloc(0));
  const credentials = basicCredentials(headerValue(req, 'authorization'));
  const token = ctx.management.login(credentials);
  ctx.state.managementLoginAttempts.push({
    at: new Date(),
    username: credentials?.username,
    ok: token !== undefined,
    xForwardedFor: headerValue(req, 'x-forwarded-for'),
  });
  if (token === undefined) {
    sendError(req, res, 401, 'unauthorized', ctx.json);
    return;
  }
  ctx.state.managementLogins += 1;
  const body = Buffer.from(token);
  res.writeHead(200, { 'Content-Type': 'application/jwt', 'Content-Length': body.length });
  res.end(body);
}

/** deviceauth's management view of a device (the 409 body is the conflicting device). */
function deviceView(device: FakeDevice): Record<string, unknown> {
  return {
    id: device.id,
    identity_data: device.identity,
    status: device.status,
    created_ts: device.createdAt.toISOString(),
    auth_sets: device.authSets.map((s) => ({
      id: s.id,
      pubkey: s.pubkey,
      identity_data: device.identity,
      status: s.status,
      ts: s.createdAt.toISOString(),
    })),
  };
}

/**
 * `POST /api/management/v2/devauth/devices` `{identity_data, pubkey, force}` (docs/protocol.md §3.5):
 * 201 + `Location: devices/<id>`; 409 with the existing device when the identity is known and
 * `force` is not set; 400 on a bad body; 401 without a valid management JWT.
 */
export async function handlePreauthorize(
  ctx: ApiContext,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const record: PreauthorizationRecord = {
    at: new Date(),
    identity: undefined,
    pubkey: undefined,
    force: false,
    xForwardedFor: headerValue(req, 'x-forwarded-for'),
    headers: req.headers,
    rawBody: Buffer.alloc(0),
    responseStatus: 0,
    deviceId: undefined,
  };
  ctx.state.preauthorizations.push(record);
  const fail = (status: number, message: string): void => {
    record.responseStatus = status;
    sendError(req, res, status, message, ctx.json);
  };
  if (!ctx.management.valid(bearerToken(headerValue(req, 'authorization')))) {
    fail(401, 'unauthorized');
    return;
  }
  try {
    record.rawBody = await readBody(req, { limit: 1024 * 1024 });
  } catch {
    fail(400, 'failed to read request body');
    return;
  }
  const parsed = parseJson(record.rawBody);
  if (!parsed.ok || !isRecord(parsed.value)) {
    fail(400, 'failed to decode preauth request: invalid JSON');
    return;
  }
  const { identity_data: identity, pubkey, force } = parsed.value;
  if (isRecord(identity)) record.identity = identity;
  if (typeof pubkey === 'string') record.pubkey = pubkey;
  record.force = force === true;
  if (!isRecord(identity) || Object.keys(identity).length === 0) {
    fail(400, 'identity_data: cannot be blank.');
    return;
  }
  const normalised = typeof pubkey === 'string' ? normalisePubkey(pubkey) : undefined;
  if (normalised === undefined) {
    fail(400, 'pubkey: cannot decode public key');
    return;
  }
  const outcome = ctx.registry.preauthorize(identity, normalised, record.force);
  record.deviceId = outcome.device.id;
  if (outcome.kind === 'conflict') {
    record.responseStatus = 409;
    sendJson(req, res, 409, deviceView(outcome.device), ctx.json);
    return;
  }
  record.responseStatus = 201;
  res.setHeader('Location', `devices/${outcome.device.id}`);
  res.setHeader('Content-Length', 0);
  res.writeHead(201);
  res.end();
}
