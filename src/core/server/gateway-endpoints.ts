import { TLSSocket } from 'node:tls';
import { GatewayError } from '../errors.js';
import { ALIVE_PATH, READY_PATH, classifyPath } from '../http/device-path.js';
import { sendJsonError } from '../http/json-response.js';
import { checkPeer } from '../mtls/client-certificate-check.js';
import type { PeerPolicy } from '../mtls/client-certificate-check.js';
import type { Exchange } from './exchange.js';
import type { Interceptor } from './interceptor.js';
import type { ReadinessProbe } from './readiness-probe.js';
import { key } from '../config-key.js';

/** Mender services answer alive checks with 204 and no body (docs/protocol.md). */
export const aliveEndpoint: Interceptor = {
  name: 'alive',
  matches: (exchange) => exchange.path === ALIVE_PATH,
  handle(exchange) {
    exchange.res.writeHead(204, { 'cache-control': 'no-store' });
    exchange.res.end();
    return Promise.resolve();
  },
};

/** Readiness: the upstream link and the cache volume, for probes and failover. */
export function readyEndpoint(readiness: ReadinessProbe): Interceptor {
  return {
    name: 'ready',
    matches: (exchange) => exchange.path === READY_PATH,
    async handle(exchange) {
      const { res } = exchange;
      try {
        const report = await readiness.report();
        const body = JSON.stringify(report);
        exchange.bytesOut = Buffer.byteLength(body);
        res.writeHead(report.ready ? 200 : 503, {
          'content-type': 'application/json; charset=utf-8',
          'content-length': exchange.bytesOut,
          'cache-control': 'no-store',
        });
        res.end(body);
      } catch (err) {
        exchange.bytesOut += sendJsonError(res, 500, `readiness check failed: ${String(err)}`, exchange.id);
      }
    },
  };
}

/**
 * Only `/api/devices/**` passes (besides the two gateway endpoints): the management API and UI
 * are never reachable from the device network, and a path a server behind upstream could
 * normalise into another API is refused (`http/device-path.ts`). Routing is by path only, never
 * by `Host`.
 */
export const pathPolicy: Interceptor = {
  name: 'path-policy',
  matches: (exchange) => classifyPath(exchange.path) !== 'device-api',
  handle(exchange) {
    exchange.fail(
      classifyPath(exchange.path) === 'unsafe'
        ? new GatewayError('MGW_BAD_REQUEST', 'request path contains dot segments or encoded separators', {
            hint: 'Send the path as the Mender client does.',
          })
        : new GatewayError('MGW_NOT_FOUND', 'not found: the gateway serves only the Mender device API', {
            hint: 'Devices use /api/devices/**; health checks use /api/internal/v1/gateway/alive.',
          }),
    );
    return Promise.resolve();
  },
};

/**
 * Who may use the device API when mTLS is on (docs/mtls.md): on HTTPS a device with a valid,
 * non-blacklisted certificate, checked on every request; on plain HTTP nobody unless the
 * operator allowed it, otherwise switching to port 80 would bypass the certificate check.
 * Sets the exchange's verified certificate for the steps after it.
 */
export function mtlsAdmission(policy: PeerPolicy, allowDeviceApiOnHttp: boolean): Interceptor {
  return {
    name: 'mtls-admission',
    matches: () => true,
    handle(exchange, next) {
      const refusal = admit(exchange, policy, allowDeviceApiOnHttp);
      if (refusal === undefined) return next();
      exchange.fail(refusal);
      return Promise.resolve();
    },
  };
}

function admit(
  exchange: Exchange,
  policy: PeerPolicy,
  allowDeviceApiOnHttp: boolean,
): GatewayError | undefined {
  if (exchange.listener === 'http') {
    if (allowDeviceApiOnHttp) return undefined;
    return new GatewayError(
      'MGW_DEVICE_FORBIDDEN',
      `the device API needs HTTPS with a client certificate (${key('Features.mTLS')} is enabled)`,
      {
        hint: `Point the device at the HTTPS listener, or set ${key('Features.mTLS.AllowDeviceAPIOnHTTP')}.`,
      },
    );
  }
  const socket = exchange.req.socket;
  if (!(socket instanceof TLSSocket))
    return new GatewayError('MGW_DEVICE_FORBIDDEN', 'mTLS: not a TLS connection');
  const verdict = checkPeer(socket, policy);
  if (!verdict.ok)
    return new GatewayError('MGW_DEVICE_FORBIDDEN', `mTLS: ${verdict.reason}`, {
      hint: 'The device needs a valid certificate from a trusted CA.',
    });
  exchange.certificate = { serial: verdict.serial, subject: verdict.subject };
  return undefined;
}
