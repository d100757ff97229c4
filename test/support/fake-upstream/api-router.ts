import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ApiContext } from './api-context.js';
import { requireDevice } from './api-context.js';
import { CONFIGURATION_DOWNLOAD, handleConfigurationDownload } from './configuration-download.js';
import { CONNECT_PATH } from './device-connect.js';
import { handleAuthRequest } from './device-auth-routes.js';
import { handleLog, handleNext, handleStatus } from './deployment-routes.js';
import { isRecord, parseJson, readBody, sendEmpty, sendError, sendJson } from './http-util.js';
import { handleInventory } from './inventory-routes.js';
import { handleLogin, handlePreauthorize } from './management-routes.js';

const DEPLOYMENT_ACTION = /^\/api\/devices\/v1\/deployments\/device\/deployments\/([^/]+)\/(status|log)$/;

/** traefik's answer for paths no router matches. */
function traefikNotFound(res: ServerResponse): void {
  const body = '404 page not found\n';
  res.writeHead(404, {
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
  });
  res.end(body);
}

function methodNotAllowed(ctx: ApiContext, req: IncomingMessage, res: ServerResponse): void {
  sendError(req, res, 405, 'method not allowed', ctx.json);
}

/** `GET|PUT /api/devices/v1/deviceconfig/configuration` (docs/protocol.md §2.4). */
async function handleDeviceConfig(ctx: ApiContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const device = requireDevice(ctx, req, res);
  if (device === undefined) return;
  if (req.method === 'GET') {
    sendJson(req, res, 200, {}, ctx.json);
    return;
  }
  const parsed = parseJson(await readBody(req).catch(() => Buffer.from('x')));
  if (!parsed.ok || !isRecord(parsed.value)) {
    sendError(req, res, 400, 'invalid configuration', ctx.json);
    return;
  }
  ctx.state.deviceConfig.set(device.id, parsed.value);
  sendEmpty(res, 204);
}

type Handler = (ctx: ApiContext, req: IncomingMessage, res: ServerResponse, url: URL) => Promise<void>;

/** Fixed paths of the API host and their methods (docs/protocol.md §1.1, §3.4, §3.5). */
const ROUTES: Record<string, Partial<Record<string, Handler>>> = {
  '/api/devices/v1/authentication/auth_requests': { POST: handleAuthRequest },
  '/api/devices/v1/inventory/device/attributes': { PUT: handleInventory, PATCH: handleInventory },
  '/api/devices/v2/deployments/device/deployments/next': {
    POST: (ctx, req, res, url) => handleNext(ctx, req, res, 'v2-post', url.searchParams),
  },
  '/api/devices/v1/deployments/device/deployments/next': {
    POST: (ctx, req, res, url) => handleNext(ctx, req, res, 'v1-post', url.searchParams),
    GET: (ctx, req, res, url) => handleNext(ctx, req, res, 'v1-get', url.searchParams),
  },
  '/api/devices/v1/deviceconfig/configuration': { GET: handleDeviceConfig, PUT: handleDeviceConfig },
  // Reached only without `Upgrade` (upgrades go through DeviceConnect): the real handler
  // authenticates, then refuses a plain GET with 400.
  [CONNECT_PATH]: {
    GET: (ctx, req, res) => {
      if (requireDevice(ctx, req, res) !== undefined)
        sendError(req, res, 400, 'the client is not using the websocket protocol', ctx.json);
      return Promise.resolve();
    },
  },
  '/api/management/v1/useradm/auth/login': { POST: handleLogin },
  '/api/management/v2/devauth/devices': { POST: handlePreauthorize },
};

/** Route one request of the API host. */
export async function routeApi(ctx: ApiContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://fake.invalid');
  const path = url.pathname;
  const method = req.method ?? 'GET';

  const route = ROUTES[path];
  if (route !== undefined) {
    const handler = route[method];
    if (handler === undefined) methodNotAllowed(ctx, req, res);
    else await handler(ctx, req, res, url);
    return;
  }
  const configuration = CONFIGURATION_DOWNLOAD.exec(path);
  if (configuration !== null) {
    const [, deploymentId = '', deviceType = '', deviceId = ''] = configuration.map((p) =>
      decodeURIComponent(p),
    );
    handleConfigurationDownload(ctx, req, res, url, { deploymentId, deviceType, deviceId });
    return;
  }
  const action = DEPLOYMENT_ACTION.exec(path);
  if (action !== null) {
    const [, deploymentId = '', kind] = action;
    if (method !== 'PUT') methodNotAllowed(ctx, req, res);
    else if (kind === 'status') await handleStatus(ctx, req, res, deploymentId);
    else await handleLog(ctx, req, res, deploymentId);
    return;
  }
  if (path.startsWith('/api/devices/') || path.startsWith('/api/management/')) {
    sendError(req, res, 404, 'resource not found', ctx.json);
    return;
  }
  traefikNotFound(res);
}
