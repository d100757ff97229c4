import fc from 'fast-check';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENV_OVERRIDES, applyEnvOverrides, loadConfig } from '../../../src/core/config/index.js';
import type { GatewayConfig } from '../../../src/core/config/index.js';
import { isGatewayError } from '../../../src/core/errors.js';

/**
 * Properties of the configuration parser: whatever the file holds and whatever
 * the environment says, `loadConfig` either returns a configuration that keeps its invariants or
 * rejects with one GatewayError (unreadable or invalid) — never a TypeError from deep inside, and
 * never a message that echoes a secret. `applyEnvOverrides` never throws and never changes its input.
 */

const ENV_NAMES = ENV_OVERRIDES.flatMap((e) => [e.env, ...(e.aliases ?? []).map((a) => a.env)]);
const KEY_PATHS: readonly (readonly string[])[] = [
  ...ENV_OVERRIDES.map((e) => e.path),
  ['Features', 'DeviceSystem', 'DefaultInventory'],
  ['DefaultInventory'],
  ['DebugLog'],
  ['$schema'],
];

/** Values a user might plausibly (or mistakenly) write, plus arbitrary JSON. */
const valueArb: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      true,
      false,
      'true',
      '',
      null,
      0,
      -1,
      1.5,
      2 ** 53,
      '30s',
      '-5m',
      '1h30m',
      '0',
      '1d',
      ':443',
      '127.0.0.1:0',
      '[::1]:8443',
      ':99999',
      'https://hosted.mender.io',
      'https://user:pw@example.com',
      'ftp://x',
      'not a url',
      '1.3',
      '1.1',
      'c2VjcmV0LXNlY3JldC1zZWNyZXQ=',
      ['s3.amazonaws.com'],
      ['https://bad/'],
      [{ Name: 'a', Value: 1 }],
      [{ Name: '', Value: [1, 'x'] }],
    ),
  },
);

/** Set `value` at `path`, with the key's case randomised (keys match case-insensitively). */
function place(root: Record<string, unknown>, path: readonly string[], value: unknown, lower: boolean): void {
  let node = root;
  path.forEach((key, i) => {
    const name = lower ? key.toLowerCase() : key;
    if (i === path.length - 1) {
      node[name] = value;
      return;
    }
    const next = node[name];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) node[name] = {};
    node = node[name] as Record<string, unknown>;
  });
}

/** A minimal valid configuration, so that half the generated files are close to valid. */
const BASE = {
  UpstreamServer: { URL: 'https://hosted.mender.io' },
  HTTP: { Enabled: true },
  HTTPS: { Enabled: false },
};

const configLikeArb = fc
  .tuple(
    fc.boolean(),
    fc.array(fc.tuple(fc.constantFrom(...KEY_PATHS), valueArb, fc.boolean()), { maxLength: 5 }),
  )
  .map(([fromBase, entries]) => {
    const root: Record<string, unknown> = fromBase ? structuredClone(BASE) : {};
    for (const [path, value, lower] of entries) place(root, path, value, lower);
    return root;
  });

const envArb = fc.dictionary(
  fc.constantFrom(...ENV_NAMES),
  fc.oneof(
    fc.string({ maxLength: 30 }),
    fc.constantFrom('true', '0', 'yes', '30s', ':8443', 'https://x.example', '256', '-1', '1e3'),
  ),
  { maxKeys: 3 },
);

let dir: string;
let file: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mgw-config-props-'));
  file = join(dir, 'mender-gateway.conf');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Load `text` with `env`; the outcome is a config or a GatewayError, anything else fails the property. */
async function load(
  text: string,
  env: NodeJS.ProcessEnv,
): Promise<GatewayConfig | { code: string; text: string }> {
  await writeFile(file, text);
  try {
    return (await loadConfig({ path: file, env, checkFiles: false, cwd: dir })).config;
  } catch (err) {
    if (!isGatewayError(err)) throw err;
    expect(['MGW_CONFIG_UNREADABLE', 'MGW_CONFIG_INVALID']).toContain(err.code);
    return { code: err.code, text: `${err.message}\n${err.hint ?? ''}\n${JSON.stringify(err.details)}` };
  }
}

function expectInvariants(config: GatewayConfig): void {
  for (const listen of [config.http.listen, config.https.listen, config.metrics.listen]) {
    expect(Number.isInteger(listen.port) && listen.port >= 0 && listen.port <= 65_535).toBe(true);
  }
  for (const ms of Object.values(config.timeouts)) expect(Number.isFinite(ms) && ms >= 0).toBe(true);
  expect(Number.isFinite(config.artifactsProxy.cache.linkExpireMs)).toBe(true);
  expect(config.artifactsProxy.cache.linkExpireMs).toBeGreaterThan(0);
  expect(
    Number.isSafeInteger(config.deviceConnections.maxPerIp) && config.deviceConnections.maxPerIp >= 0,
  ).toBe(true);
  expect(config.deviceConnections.headersTimeoutMs).toBeGreaterThan(0);
  expect(config.http.enabled || config.https.enabled).toBe(true);
  expect(['http:', 'https:']).toContain(config.upstream.url.protocol);
}

describe('loadConfig properties', () => {
  it('answers any file text with a config or a GatewayError', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.string({ unit: 'binary', maxLength: 300 }), fc.json({ maxDepth: 3 })),
        async (text) => {
          const result = await load(text, {});
          if (!('code' in result)) expectInvariants(result);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('answers any config-shaped file plus any environment with a config that keeps its invariants, or a GatewayError', async () => {
    let valid = 0;
    await fc.assert(
      fc.asyncProperty(configLikeArb, envArb, async (json, env) => {
        const result = await load(JSON.stringify(json), env);
        if (!('code' in result)) {
          expectInvariants(result);
          valid += 1;
        }
      }),
      { numRuns: 600 },
    );
    // Not all noise: a good share of the inputs load, so the invariants were really checked.
    expect(valid).toBeGreaterThan(10);
  });

  it('finds valid configurations too (the generator is not all noise)', async () => {
    const base = BASE;
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          MaxPerIP: fc.nat({ max: 100_000 }),
          HeadersTimeout: fc.integer({ min: 1, max: 3_600 }).map((s) => `${s}s`),
          BodyIdleTimeout: fc.constantFrom('0', '1s', '5m'),
        }),
        async ({ MaxPerIP, HeadersTimeout, BodyIdleTimeout }) => {
          const result = await load(
            JSON.stringify({
              ...base,
              UpstreamServer: { ...base.UpstreamServer, BodyIdleTimeout },
              DeviceConnections: { MaxPerIP, HeadersTimeout },
            }),
            {},
          );
          expect('code' in result).toBe(false);
          const config = result as GatewayConfig;
          expectInvariants(config);
          expect(config.deviceConnections.maxPerIp).toBe(MaxPerIP);
          expect(config.deviceConnections.headersTimeoutMs).toBe(Number(HeadersTimeout.slice(0, -1)) * 1000);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('never echoes a secret, wherever and however it is written', async () => {
    const secretArb = fc.stringMatching(/^[A-Za-z0-9]{12,24}$/).map((s) => `S3cr3t${s}`);
    await fc.assert(
      fc.asyncProperty(
        configLikeArb,
        secretArb,
        fc.integer({ min: 0, max: 5 }),
        async (json, secret, where) => {
          const env: NodeJS.ProcessEnv = {};
          switch (where) {
            case 0:
              place(json, ['Features', 'mTLS', 'MenderPassword'], secret, false);
              break;
            case 1:
              place(
                json,
                ['Features', 'ArtifactsProxy', 'ArtifactsCache', 'SignatureSecret'],
                `${secret}!!`,
                false,
              );
              break;
            case 2:
              env.MTLS_MENDER_PASSWORD = secret;
              env.MTLS_ENABLED = 'yes'; // an error next to it
              break;
            case 3:
              env.ARTIFACTS_PROXY_CACHE_SECRET = `${secret}%%`;
              break;
            case 4:
              place(json, ['UpstreamServer', 'URL'], `https://gw:${secret}@hosted.mender.io`, false);
              break;
            case 5:
              place(json, ['features', 'mtls', 'menderpassword'], secret, true);
              break;
          }
          const result = await load(JSON.stringify(json), env);
          if ('code' in result) expect(result.text).not.toContain(secret);
        },
      ),
      { numRuns: 400 },
    );
  });
});

describe('applyEnvOverrides properties', () => {
  it('never throws and never modifies the file JSON it is given', () => {
    fc.assert(
      fc.property(
        fc.oneof(configLikeArb, fc.dictionary(fc.string({ maxLength: 10 }), fc.jsonValue({ maxDepth: 2 }))),
        envArb,
        (json, env) => {
          const before = structuredClone(json);
          const result = applyEnvOverrides(json, env);
          expect(json).toEqual(before);
          for (const issue of result.issues) expect(['error', 'warning']).toContain(issue.severity);
          for (const [, name] of result.envByPath) expect(ENV_NAMES).toContain(name);
        },
      ),
      { numRuns: 1_000 },
    );
  });
});
