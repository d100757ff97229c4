import { describe, expect, it } from 'vitest';
import {
  CONFIG_TABLE,
  configEntry,
  isConfigKeyOrSection,
  type ConfigEntry,
} from '../../../src/core/config/config-table.js';
import { isSecretPath } from '../../../src/core/config/config-issue.js';
import { ENV_OVERRIDES } from '../../../src/core/config/env-overrides.js';

const TABLE: readonly ConfigEntry[] = CONFIG_TABLE;

describe('the config table (one entry per key)', () => {
  it('declares each key once', () => {
    const keys = TABLE.map((e) => e.key);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('every default passes its own key’s validation', () => {
    for (const entry of TABLE) {
      if (entry.default === undefined) continue;
      const result = entry.type.schema(entry.description).safeParse(entry.default);
      expect(result.success, `${entry.key} = ${JSON.stringify(entry.default)}`).toBe(true);
    }
  });

  it('extensions are the keys Mender Gateway does not have; only they may lack a release', () => {
    const extensions = TABLE.filter((e) => e.since === 'extension').map((e) => e.key);
    expect(extensions).toEqual([
      '$schema',
      'Features.mTLS.AllowDeviceAPIOnHTTP',
      'UpstreamServer.ConnectTimeout',
      'UpstreamServer.ResponseTimeout',
      'UpstreamServer.BodyIdleTimeout',
      'DeviceConnections.MaxPerIP',
      'DeviceConnections.HeadersTimeout',
      'Drain.Enabled',
      'Drain.Period',
      'ShutdownGracePeriod',
    ]);
  });

  it('knows keys and sections, and nothing else', () => {
    expect(configEntry('HTTPS.Listen')?.env).toBe('HTTPS_LISTEN');
    expect(isConfigKeyOrSection('Features.mTLS')).toBe(true);
    expect(isConfigKeyOrSection('Features.ArtifactsProxy.ArtifactsCache.Path')).toBe(true);
    expect(isConfigKeyOrSection('Features.ArtifactsProxy.Cache.Path')).toBe(false);
  });

  it('secrets are redacted by path, and nothing else is', () => {
    expect(isSecretPath(['Features', 'mTLS', 'MenderPassword'])).toBe(true);
    expect(isSecretPath(['Features', 'ArtifactsProxy', 'ArtifactsCache', 'SignatureSecret'])).toBe(true);
    expect(isSecretPath(['Features', 'mTLS', 'MenderUsername'])).toBe(false);
  });

  it('every key with a variable is overlaid from the environment with its kind of parsing', () => {
    const withEnv = TABLE.filter((e) => e.env !== undefined);
    expect(ENV_OVERRIDES.map((o) => o.env)).toEqual(withEnv.map((e) => e.env));
    expect(ENV_OVERRIDES.find((o) => o.env === 'ARTIFACTS_PROXY_DOMAIN_WHITELIST')?.kind).toBe('csv');
    expect(ENV_OVERRIDES.find((o) => o.env === 'DEVICE_CONNECTIONS_MAX_PER_IP')?.kind).toBe('integer');
    expect(ENV_OVERRIDES.find((o) => o.env === 'MTLS_MENDER_PASSWORD')?.secret).toBe(true);
  });
});
