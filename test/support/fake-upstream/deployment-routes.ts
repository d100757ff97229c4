import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ApiContext } from './api-context.js';
import { requireDevice } from './api-context.js';
import { REPORTABLE_STATUSES } from './deployment-catalog.js';
import { isRecord, parseJson, readBody, sendEmpty, sendError, sendJson } from './http-util.js';
import type { DeviceDeploymentStatus, NextRequestRecord, NextVariant } from './state.js';

async function readJsonObject(req: IncomingMessage): Promise<Record<string, unknown> | undefined> {
  try {
    const parsed = parseJson(await readBody(req));
    return parsed.ok && isRecord(parsed.value) ? parsed.value : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The three "check for update" variants (docs/protocol.md §2.2). The v2 POST wraps the provides in
 * `device_provides` (3.x adds `update_control_map: true`), the v1 POST sends them flat, the v1 GET
 * has only `artifact_name` and `device_type` in the query. All answer 204 or 200 with
 * `DeploymentInstructions` whose `artifact.source.uri` is a presigned storage link.
 */
export async function handleNext(
  ctx: ApiContext,
  req: IncomingMessage,
  res: ServerResponse,
  variant: NextVariant,
  query: URLSearchParams,
): Promise<void> {
  const device = requireDevice(ctx, req, res);
  if (device === undefined) return;
  let provides: Record<string, unknown> | undefined;
  if (variant === 'v1-get') {
    provides = Object.fromEntries(query.entries());
  } else {
    const body = await readJsonObject(req);
    provides =
      variant === 'v2-post' ? (isRecord(body?.device_provides) ? body.device_provides : undefined) : body;
  }
  const record: NextRequestRecord = {
    at: new Date(),
    variant,
    deviceId: device.id,
    provides: provides ?? {},
    responseStatus: 0,
    deploymentId: undefined,
  };
  ctx.state.nextRequests.push(record);
  // Open-source servers have no v2 route: traefik authenticates, then deployments answers 404.
  if (variant === 'v2-post' && !ctx.options.v2Next) {
    record.responseStatus = 404;
    sendError(req, res, 404, 'resource not found', ctx.json);
    return;
  }
  const artifactName = provides?.artifact_name;
  const deviceType = provides?.device_type;
  if (
    typeof artifactName !== 'string' ||
    artifactName === '' ||
    typeof deviceType !== 'string' ||
    deviceType === ''
  ) {
    record.responseStatus = 400;
    sendError(req, res, 400, 'artifact_name and device_type are required', ctx.json);
    return;
  }
  device.lastProvides = provides;

  const decision = ctx.catalog.next(device, artifactName, deviceType);
  if (decision.kind === 'none') {
    record.responseStatus = 204;
    sendEmpty(res, 204);
    return;
  }
  const { deployment, artifact } = decision;
  const link = deployment.configuration
    ? ctx.configurationLinks.link(deployment, deviceType, device.id, ctx.options.linkExpireSeconds)
    : ctx.storageLink(artifact);
  record.responseStatus = 200;
  record.deploymentId = deployment.id;
  sendJson(
    req,
    res,
    200,
    {
      id: deployment.id,
      artifact: {
        id: artifact.id,
        artifact_name: artifact.name,
        source: { uri: link.uri, expire: link.expire.toISOString() },
        device_types_compatible: artifact.deviceTypes,
      },
    },
    ctx.json,
  );
}

/**
 * `PUT …/deployments/{id}/status` → 204; 409 once the deployment is aborted (the client then
 * aborts, docs/protocol.md §2.2); 404 for a deployment the device was never given.
 */
export async function handleStatus(
  ctx: ApiContext,
  req: IncomingMessage,
  res: ServerResponse,
  deploymentId: string,
): Promise<void> {
  const device = requireDevice(ctx, req, res);
  if (device === undefined) return;
  const body = await readJsonObject(req);
  const status = body?.status;
  if (typeof status !== 'string' || !REPORTABLE_STATUSES.has(status)) {
    sendError(req, res, 400, 'invalid status', ctx.json);
    return;
  }
  const deployment = ctx.catalog.deployment(deploymentId);
  if (deployment === undefined || !deployment.devices.has(device.id)) {
    sendError(req, res, 404, 'deployment not found', ctx.json);
    return;
  }
  if (deployment.aborted || deployment.devices.get(device.id) === 'aborted') {
    sendError(req, res, 409, 'deployment: deployment aborted', ctx.json);
    return;
  }
  deployment.devices.set(device.id, status as DeviceDeploymentStatus);
  ctx.state.statuses.push({
    at: new Date(),
    deploymentId,
    deviceId: device.id,
    status,
    substate: typeof body?.substate === 'string' ? body.substate : undefined,
  });
  sendEmpty(res, 204);
}

/** `PUT …/deployments/{id}/log` with `{"messages":[…]}` → 204 (docs/protocol.md §2.2). */
export async function handleLog(
  ctx: ApiContext,
  req: IncomingMessage,
  res: ServerResponse,
  deploymentId: string,
): Promise<void> {
  const device = requireDevice(ctx, req, res);
  if (device === undefined) return;
  const body = await readJsonObject(req);
  if (!Array.isArray(body?.messages)) {
    sendError(req, res, 400, 'messages: cannot be blank.', ctx.json);
    return;
  }
  const deployment = ctx.catalog.deployment(deploymentId);
  if (deployment === undefined || !deployment.devices.has(device.id)) {
    sendError(req, res, 404, 'deployment not found', ctx.json);
    return;
  }
  ctx.state.logs.push({ at: new Date(), deploymentId, deviceId: device.id, messages: body.messages });
  sendEmpty(res, 204);
}
