import { describe, expect, it } from 'vitest';
import {
  ENV_OVERRIDES,
  applyEnvOverrides,
  parseGoBool,
  splitEnvList,
} from '../../../src/core/config/env-overrides.js';

describe('environment overrides (docs/protocol.md §6.2)', () => {
  it('covers every documented variable plus our extensions, each once', () => {
    const names = ENV_OVERRIDES.map((e) => e.env);
    expect(new Set(names).size).toBe(names.length);
    expect(names).toEqual(
      expect.arrayContaining([
        'UPSTREAM_SERVER_URL',
        'UPSTREAM_SERVER_CA_CERTIFICATE',
        'UPSTREAM_SERVER_INSECURE_SKIP_VERIFY',
        'HTTP_ENABLED',
        'HTTP_LISTEN',
        'HTTPS_ENABLED',
        'HTTPS_LISTEN',
        'HTTPS_MINIMUM_TLS_VERSION',
        'HTTPS_SERVER_CERTIFICATE',
        'HTTPS_SERVER_KEY',
        'ARTIFACTS_PROXY_ENABLED',
        'ARTIFACTS_PROXY_GATEWAY_URL',
        'ARTIFACTS_PROXY_DOMAIN_WHITELIST',
        'ARTIFACTS_PROXY_CACHE_ENABLED',
        'ARTIFACTS_PROXY_CACHE_PATH',
        'ARTIFACTS_PROXY_CACHE_SECRET',
        'ARTIFACTS_PROXY_CACHE_LINK_EXPIRE_DURATION',
        'MTLS_ENABLED',
        'MTLS_CA_CERTIFICATE',
        'MTLS_BLACKLIST_PATH',
        'MTLS_MENDER_USERNAME',
        'MTLS_MENDER_PASSWORD',
        'MTLS_ENABLE_CACHE',
        'MTLS_INSECURE_SKIP_CLIENT_EXPIRE_AFTER',
        'DEVICE_SYSTEM_ENABLED',
        'DEVICE_SYSTEM_ID',
        'METRICS_ENABLED',
        'METRICS_LISTEN',
        'MTLS_ALLOW_DEVICE_API_ON_HTTP',
        'UPSTREAM_SERVER_CONNECT_TIMEOUT',
        'UPSTREAM_SERVER_RESPONSE_TIMEOUT',
        'UPSTREAM_SERVER_BODY_IDLE_TIMEOUT',
        'SHUTDOWN_GRACE_PERIOD',
      ]),
    );
    expect(
      ENV_OVERRIDES.filter((e) => e.extension === true)
        .map((e) => e.env)
        .sort(),
    ).toEqual([
      'DEVICE_CONNECTIONS_HEADERS_TIMEOUT',
      'DEVICE_CONNECTIONS_MAX_PER_IP',
      'DRAIN_ENABLED',
      'DRAIN_PERIOD',
      'MTLS_ALLOW_DEVICE_API_ON_HTTP',
      'SHUTDOWN_GRACE_PERIOD',
      'UPSTREAM_SERVER_BODY_IDLE_TIMEOUT',
      'UPSTREAM_SERVER_CONNECT_TIMEOUT',
      'UPSTREAM_SERVER_RESPONSE_TIMEOUT',
    ]);
  });

  it('parses booleans exactly like Go strconv.ParseBool', () => {
    for (const t of ['1', 't', 'T', 'TRUE', 'true', 'True']) expect(parseGoBool(t)).toBe(true);
    for (const f of ['0', 'f', 'F', 'FALSE', 'false', 'False']) expect(parseGoBool(f)).toBe(false);
    for (const bad of ['yes', 'no', 'on', 'tRUE', ' true', 'TrUe', '2', ''])
      expect(parseGoBool(bad)).toBeUndefined();
  });

  it('splits lists on commas and/or whitespace', () => {
    expect(splitEnvList('s3.amazonaws.com,cloudflarestorage.com  blob.core.windows.net,\n x.io')).toEqual([
      's3.amazonaws.com',
      'cloudflarestorage.com',
      'blob.core.windows.net',
      'x.io',
    ]);
    expect(splitEnvList(' , ')).toEqual([]);
  });

  it('overrides file values, creates missing sections, and records the source of each path', () => {
    const file = { HTTPS: { Listen: ':443', Enabled: true }, UpstreamServer: { URL: 'https://a.example' } };
    const result = applyEnvOverrides(file, {
      HTTPS_LISTEN: ':8443',
      HTTPS_ENABLED: 'False',
      ARTIFACTS_PROXY_DOMAIN_WHITELIST: 'a.com b.com',
      MTLS_ENABLE_CACHE: '0',
    });
    expect(result.issues).toEqual([]);
    expect(result.raw).toEqual({
      HTTPS: { Listen: ':8443', Enabled: false },
      UpstreamServer: { URL: 'https://a.example' },
      Features: { ArtifactsProxy: { DomainWhitelist: ['a.com', 'b.com'] }, mTLS: { EnableCache: false } },
    });
    expect(file.HTTPS.Listen).toBe(':443'); // input untouched
    expect(result.envByPath.get('HTTPS.Listen')).toBe('HTTPS_LISTEN');
    expect(result.envByPath.get('Features.ArtifactsProxy.DomainWhitelist')).toBe(
      'ARTIFACTS_PROXY_DOMAIN_WHITELIST',
    );
    expect(result.envByPath.has('UpstreamServer.URL')).toBe(false);
  });

  it('treats empty variables as unset', () => {
    const result = applyEnvOverrides({ HTTP: { Listen: ':80' } }, { HTTP_LISTEN: '', HTTP_ENABLED: '' });
    expect(result.raw).toEqual({ HTTP: { Listen: ':80' } });
    expect(result.issues).toEqual([]);
  });

  it('reports a bad boolean with the variable as source and does not apply it', () => {
    const result = applyEnvOverrides({ HTTP: { Enabled: true } }, { HTTP_ENABLED: 'yes' });
    expect(result.raw).toEqual({ HTTP: { Enabled: true } });
    expect(result.issues).toEqual([
      expect.objectContaining({
        path: '$.HTTP.Enabled',
        source: 'env HTTP_ENABLED',
        severity: 'error',
        message: '"yes" is not a boolean',
      }),
    ]);
  });

  it('accepts the documented UPSTREAM_SERVER alias; UPSTREAM_SERVER_URL wins when both are set', () => {
    const alone = applyEnvOverrides({}, { UPSTREAM_SERVER: 'https://alias.example' });
    expect(alone.raw).toEqual({ UpstreamServer: { URL: 'https://alias.example' } });
    expect(alone.envByPath.get('UpstreamServer.URL')).toBe('UPSTREAM_SERVER');
    expect(alone.issues).toEqual([]);

    const both = applyEnvOverrides(
      {},
      { UPSTREAM_SERVER: 'https://alias.example', UPSTREAM_SERVER_URL: 'https://url.example' },
    );
    expect(both.raw).toEqual({ UpstreamServer: { URL: 'https://url.example' } });
    expect(both.envByPath.get('UpstreamServer.URL')).toBe('UPSTREAM_SERVER_URL');
    expect(both.issues).toEqual([
      expect.objectContaining({ severity: 'warning', source: 'env UPSTREAM_SERVER' }),
    ]);
  });

  it('accepts the misspelled HTTPS_MINMUM_TLS_VERSION with a warning', () => {
    const result = applyEnvOverrides({}, { HTTPS_MINMUM_TLS_VERSION: '1.3' });
    expect(result.raw).toEqual({ HTTPS: { MinimumTLSVersion: '1.3' } });
    expect(result.issues).toEqual([
      expect.objectContaining({
        path: '$.HTTPS.MinimumTLSVersion',
        source: 'env HTTPS_MINMUM_TLS_VERSION',
        severity: 'warning',
        hint: 'rename it to HTTPS_MINIMUM_TLS_VERSION',
      }),
    ]);
  });

  it('leaves a non-object section alone (the schema reports it)', () => {
    const result = applyEnvOverrides({ HTTPS: true }, { HTTPS_LISTEN: ':8443' });
    expect(result.raw).toEqual({ HTTPS: true });
    expect(result.envByPath.size).toBe(0);
  });
});
