import { describe, expect, it } from 'vitest';
import { classifyPath, splitTarget } from '../../../src/core/http/device-path.js';

describe('device path policy (docs/protocol.md §1, §9.13)', () => {
  it.each([
    ['/api/devices/v1/authentication/auth_requests', 'device-api'],
    ['/api/devices/v2/deployments/device/deployments/next', 'device-api'],
    ['/api/devices/v1/deviceconnect/connect', 'device-api'],
    ['/api/devices/v1/inventory/device/attributes', 'device-api'],
    ['/api/devices/v1/some%20thing', 'device-api'],
    ['/api/internal/v1/gateway/alive', 'alive'],
    ['/', 'not-found'],
    ['/api/devices', 'not-found'],
    ['/api/management/v1/useradm/auth/login', 'not-found'],
    ['/API/devices/v1/x', 'not-found'],
    ['/api/devices/../management/v1/x', 'unsafe'],
    ['/api/devices/./v1', 'unsafe'],
    ['/api/devices/v1/%2e%2e/x', 'unsafe'],
    ['/api/devices/v1/%2E./x', 'unsafe'],
    ['/api/devices/v1%2fx', 'unsafe'],
    ['/api/devices/v1%5cx', 'unsafe'],
    ['/api/devices/v1\\x', 'unsafe'],
    ['/api/devices//v1', 'unsafe'],
    ['/api/devices/v1/%zz', 'unsafe'],
  ])('%s → %s', (path, verdict) => {
    expect(classifyPath(path)).toBe(verdict);
  });

  it('splits the target without normalising it', () => {
    expect(splitTarget('/a/../b?x=1&y=%2F')).toEqual({ path: '/a/../b', query: '?x=1&y=%2F' });
    expect(splitTarget('/a')).toEqual({ path: '/a', query: '' });
  });
});
