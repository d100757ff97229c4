import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { skipBecause } from '../../support/skip-reason.js';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isGatewayError } from '../../../src/core/errors.js';
import {
  DEFAULT_CONFIG_PATH,
  formatConfigIssue,
  loadConfig,
  type ConfigIssue,
  type LoadConfigOptions,
} from '../../../src/core/config/index.js';
import { createTlsFileContents } from '../../support/tls-file-contents.js';
import type { TlsFileContents } from '../../support/tls-file-contents.js';

const FIXTURES = fileURLToPath(new URL('../../fixtures/configs/', import.meta.url));
const fixture = (name: string): string => join(FIXTURES, name);

/** The issues of the MGW_CONFIG_INVALID error a load must fail with. */
async function issuesOf(options: LoadConfigOptions): Promise<ConfigIssue[]> {
  const err = await loadConfig(options).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isGatewayError(err), `expected loadConfig to fail, got ${String(err)}`).toBe(true);
  if (!isGatewayError(err)) return [];
  expect(err.code).toBe('MGW_CONFIG_INVALID');
  expect(err.message).not.toContain('\n');
  expect(err.hint).toBeTruthy();
  expect(Array.isArray(err.details)).toBe(true);
  return err.details as ConfigIssue[];
}

const errorsOf = async (options: LoadConfigOptions): Promise<ConfigIssue[]> =>
  (await issuesOf(options)).filter((i) => i.severity === 'error');

let dir: string;
let tls: TlsFileContents;
/** Write a config into the temp folder and return its path. */
async function conf(name: string, json: unknown): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, typeof json === 'string' ? json : JSON.stringify(json, null, 2));
  return path;
}

const HTTP_ONLY = {
  HTTP: { Enabled: true, Listen: '127.0.0.1:8080' },
  HTTPS: { Enabled: false },
  UpstreamServer: { URL: 'https://hosted.mender.io' },
};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mgw-config-'));
  await mkdir(join(dir, 'certs'));
  tls = await createTlsFileContents();
  await writeFile(join(dir, 'certs', 'server.crt'), tls.serverCertificate);
  await writeFile(join(dir, 'certs', 'server.key'), tls.serverKey);
  await writeFile(join(dir, 'certs', 'ca.crt'), tls.caCertificate);
  await writeFile(join(dir, 'certs', 'blacklist.txt'), tls.forKey('BlacklistPath'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
  await tls.cleanup();
});

describe('loadConfig: one test per error class', () => {
  it('wrong type', async () => {
    const path = fixture('wrong-type.conf');
    const errors = await errorsOf({ path, env: {} });
    expect(errors).toEqual([
      {
        path: '$.HTTP.Enabled',
        source: `file ${path}`,
        severity: 'error',
        message: 'expected a boolean, got "true"',
        hint: 'write true or false, without quotes',
      },
      {
        path: '$.HTTP.Listen',
        source: `file ${path}`,
        severity: 'error',
        message: 'expected a string, got 8080',
        hint: 'put the value in double quotes',
      },
    ]);
  });

  it('bad URL', async () => {
    const errors = await errorsOf({ path: fixture('bad-url.conf'), env: {} });
    expect(errors.map((e) => [e.path, e.message])).toEqual([
      ['$.Features.ArtifactsProxy.GatewayURL', '"ftp://gateway.local" uses ftp:'],
      [
        '$.UpstreamServer.URL',
        '"hosted.mender.io" is not an absolute URL; did you mean "https://hosted.mender.io"?',
      ],
    ]);
  });

  it('unknown TLS version', async () => {
    const errors = await errorsOf({ path: fixture('unknown-tls-version.conf'), env: {} });
    expect(errors).toEqual([
      expect.objectContaining({
        path: '$.HTTPS.MinimumTLSVersion',
        message: '"1.4" is not a TLS version',
        hint: 'use "1.2" or "1.3" ("1.0" and "1.1" are accepted but obsolete)',
      }),
    ]);
    const numeric = await errorsOf({
      path: await conf('tls-number.conf', {
        ...HTTP_ONLY,
        HTTPS: { MinimumTLSVersion: 1.2, Enabled: false },
      }),
      env: {},
    });
    expect(numeric[0]).toMatchObject({
      message: '1.2 is not a TLS version',
      hint: 'write the version as a string: "1.2"',
    });
  });

  it('missing certificate file (relative paths resolve against the file folder)', async () => {
    const errors = await errorsOf({ path: fixture('missing-certificate.conf'), env: {} });
    expect(errors.map((e) => e.path)).toEqual(['$.HTTPS.ServerCertificate', '$.HTTPS.ServerKey']);
    expect(errors[0]?.message).toBe(
      `"certs/does-not-exist.crt" (= ${join(FIXTURES, 'certs/does-not-exist.crt')}) does not exist`,
    );
    expect(errors[0]?.hint).toMatch(/resolved against the file's folder/);
    // The same file loads when file checks are off (e.g. validating on another machine).
    await expect(
      loadConfig({ path: fixture('missing-certificate.conf'), env: {}, checkFiles: false }),
    ).resolves.toBeDefined();
  });

  it('bad duration', async () => {
    const errors = await errorsOf({ path: fixture('bad-duration.conf'), env: {} });
    expect(errors.map((e) => [e.path, e.message])).toEqual([
      [
        '$.Features.ArtifactsProxy.ArtifactsCache.LinkExpireDuration',
        '"1d" is not a Go duration: unknown unit "d" (use ns, us, µs, ms, s, m or h; Go has no unit for days or weeks: write "24h" or "168h")',
      ],
      [
        '$.UpstreamServer.ConnectTimeout',
        '"30" is not a Go duration: missing unit after "30" (use ns, us, µs, ms, s, m or h, e.g. "30s")',
      ],
    ]);
    const negative = await errorsOf({
      path: await conf('neg.conf', { ...HTTP_ONLY, ShutdownGracePeriod: '-5s' }),
      env: {},
    });
    expect(negative[0]).toMatchObject({ path: '$.ShutdownGracePeriod', message: '"-5s" is negative' });
  });

  it('env override with a bad value names the variable', async () => {
    const errors = await errorsOf({
      path: fixture('valid-http-only.conf'),
      env: { HTTP_LISTEN: 'abc', HTTPS_ENABLED: 'yes' },
    });
    expect(errors.map(formatConfigIssue)).toEqual([
      'error $.HTTPS.Enabled (env HTTPS_ENABLED): "yes" is not a boolean — set HTTPS_ENABLED to true or false (Go\'s strconv.ParseBool set is accepted: 1, t, T, TRUE, true, True, 0, f, F, FALSE, false, False)',
      'error $.HTTP.Listen (env HTTP_LISTEN): "abc" is not host:port (no ":port") — use e.g. ":443" or "0.0.0.0:8443"',
    ]);
  });

  it('unknown keys are warnings only', async () => {
    const path = fixture('unknown-key.conf');
    const { config, warnings } = await loadConfig({ path, env: {} });
    expect(warnings.map((w) => [w.severity, w.path, w.message])).toEqual([
      ['warning', '$.HTTP.Lisen', 'unknown key (did you mean "Listen"?)'],
      ['warning', '$.UpstreamServer.Insecure', 'unknown key'],
      [
        'warning',
        '$.Features.ArtifactsCache',
        'unknown key here ("ArtifactsCache" belongs under $.Features.ArtifactsProxy)',
      ],
      ['warning', '$.LogLevel', 'unknown key'],
    ]);
    expect(config.http.listen.raw).toBe(':80'); // the misspelt key was ignored
    expect(config.upstream.insecureSkipVerify).toBe(false);
  });

  it.each([
    ['mender-docs-2022-trailing-comma.conf', 19, 5, /trailing comma/],
    ['mender-docs-2022-missing-comma.conf', 8, 9, /missing comma/],
  ])(
    'JSON syntax error with line:column (%s, verbatim from 2022 Mender docs)',
    async (name, line, column, why) => {
      const path = fixture(name);
      const err = await loadConfig({ path, env: {} }).catch((e: unknown) => e);
      expect(isGatewayError(err) && err.code).toBe('MGW_CONFIG_UNREADABLE');
      if (!isGatewayError(err)) return;
      expect(err.message).toMatch(
        new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:${line}:${column}: invalid JSON: `),
      );
      expect(err.message).toMatch(why);
      expect(err.details).toMatchObject({ file: path, line, column });
      expect(err.message).not.toContain('password123');
    },
  );

  it('mTLS without MenderUsername', async () => {
    const path = fixture('mtls-missing-username.conf');
    const issues = await issuesOf({ path, env: {} });
    expect(issues).toEqual([
      {
        path: '$.Features.mTLS.MenderUsername',
        source: `file ${path}`,
        severity: 'error',
        message: 'mTLS is enabled but Features.mTLS.MenderUsername is not set',
        hint: 'set Features.mTLS.MenderUsername (env MTLS_MENDER_USERNAME)',
      },
    ]);
    // …and the same config completed from the environment loads.
    const { config } = await loadConfig({ path, env: { MTLS_MENDER_USERNAME: 'gateway@example.com' } });
    expect(config.mtls).toMatchObject({
      enabled: true,
      menderUsername: 'gateway@example.com',
      enableCache: true,
    });
  });

  it('secrets are never echoed', async () => {
    const fromFile = await issuesOf({ path: fixture('secrets-invalid.conf'), env: {} });
    expect(fromFile.filter((i) => i.severity === 'error').map((e) => [e.path, e.message])).toEqual([
      ['$.Features.ArtifactsProxy.ArtifactsCache.SignatureSecret', 'the value is not valid base64'],
      ['$.Features.mTLS.MenderPassword', 'expected a string, got an array'],
    ]);
    const fromEnv = await issuesOf({
      path: fixture('valid-http-only.conf'),
      env: {
        ARTIFACTS_PROXY_ENABLED: 'true',
        ARTIFACTS_PROXY_GATEWAY_URL: 'http://gw.local',
        ARTIFACTS_PROXY_CACHE_ENABLED: 'true',
        ARTIFACTS_PROXY_CACHE_SECRET: '%%s3cr3t-signing-key%%',
        MTLS_MENDER_PASSWORD: 'hunter2-secret-password',
        UPSTREAM_SERVER_URL: 'ftp://admin:hunter2-in-url@upstream.example',
      },
    });
    expect(fromEnv.find((i) => i.path === '$.UpstreamServer.URL')?.message).toBe(
      'the URL contains credentials (not shown)',
    );
    const syntax = await loadConfig({
      path: await conf(
        'bad-json-with-password.conf',
        '{"Features": {"mTLS": {"MenderPassword": "hunter2-secret-password"}}, x}',
      ),
      env: {},
    }).catch((e: unknown) => e);
    const everything = JSON.stringify([
      fromFile,
      fromEnv,
      String(syntax),
      (syntax as { hint?: string }).hint,
    ]);
    expect(everything).not.toMatch(/s3cr3t|hunter2/);
    expect(fromEnv.map((i) => i.source)).toContain('env ARTIFACTS_PROXY_CACHE_SECRET');
  });
});

describe('loadConfig: defaults and normalisation (docs/protocol.md §9.11)', () => {
  it('applies documented defaults', async () => {
    const { config } = await loadConfig({
      path: await conf('defaults.conf', {
        UpstreamServer: { URL: 'https://eu.hosted.mender.io/' },
        HTTPS: { ServerCertificate: 'certs/server.crt', ServerKey: 'certs/server.key' },
      }),
      env: {},
    });
    expect(config.upstream.url.href).toBe('https://eu.hosted.mender.io/');
    expect(config.https).toEqual({
      enabled: true,
      listen: { host: undefined, port: 443, raw: ':443' },
      minimumTlsVersion: 'TLSv1.2',
      serverCertificate: join(dir, 'certs/server.crt'),
      serverKey: join(dir, 'certs/server.key'),
    });
    expect(config.http).toEqual({ enabled: false, listen: { host: undefined, port: 80, raw: ':80' } });
    expect(config.metrics).toEqual({
      enabled: false,
      listen: { host: '127.0.0.1', port: 9102, raw: '127.0.0.1:9102' },
    });
    expect(config.artifactsProxy.cache).toEqual({
      enabled: false,
      path: '/var/cache/mender-gateway',
      signatureSecret: undefined,
      linkExpireMs: 86_400_000,
    });
    expect(config.mtls).toMatchObject({ enabled: false, enableCache: true, allowDeviceApiOnHttp: false });
    expect(config.timeouts).toEqual({
      connectMs: 30_000,
      headersMs: 60_000,
      bodyIdleMs: 300_000,
      shutdownGraceMs: 30_000,
    });
    expect(config.debugLog).toBe(false);
  });

  it('HTTP enabled and HTTPS not mentioned means HTTP only (Mender integration-test config)', async () => {
    const { config } = await loadConfig({
      path: await conf('http.conf', {
        HTTP: { Enabled: true },
        UpstreamServer: { URL: 'https://x.example' },
      }),
      env: {},
    });
    expect(config.https.enabled).toBe(false);
    // …but any HTTPS setting brings back the default (HTTPS on), which then needs its key.
    const errors = await errorsOf({
      path: await conf('http-cert.conf', {
        HTTP: { Enabled: true },
        HTTPS: { ServerCertificate: 'certs/server.crt' },
        UpstreamServer: { URL: 'https://x.example' },
      }),
      env: {},
    });
    expect(errors.map((e) => e.path)).toEqual(['$.HTTPS.ServerKey']);
  });

  it('treats "" like an unset key and trims the upstream path', async () => {
    const { config } = await loadConfig({
      path: await conf('empty.conf', {
        ...HTTP_ONLY,
        UpstreamServer: { URL: 'https://x.example/mender//', CACertificate: '' },
        Metrics: { Listen: '' },
      }),
      env: {},
    });
    expect(config.upstream.url.pathname).toBe('/mender');
    expect(config.upstream.caCertificate).toBeUndefined();
    expect(config.metrics.listen.raw).toBe('127.0.0.1:9102');
  });

  it('resolves file paths against the file folder and env paths against the working directory', async () => {
    const cwd = join(dir, 'certs');
    const { config } = await loadConfig({
      path: await conf('paths.conf', {
        ...HTTP_ONLY,
        UpstreamServer: { URL: 'https://x.example', CACertificate: 'certs/ca.crt' },
      }),
      env: { ARTIFACTS_PROXY_CACHE_PATH: 'cache' },
      cwd,
    });
    expect(config.upstream.caCertificate).toBe(join(dir, 'certs/ca.crt'));
    expect(config.artifactsProxy.cache.path).toBe(join(cwd, 'cache'));
  });

  it('converts every extension duration to milliseconds', async () => {
    const { config } = await loadConfig({
      path: await conf('durations.conf', HTTP_ONLY),
      env: {
        UPSTREAM_SERVER_CONNECT_TIMEOUT: '1.5s',
        UPSTREAM_SERVER_RESPONSE_TIMEOUT: '2m',
        UPSTREAM_SERVER_BODY_IDLE_TIMEOUT: '0',
        SHUTDOWN_GRACE_PERIOD: '500ms',
        ARTIFACTS_PROXY_CACHE_LINK_EXPIRE_DURATION: '1h30m',
      },
    });
    expect(config.timeouts).toEqual({
      connectMs: 1500,
      headersMs: 120_000,
      bodyIdleMs: 0,
      shutdownGraceMs: 500,
    });
    expect(config.artifactsProxy.cache.linkExpireMs).toBe(5_400_000);
  });

  it('normalises the whitelist and warns about entries that cannot match', async () => {
    const { config, warnings } = await loadConfig({
      path: await conf('whitelist.conf', HTTP_ONLY),
      env: {
        ARTIFACTS_PROXY_ENABLED: '1',
        ARTIFACTS_PROXY_GATEWAY_URL: 'http://127.0.0.1:8080',
        ARTIFACTS_PROXY_DOMAIN_WHITELIST:
          '*.S3.AmazonAWS.com, .blob.core.windows.net s3.my-min.io:9000 cloudflarestorage',
      },
    });
    expect(config.artifactsProxy.domainWhitelist).toEqual([
      's3.amazonaws.com',
      'blob.core.windows.net',
      's3.my-min.io',
      'cloudflarestorage',
    ]);
    expect(warnings.map((w) => [w.path, w.source])).toEqual([
      ['$.Features.ArtifactsProxy.DomainWhitelist[2]', 'env ARTIFACTS_PROXY_DOMAIN_WHITELIST'],
      ['$.Features.ArtifactsProxy.DomainWhitelist[3]', 'env ARTIFACTS_PROXY_DOMAIN_WHITELIST'],
    ]);
    expect(warnings[1]?.hint).toMatch(/cloudflarestorage\.com/);
    const urlEntry = await errorsOf({
      path: await conf('whitelist-url.conf', {
        ...HTTP_ONLY,
        Features: { ArtifactsProxy: { DomainWhitelist: ['https://s3.amazonaws.com/bucket'] } },
      }),
      env: {},
    });
    expect(urlEntry[0]).toMatchObject({
      message: '"https://s3.amazonaws.com/bucket" is a URL, not a domain',
      hint: 'write "s3.amazonaws.com"',
    });
  });

  it('decodes the signature secret in all base64 flavours and warns when it is short', async () => {
    const load = (secret: string) =>
      loadConfig({
        path: fixture('valid-http-only.conf'),
        env: {
          ARTIFACTS_PROXY_ENABLED: 'true',
          ARTIFACTS_PROXY_GATEWAY_URL: 'http://gw.local',
          ARTIFACTS_PROXY_DOMAIN_WHITELIST: 's3.amazonaws.com',
          ARTIFACTS_PROXY_CACHE_ENABLED: 'true',
          ARTIFACTS_PROXY_CACHE_SECRET: secret,
        },
      });
    const key = Buffer.from('0123456789abcdef0123456789abcdef\xfb\xff', 'latin1');
    for (const text of [
      key.toString('base64'),
      key.toString('base64').replace(/=+$/, ''),
      key.toString('base64url'),
      `${key.toString('base64url')}==`.slice(0, Math.ceil(key.toString('base64url').length / 4) * 4),
    ]) {
      const { config, warnings } = await load(text);
      expect(config.artifactsProxy.cache.signatureSecret?.equals(key)).toBe(true);
      expect(warnings).toEqual([]);
    }
    const short = await load('c2hvcnQ=');
    expect(short.warnings.map((w) => w.message)).toEqual(['the key is only 5 bytes long']);
  });

  it('merges DefaultInventory from the root (1.1.0) and Features.DeviceSystem, DeviceSystem winning', async () => {
    const { config, warnings } = await loadConfig({
      path: await conf('inventory.conf', {
        ...HTTP_ONLY,
        DefaultInventory: [
          { Name: 'region', Value: 'us' },
          { Name: 'rack', Value: 7 },
        ],
        Features: {
          DeviceSystem: {
            Enabled: true,
            SystemID: 'plant-1',
            DefaultInventory: [
              { Name: 'region', Value: 'eu' },
              { Name: 'zones', Value: ['a', 'b'] },
              { Name: 'region', Value: 'ignored' },
            ],
          },
        },
      }),
      env: {},
    });
    expect(config.deviceSystem).toEqual({
      enabled: true,
      systemId: 'plant-1',
      defaultInventory: [
        { name: 'region', value: 'eu' },
        { name: 'zones', value: ['a', 'b'] },
        { name: 'rack', value: 7 },
      ],
    });
    expect(warnings.map((w) => w.path)).toEqual([
      '$.DefaultInventory',
      '$.Features.DeviceSystem.DefaultInventory[2].Name',
    ]);
  });

  it('maps legacy DebugLog and accepts keys in any case', async () => {
    const { config, warnings } = await loadConfig({
      path: await conf('case.conf', {
        http: { enabled: true, listen: ':8080' },
        HTTPS: { Enabled: false },
        UpstreamServer: { URL: 'https://x.example' },
        DebugLog: true,
      }),
      env: {},
    });
    expect(config.http.listen.port).toBe(8080);
    expect(config.debugLog).toBe(true);
    expect(warnings.map((w) => w.path)).toEqual(['$.http', '$.HTTP.enabled', '$.HTTP.listen']);
  });
});

describe('loadConfig: rules between keys (docs/protocol.md §6.2)', () => {
  it('needs an upstream URL and at least one listener', async () => {
    const errors = await errorsOf({
      path: await conf('none.conf', { HTTP: { Enabled: false }, HTTPS: { Enabled: false } }),
      env: {},
    });
    expect(errors.map((e) => [e.path, e.source])).toEqual([
      ['$.UpstreamServer.URL', 'defaults'],
      ['$.HTTPS.Enabled', `file ${join(dir, 'none.conf')}`],
    ]);
  });

  it('HTTPS (on by default) needs a certificate and a key', async () => {
    const errors = await errorsOf({
      path: await conf('https.conf', { UpstreamServer: { URL: 'https://x.example' } }),
      env: {},
    });
    expect(errors.map((e) => [e.path, e.source, e.message])).toEqual([
      [
        '$.HTTPS.ServerCertificate',
        'defaults',
        'HTTPS is enabled (the default) but HTTPS.ServerCertificate is not set',
      ],
      ['$.HTTPS.ServerKey', 'defaults', 'HTTPS is enabled (the default) but HTTPS.ServerKey is not set'],
    ]);
  });

  it('mTLS needs HTTPS, a CA, a username and a password; the blacklist must exist', async () => {
    const errors = await errorsOf({
      path: await conf('mtls.conf', {
        ...HTTP_ONLY,
        Features: { mTLS: { Enabled: true, BlacklistPath: 'certs/missing.txt' } },
      }),
      env: {},
    });
    expect(errors.map((e) => e.path)).toEqual([
      '$.Features.mTLS.Enabled',
      '$.Features.mTLS.CACertificate',
      '$.Features.mTLS.MenderUsername',
      '$.Features.mTLS.MenderPassword',
      '$.Features.mTLS.BlacklistPath',
    ]);
  });

  it('ArtifactsProxy needs GatewayURL, the cache needs ArtifactsProxy, DeviceSystem needs SystemID', async () => {
    const errors = await errorsOf({
      path: await conf('features.conf', HTTP_ONLY),
      env: { ARTIFACTS_PROXY_CACHE_ENABLED: 'true', DEVICE_SYSTEM_ENABLED: 'true' },
    });
    expect(errors.map((e) => [e.path, e.source])).toEqual([
      ['$.Features.ArtifactsProxy.ArtifactsCache.Enabled', 'env ARTIFACTS_PROXY_CACHE_ENABLED'],
      ['$.Features.DeviceSystem.SystemID', 'env DEVICE_SYSTEM_ENABLED'],
    ]);
    const proxy = await errorsOf({
      path: await conf('proxy.conf', HTTP_ONLY),
      env: { ARTIFACTS_PROXY_ENABLED: 'true' },
    });
    expect(proxy.map((e) => e.path)).toEqual(['$.Features.ArtifactsProxy.GatewayURL']);
  });

  it('listeners may not share a port on overlapping addresses', async () => {
    const base = {
      UpstreamServer: { URL: 'https://x.example' },
      HTTPS: {
        Enabled: true,
        Listen: ':8443',
        ServerCertificate: 'certs/server.crt',
        ServerKey: 'certs/server.key',
      },
    };
    const path = await conf('ports.conf', base);
    const clash = await errorsOf({ path, env: { HTTP_ENABLED: 'true', HTTP_LISTEN: '127.0.0.1:8443' } });
    expect(clash.map(formatConfigIssue)).toEqual([
      'error $.HTTPS.Listen (file ' +
        path +
        '): HTTPS listens on ":8443", the same port as HTTP ("127.0.0.1:8443") — give each listener its own port, e.g. HTTP ":8080" and HTTPS ":8443"',
    ]);
    const metrics = await errorsOf({
      path,
      env: { METRICS_ENABLED: 'true', METRICS_LISTEN: '127.0.0.1:8443' },
    });
    expect(metrics.map((e) => e.path)).toEqual(['$.Metrics.Listen']);
    await expect(
      loadConfig({ path, env: { HTTP_ENABLED: 'true', HTTP_LISTEN: '127.0.0.1:8080' } }),
    ).resolves.toBeDefined();
  });

  it('rejects host names for the metrics listener', async () => {
    const errors = await errorsOf({
      path: fixture('valid-http-only.conf'),
      env: { METRICS_LISTEN: 'localhost:9102' },
    });
    expect(errors[0]).toMatchObject({ path: '$.Metrics.Listen', source: 'env METRICS_LISTEN' });
  });

  it('warns about insecure but legal settings', async () => {
    const { warnings } = await loadConfig({
      path: await conf('insecure.conf', {
        UpstreamServer: { URL: 'https://x.example', InsecureSkipVerify: true },
        HTTPS: {
          MinimumTLSVersion: '1.0',
          ServerCertificate: 'certs/server.crt',
          ServerKey: 'certs/server.key',
          Listen: '127.0.0.1:0',
        },
      }),
      env: {},
    });
    expect(warnings.map((w) => w.path)).toEqual([
      '$.UpstreamServer.InsecureSkipVerify',
      '$.HTTPS.MinimumTLSVersion',
      '$.HTTPS.Listen',
    ]);
  });

  it('reports errors and warnings together in one MGW_CONFIG_INVALID', async () => {
    const issues = await issuesOf({
      path: await conf('mixed.conf', { ...HTTP_ONLY, Typo: 1, HTTP: { Enabled: true, Listen: 'nope' } }),
      env: {},
    });
    expect(issues.map((i) => i.severity).sort()).toEqual(['error', 'warning']);
  });
});

describe('loadConfig: the file', () => {
  it('an explicit path must exist', async () => {
    const err = await loadConfig({ path: join(dir, 'absent.conf'), env: {} }).catch((e: unknown) => e);
    expect(err).toMatchObject({
      code: 'MGW_CONFIG_UNREADABLE',
      message: `configuration file ${join(dir, 'absent.conf')} does not exist`,
    });
    expect((err as { hint?: string }).hint).toMatch(/--config/);
  });

  it('a directory is not a config file', async () => {
    const err = await loadConfig({ path: dir, env: {} }).catch((e: unknown) => e);
    expect(err).toMatchObject({
      code: 'MGW_CONFIG_UNREADABLE',
      message: `${dir} is a directory, not a configuration file`,
    });
  });

  it('the top level must be an object', async () => {
    const errors = await errorsOf({ path: await conf('array.conf', '[]'), env: {} });
    expect(errors[0]).toMatchObject({
      path: '$',
      message: 'expected a JSON object at the top level, got an array',
    });
  });

  it('tolerates a UTF-8 BOM with a warning', async () => {
    const { warnings } = await loadConfig({
      path: await conf('bom.conf', `\uFEFF${JSON.stringify(HTTP_ONLY)}`),
      env: {},
    });
    expect(warnings.map((w) => [w.path, w.message])).toEqual([
      ['$', 'the file starts with a UTF-8 byte order mark; Mender Gateway would reject it'],
    ]);
  });

  it.skipIf(
    skipBecause(
      existsSync(DEFAULT_CONFIG_PATH),
      'env-only loading',
      `${DEFAULT_CONFIG_PATH} exists on this machine`,
    ),
  )('without a path and without the default file, runs from the environment only', async () => {
    const { config, warnings } = await loadConfig({
      env: { UPSTREAM_SERVER_URL: 'https://hosted.mender.io', HTTP_ENABLED: 'true', HTTP_LISTEN: ':8080' },
    });
    expect(config.sourceFile).toBeUndefined();
    expect(config.http.listen.port).toBe(8080);
    expect(config.https.enabled).toBe(false);
    expect(warnings).toEqual([]);
    const errors = await errorsOf({ env: {} });
    expect(errors[0]).toMatchObject({ path: '$.UpstreamServer.URL', source: 'defaults' });
  });
});
