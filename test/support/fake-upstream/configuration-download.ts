import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ApiContext } from './api-context.js';
import { sendError } from './http-util.js';
import type { FakeDeployment } from './state.js';

export const CONFIGURATION_DOWNLOAD =
  /^\/api\/devices\/v1\/deployments\/download\/configuration\/([^/]+)\/([^/]+)\/([^/]+)$/;

/**
 * The links deployments hands out for configuration deployments: on the server's own host,
 * `…/download/configuration/<deployment>/<device type>/<device>?x-men-expire=…&x-men-signature=…&tenant_id=…`,
 * an HMAC the server checks itself; no JWT, no Range, the artifact generated per device
 * (https://github.com/mendersoftware/mender-server, deployments `DownloadConfiguration`).
 * The canonical string signed here is the fake's own; only the shape and the checks matter.
 */
export class ConfigurationLinks {
  readonly #secret = randomBytes(32);

  constructor(
    private readonly baseUrl: () => string,
    private readonly tenantId: string,
  ) {}

  #sign(path: string, expire: string, tenant: string): string {
    return createHmac('sha256', this.#secret)
      .update(`GET\n${path}\nx-men-expire=${expire}\ntenant_id=${tenant}\n`)
      .digest('base64url');
  }

  link(
    deployment: FakeDeployment,
    deviceType: string,
    deviceId: string,
    expiresSeconds: number,
  ): { uri: string; expire: Date } {
    const path = `/api/devices/v1/deployments/download/configuration/${encodeURIComponent(deployment.id)}/${encodeURIComponent(deviceType)}/${encodeURIComponent(deviceId)}`;
    const expire = new Date(Math.floor(Date.now() / 1000) * 1000 + expiresSeconds * 1000);
    const expireText = expire.toISOString().replace(/\.\d{3}Z$/, 'Z');
    const query = new URLSearchParams({
      'x-men-expire': expireText,
      'x-men-signature': this.#sign(path, expireText, this.tenantId),
      tenant_id: this.tenantId,
    });
    return { uri: `${this.baseUrl()}${path}?${query.toString()}`, expire };
  }

  /** 400 for missing parameters, 403 when expired or the HMAC does not match. */
  check(
    path: string,
    query: URLSearchParams,
  ): { ok: true } | { ok: false; status: 400 | 403; message: string } {
    const expire = query.get('x-men-expire');
    const signature = query.get('x-men-signature');
    if (expire === null || signature === null || Number.isNaN(Date.parse(expire)))
      return { ok: false, status: 400, message: 'invalid request parameters' };
    if (Date.now() > Date.parse(expire)) return { ok: false, status: 403, message: 'link expired' };
    const expected = Buffer.from(this.#sign(path, expire, query.get('tenant_id') ?? ''));
    const given = Buffer.from(signature);
    if (given.length !== expected.length || !timingSafeEqual(given, expected))
      return { ok: false, status: 403, message: 'signature invalid' };
    return { ok: true };
  }
}

/** `GET` of a configuration link: the deployment's artifact, with an exact length. */
export function handleConfigurationDownload(
  ctx: ApiContext,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  params: { deploymentId: string; deviceType: string; deviceId: string },
): void {
  const record = {
    at: new Date(),
    url: req.url ?? '/',
    headers: req.headers,
    deploymentId: params.deploymentId,
    deviceId: params.deviceId,
    status: 0,
  };
  ctx.state.configurationDownloads.push(record);
  const answer = (status: number, message: string): void => {
    record.status = status;
    sendError(req, res, status, message, ctx.json);
  };
  if (req.method !== 'GET') {
    answer(405, 'method not allowed');
    return;
  }
  const check = ctx.configurationLinks.check(url.pathname, url.searchParams);
  if (!check.ok) {
    answer(check.status, check.message);
    return;
  }
  const deployment = ctx.catalog.deployment(params.deploymentId);
  const artifact = deployment === undefined ? undefined : ctx.catalog.artifact(deployment.artifactId);
  if (deployment?.configuration !== true || artifact === undefined) {
    answer(404, 'resource not found');
    return;
  }
  record.status = 200;
  res.writeHead(200, {
    'Content-Disposition': 'attachment; filename="artifact.mender"',
    'Content-Type': 'application/vnd.mender-artifact',
    'Content-Length': artifact.data.length,
  });
  // No Accept-Ranges, and a Range header is ignored: the server generates the artifact per request.
  res.end(artifact.data);
}
