import { describe, expect, it } from 'vitest';
import { checkKeys, closestKey, editDistance } from '../../../src/core/config/unknown-keys.js';

const check = (json: unknown) => checkKeys(json, 'file /etc/mender/mender-gateway.conf');

describe('key hygiene (Go encoding/json semantics, warnings for mistakes)', () => {
  it('edit distance and closest key', () => {
    expect(editDistance('Lisen', 'Listen')).toBe(1);
    expect(editDistance('abc', 'abc')).toBe(0);
    expect(closestKey('Lisen', ['Enabled', 'Listen'])).toBe('Listen');
    expect(closestKey('GatwayUrl', ['Enabled', 'GatewayURL', 'DomainWhitelist'])).toBe('GatewayURL');
    expect(closestKey('Foo', ['Enabled', 'Listen'])).toBeUndefined();
  });

  it('warns about unknown keys with the path and the closest known key', () => {
    const { warnings, value } = check({ HTTPS: { Lisen: ':443' } });
    expect(warnings).toEqual([
      {
        path: '$.HTTPS.Lisen',
        source: 'file /etc/mender/mender-gateway.conf',
        severity: 'warning',
        message: 'unknown key (did you mean "Listen"?)',
        hint: 'rename it to "Listen"; unknown keys are ignored',
      },
    ]);
    expect(value).toEqual({ HTTPS: { Lisen: ':443' } });
  });

  it('says where a known key belongs when it sits at the wrong level', () => {
    const { warnings } = check({ Features: { ArtifactsCache: { Enabled: true } } });
    expect(warnings[0]).toMatchObject({
      path: '$.Features.ArtifactsCache',
      message: 'unknown key here ("ArtifactsCache" belongs under $.Features.ArtifactsProxy)',
    });
  });

  it('checks inside arrays of objects', () => {
    const { warnings } = check({
      Features: { DeviceSystem: { DefaultInventory: [{ Name: 'a', Valeu: 'b' }] } },
    });
    expect(warnings.map((w) => w.path)).toEqual(['$.Features.DeviceSystem.DefaultInventory[0].Valeu']);
  });

  it('accepts keys in any case, like Go, renaming them with a warning (parents shown canonical)', () => {
    const { warnings, value } = check({
      https: { listen: ':8443' },
      upstreamserver: { url: 'https://x.example' },
    });
    expect(value).toEqual({ HTTPS: { Listen: ':8443' }, UpstreamServer: { URL: 'https://x.example' } });
    expect(warnings.map((w) => [w.path, w.hint])).toEqual([
      ['$.https', 'write "HTTPS"'],
      ['$.HTTPS.listen', 'write "Listen"'],
      ['$.upstreamserver', 'write "UpstreamServer"'],
      ['$.UpstreamServer.url', 'write "URL"'],
    ]);
  });

  it('drops nulls (Go leaves the zero value) and accepts $schema', () => {
    const { warnings, value } = check({ $schema: './config.schema.json', HTTPS: { ServerKey: null } });
    expect(warnings).toEqual([]);
    expect(value).toEqual({ $schema: './config.schema.json', HTTPS: {} });
  });

  it('quotes odd key names in paths', () => {
    const { warnings } = check({ 'my key': 1 });
    expect(warnings[0]?.path).toBe('$["my key"]');
  });
});
