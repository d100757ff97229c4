import {
  ALIVE_PATH,
  ARTIFACT_ROUTE,
  DEVICE_API_PREFIX,
  PROXY_ROUTE,
  READY_PATH,
} from '../http/device-path.js';

/**
 * The route template a request matched, for metric labels (docs/protocol.md §6.6: Mender Gateway
 * labels by matched route, not raw URL, to bound cardinality). Ids become `{id}`; unknown
 * device paths share one label.
 */
const TEMPLATES: [RegExp, string][] = [
  [/^\/api\/devices\/v1\/authentication\/auth_requests$/, '/api/devices/v1/authentication/auth_requests'],
  [
    /^\/api\/devices\/v[12]\/deployments\/device\/deployments\/next$/,
    '/api/devices/{version}/deployments/device/deployments/next',
  ],
  [
    /^\/api\/devices\/v1\/deployments\/device\/deployments\/[^/]+\/status$/,
    '/api/devices/v1/deployments/device/deployments/{id}/status',
  ],
  [
    /^\/api\/devices\/v1\/deployments\/device\/deployments\/[^/]+\/log$/,
    '/api/devices/v1/deployments/device/deployments/{id}/log',
  ],
  [
    /^\/api\/devices\/v2\/deployments\/device\/deployments\/[^/]+\/update_control_map$/,
    '/api/devices/v2/deployments/device/deployments/{id}/update_control_map',
  ],
  [
    /^\/api\/devices\/v1\/deployments\/download\/configuration\//,
    '/api/devices/v1/deployments/download/configuration/{id}',
  ],
  [/^\/api\/devices\/v1\/inventory\/device\/attributes$/, '/api/devices/v1/inventory/device/attributes'],
  [/^\/api\/devices\/v1\/deviceconfig\/configuration$/, '/api/devices/v1/deviceconfig/configuration'],
  [/^\/api\/devices\/v1\/deviceconnect\/connect$/, '/api/devices/v1/deviceconnect/connect'],
  [/^\/api\/devices\/v1\/devicemonitor\//, '/api/devices/v1/devicemonitor/{path}'],
];

export function routeName(path: string): string {
  if (path === ALIVE_PATH || path === READY_PATH) return path;
  if (path.startsWith(PROXY_ROUTE)) return `${PROXY_ROUTE}{link}`;
  if (path.startsWith(ARTIFACT_ROUTE)) return `${ARTIFACT_ROUTE}{key}`;
  for (const [pattern, template] of TEMPLATES) if (pattern.test(path)) return template;
  return path.startsWith(DEVICE_API_PREFIX) ? '/api/devices/{other}' : 'not_found';
}
