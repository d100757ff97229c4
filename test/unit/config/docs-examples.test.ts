import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { skipBecause } from '../../support/skip-reason.js';
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_CONFIG_PATH, loadConfig } from '../../../src/core/config/index.js';
import { createTlsFileContents } from '../../support/tls-file-contents.js';
import type { TlsFileContents } from '../../support/tls-file-contents.js';

/**
 * Mender's documented example configurations (docs/examples/README.md says where each one
 * comes from) must load unchanged: that is the compatibility promise in the README.
 */

const EXAMPLES = fileURLToPath(new URL('../../../docs/examples/', import.meta.url));
const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const examples = readdirSync(EXAMPLES).filter((name) => name.endsWith('.conf'));

/** Fragments documented without the rest of a config get the missing parts from the environment. */
const FRAGMENT_ENV: Readonly<Record<string, NodeJS.ProcessEnv>> = {
  'mender-docs-default-inventory.conf': {
    UPSTREAM_SERVER_URL: 'https://hosted.mender.io',
    HTTP_ENABLED: 'true',
  },
};

/** Keys whose values name files that must exist when file checks are on. */
const FILE_KEYS = /"(ServerCertificate|ServerKey|CACertificate|BlacklistPath)":\s*"(\/[^"]+)"/g;

let sandbox: string;
let tls: TlsFileContents;
beforeAll(async () => {
  sandbox = await mkdtemp(join(tmpdir(), 'mgw-examples-'));
  tls = await createTlsFileContents();
});
afterAll(async () => {
  await rm(sandbox, { recursive: true, force: true });
  await tls.cleanup();
});

/**
 * Copy an example into the sandbox with every absolute certificate/key/CA/blacklist path
 * moved under the sandbox, and create those files, so the file checks run for real.
 */
async function sandboxed(name: string): Promise<string> {
  let text = await readFile(join(EXAMPLES, name), 'utf8');
  for (const [, key, absolute] of text.matchAll(FILE_KEYS)) {
    if (absolute === undefined || key === undefined) continue;
    const moved = join(sandbox, absolute);
    await mkdir(dirname(moved), { recursive: true });
    await writeFile(moved, tls.forKey(key));
  }
  text = text.replace(
    FILE_KEYS,
    (_match, key: string, absolute: string) => `"${key}": "${join(sandbox, absolute)}"`,
  );
  // The cache directory too: serve (and so the checks) must be able to create it.
  text = text.replace(
    /"Path":\s*"(\/[^"]+)"/g,
    (_match, absolute: string) => `"Path": "${join(sandbox, absolute)}"`,
  );
  const copy = join(sandbox, name);
  await writeFile(copy, text);
  return copy;
}

describe('documented example configurations load unchanged', () => {
  it('there are examples', () => {
    expect(examples.length).toBeGreaterThanOrEqual(8);
  });

  it.each(examples)('%s (file checks off)', async (name) => {
    const { config } = await loadConfig({
      path: join(EXAMPLES, name),
      env: FRAGMENT_ENV[name] ?? {},
      checkFiles: false,
    });
    expect(config.upstream.url.protocol).toMatch(/^https?:$/);
  });

  it.each(examples)('%s (referenced files created, file checks on)', async (name) => {
    const path = await sandboxed(name);
    const { warnings } = await loadConfig({ path, env: FRAGMENT_ENV[name] ?? {} });
    expect(warnings.filter((w) => w.message.startsWith('unknown key'))).toEqual([]);
  });

  it('the reference example from the configuration-file page means what it says', async () => {
    const { config, warnings } = await loadConfig({
      path: await sandboxed('mender-docs-configuration-file.conf'),
      env: {},
    });
    expect(config.artifactsProxy).toMatchObject({
      enabled: true,
      domainWhitelist: ['s3.amazonaws.com', 's3.my-min.io'],
      cache: { enabled: true, path: join(sandbox, '/var/cache/mender-gateway'), linkExpireMs: 1_800_000 },
    });
    expect(config.artifactsProxy.cache.signatureSecret?.length).toBe(24);
    expect(config.mtls).toMatchObject({
      enabled: true,
      menderUsername: 'gateway@mender.io',
      menderPassword: 'password123',
    });
    expect(config.deviceSystem).toEqual({
      enabled: false,
      systemId: 'REPLACE_WITH_YOUR_UNIQUE_SYSTEM_ID',
      defaultInventory: [{ name: 'region', value: 'eu' }],
    });
    expect(config.https).toMatchObject({
      enabled: true,
      minimumTlsVersion: 'TLSv1.2',
      listen: { port: 443 },
    });
    expect(config.http.enabled).toBe(false);
    expect(warnings).toEqual([]);
    expect(JSON.stringify(warnings)).not.toContain('password123');
  });

  it('the integration-test config is HTTP only, insecure upstream (warned), debug log', async () => {
    const { config, warnings } = await loadConfig({
      path: join(EXAMPLES, 'mender-integration-gateway-tests.conf'),
      env: {},
    });
    expect(config.http).toMatchObject({ enabled: true, listen: { port: 8080 } });
    expect(config.https.enabled).toBe(false);
    expect(config.debugLog).toBe(true);
    expect(warnings.map((w) => w.path)).toEqual(['$.UpstreamServer.InsecureSkipVerify']);
  });

  it('quickstart.conf validates with file checks on a fresh clone, caching under .cache/', async () => {
    const { config, warnings } = await loadConfig({ path: join(EXAMPLES, 'quickstart.conf'), env: {} });
    expect(config.http.listen).toEqual({ host: '127.0.0.1', port: 8080, raw: '127.0.0.1:8080' });
    expect(config.https.enabled).toBe(false);
    expect(config.artifactsProxy.gatewayUrl?.href).toBe('http://127.0.0.1:8080/');
    expect(config.artifactsProxy.cache.path).toBe(join(REPO, '.cache/artifacts'));
    expect(config.deviceSystem.enabled).toBe(false);
    expect(warnings.map((w) => w.path)).toEqual(['$.Features.ArtifactsProxy.ArtifactsCache.SignatureSecret']);
  });
});

describe.skipIf(
  skipBecause(
    existsSync(DEFAULT_CONFIG_PATH),
    'environment-only setups',
    `${DEFAULT_CONFIG_PATH} exists on this machine`,
  ),
)('documented environment-only setups (no config file)', () => {
  const certs = (): NodeJS.ProcessEnv => ({
    HTTPS_SERVER_CERTIFICATE: join(sandbox, 'server.crt'),
    HTTPS_SERVER_KEY: join(sandbox, 'server.key'),
    MTLS_CA_CERTIFICATE: join(sandbox, 'ca.crt'),
  });
  beforeAll(async () => {
    await writeFile(join(sandbox, 'server.crt'), tls.serverCertificate);
    await writeFile(join(sandbox, 'server.key'), tls.serverKey);
    await writeFile(join(sandbox, 'ca.crt'), tls.caCertificate);
  });

  it('mTLS evaluation with docker run -e … (MTLS-DOCS evaluation page)', async () => {
    const { config } = await loadConfig({
      env: {
        HTTPS_ENABLED: 'true',
        HTTPS_LISTEN: ':8443',
        HTTP_ENABLED: 'true',
        HTTP_LISTEN: ':8080',
        ...certs(),
        MTLS_ENABLED: 'true',
        MTLS_MENDER_PASSWORD: 'password',
        MTLS_MENDER_USERNAME: 'mtls@mender.io',
        UPSTREAM_SERVER_URL: 'https://hosted.mender.io',
      },
    });
    expect(config.sourceFile).toBeUndefined();
    expect(config.https.listen.port).toBe(8443);
    expect(config.http.listen.port).toBe(8080);
    expect(config.mtls.enabled).toBe(true);
  });

  it('Kubernetes deployment env (MTLS-DOCS production page)', async () => {
    const { config } = await loadConfig({
      env: {
        HTTP_ENABLED: 'true',
        HTTP_LISTEN: ':8080',
        HTTPS_ENABLED: 'true',
        HTTPS_LISTEN: ':8443',
        ...certs(),
        UPSTREAM_SERVER_URL: 'https://hosted.mender.io',
        MTLS_MENDER_USERNAME: 'mtls@mender.io',
        MTLS_MENDER_PASSWORD: 'password',
      },
    });
    expect(config.http.enabled && config.https.enabled).toBe(true);
  });
});
