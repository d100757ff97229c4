import { z } from 'zod';
import type { ConfigIssue } from './gateway-config.js';
import { parseGoDuration } from './go-duration.js';
import { parseListenAddress } from './listen-address.js';
import {
  configIssue,
  isSecretPath,
  jsonTypeName,
  quoteValue,
  valueAt,
  type ConfigSources,
  type JsonPath,
} from './config-issue.js';

/**
 * zod schema of the RAW `mender-gateway.conf` JSON, in Mender's PascalCase vocabulary
 * (docs/protocol.md §6.2), after environment overrides. It validates types and the syntax of
 * single values; defaults, path resolution and cross-field rules live in
 * `build-gateway-config.ts` and `config-checks.ts`, so the exported JSON Schema
 * (`docs/config.schema.json`, input side) describes exactly what a user may write.
 *
 * Conventions shared with Go's `encoding/json`, which Mender Gateway uses:
 * - every key is optional; `""` and `null` mean "not set" (Go's zero value);
 * - keys are matched case-insensitively (`unknown-keys.ts` canonicalises them first);
 * - unknown keys are ignored, with a warning (`unknown-keys.ts`).
 */

const GO_DURATION_PATTERN = '^$|^[-+]?(0|(([0-9]+(\\.[0-9]*)?|\\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+)$';
const DURATION_HINT = 'write a Go duration such as "30s", "5m", "1h30m" or "24h" (units ns, us, ms, s, m, h)';

/** Issue params carry the fix hint through zod to {@link toConfigIssues}. */
const custom = (message: string, hint: string) => ({ code: 'custom' as const, message, params: { hint } });

function goDuration(options: { allowZero: boolean; description: string; zeroMeans?: string }) {
  return z
    .string()
    .superRefine((text, ctx) => {
      if (text === '') return;
      let ms: number;
      try {
        ms = parseGoDuration(text);
      } catch (err) {
        const reason = (err as Error).message.replace(`invalid duration ${JSON.stringify(text)}: `, '');
        ctx.addIssue(custom(`${JSON.stringify(text)} is not a Go duration: ${reason}`, DURATION_HINT));
        return;
      }
      if (ms < 0) ctx.addIssue(custom(`${JSON.stringify(text)} is negative`, 'durations must be positive'));
      else if (ms === 0 && !options.allowZero) {
        ctx.addIssue(custom(`${JSON.stringify(text)} is zero`, `use a positive duration, e.g. "30s"`));
      }
    })
    .meta({
      description:
        options.description + (options.zeroMeans === undefined ? '' : ` "0" ${options.zeroMeans}.`),
      pattern: GO_DURATION_PATTERN,
      examples: ['30s', '5m', '1h30m'],
    });
}

/** An absolute http(s) URL (UpstreamServer.URL, ArtifactsProxy.GatewayURL). */
function httpUrl(description: string) {
  return z
    .string()
    .superRefine((text, ctx) => {
      if (text === '') return;
      // Checked before anything that quotes the value: the URL would carry a password.
      if (/^[a-z][a-z0-9+.-]*:\/\/[^/?#]*@/i.test(text)) {
        ctx.addIssue(
          custom('the URL contains credentials (not shown)', 'remove "user:password@" from the URL'),
        );
        return;
      }
      let url: URL;
      try {
        url = new URL(text);
      } catch {
        const guess = /^[a-z0-9.-]+(:\d+)?(\/.*)?$/i.test(text) ? `; did you mean "https://${text}"?` : '';
        ctx.addIssue(
          custom(
            `${JSON.stringify(text)} is not an absolute URL${guess}`,
            'write it as e.g. "https://hosted.mender.io"',
          ),
        );
        return;
      }
      if (url.protocol !== 'http:' && url.protocol !== 'https:') {
        ctx.addIssue(
          custom(
            `${JSON.stringify(text)} uses ${url.protocol}`,
            'only http:// and https:// URLs are supported',
          ),
        );
      } else if (url.search !== '' || url.hash !== '') {
        ctx.addIssue(
          custom(`${JSON.stringify(text)} has a query or fragment`, 'use a base URL without "?…" or "#…"'),
        );
      }
    })
    .meta({ description, format: 'uri', examples: ['https://hosted.mender.io'] });
}

function listen(description: string, options: { ipOnly?: boolean } = {}) {
  return z
    .string()
    .superRefine((text, ctx) => {
      if (text === '') return;
      const parsed = parseListenAddress(text, options);
      if (!parsed.ok) ctx.addIssue(custom(parsed.message, parsed.hint));
    })
    .meta({
      description,
      examples: options.ipOnly === true ? ['127.0.0.1:9102', ':9102'] : [':443', '0.0.0.0:8443'],
    });
}

const STANDARD_B64 = /^[A-Za-z0-9+/]*={0,2}$/;
const URL_B64 = /^[A-Za-z0-9_-]*={0,2}$/;

/**
 * Decode `SignatureSecret`: standard or URL-safe alphabet, padded or not (Go programs use
 * all four encodings). Returns undefined for anything else. Length policy (≥ 16 bytes
 * recommended) is a warning in `build-gateway-config.ts`, not a syntax rule, so configs
 * that Mender Gateway accepts keep loading.
 */
export function decodeSignatureSecret(text: string): Buffer | undefined {
  if (!STANDARD_B64.test(text) && !URL_B64.test(text)) return undefined;
  const padded = text.includes('=');
  if (padded ? text.length % 4 !== 0 : text.length % 4 === 1) return undefined;
  const bytes = Buffer.from(text.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  return bytes.length === 0 ? undefined : bytes;
}

const signatureSecret = z
  .string()
  .superRefine((text, ctx) => {
    // The value is a secret: messages describe it, never quote it.
    if (text !== '' && decodeSignatureSecret(text) === undefined) {
      ctx.addIssue(custom('the value is not valid base64', 'generate one with: openssl rand -base64 32'));
    }
  })
  .meta({
    description:
      'Base64 (standard or URL alphabet, padding optional) HMAC-SHA256 key that signs cache download links. At least 16 bytes recommended; random per process when unset.',
  });

const whitelistEntry = z.string().superRefine((text, ctx) => {
  if (text.trim() === '') {
    ctx.addIssue(custom('empty entry', 'remove it'));
  } else if (text.includes('://') || text.includes('/')) {
    const host = /^[a-z]+:\/\/([^/:?#]+)/i.exec(text)?.[1];
    ctx.addIssue(
      custom(
        `${JSON.stringify(text)} is a URL, not a domain`,
        host === undefined ? 'list host names only' : `write "${host}"`,
      ),
    );
  } else if (/\s/.test(text)) {
    ctx.addIssue(custom(`${JSON.stringify(text)} contains whitespace`, 'list one domain per array element'));
  } else if (text.replace(/^\*?\./, '').includes('*')) {
    ctx.addIssue(
      custom(
        `${JSON.stringify(text)} has a wildcard in the middle`,
        'only a leading "*." is understood, and it is implied: "s3.amazonaws.com" also admits its subdomains',
      ),
    );
  }
});

const bool = (description: string) => z.boolean().meta({ description });

/** A count such as a connection limit: a whole number ≥ 0 (a JSON number, not a string). */
const wholeNumber = (description: string) =>
  z
    .number()
    .superRefine((n, ctx) => {
      if (!Number.isSafeInteger(n) || n < 0) {
        ctx.addIssue(
          custom(`${n} is not a whole number ≥ 0`, 'write a whole number such as 1024, without quotes'),
        );
      }
    })
    .meta({ description, type: 'integer', minimum: 0, examples: [1024] });
const path = (description: string) => z.string().meta({ description });

const inventoryValue = z.union([z.string(), z.number(), z.array(z.string()), z.array(z.number())]);

const defaultInventory = z
  .array(
    z.object({
      Name: z.string().min(1).meta({ description: 'Inventory attribute name.' }),
      Value: inventoryValue.meta({
        description: 'A string, a number, or an array of strings or of numbers.',
      }),
    }),
  )
  .meta({
    description:
      'Inventory attributes added to every device inventory submission, unless the device reports the same name.',
  });

export const rawConfigSchema = z
  .object({
    $schema: z
      .string()
      .optional()
      .meta({ description: 'Path or URL of this JSON Schema, for editors. Ignored.' }),
    Features: z
      .object({
        ArtifactsProxy: z
          .object({
            Enabled: bool('Rewrite artifact download links to go through the gateway.').optional(),
            GatewayURL: httpUrl('Base URL under which devices reach the gateway.').optional(),
            DomainWhitelist: z
              .array(whitelistEntry)
              .meta({
                description:
                  'Storage host names the gateway may fetch artifacts from; each entry also admits its subdomains.',
              })
              .optional(),
            ArtifactsCache: z
              .object({
                Enabled: bool('Cache artifacts on disk (requires ArtifactsProxy).').optional(),
                Path: path('Cache directory.').optional(),
                SignatureSecret: signatureSecret.optional(),
                LinkExpireDuration: goDuration({
                  allowZero: false,
                  description: 'Lifetime of a signed cache link.',
                }).optional(),
              })
              .optional(),
          })
          .optional(),
        mTLS: z
          .object({
            Enabled: bool(
              'Mutual TLS: auto-accept devices presenting a certificate signed by CACertificate.',
            ).optional(),
            CACertificate: path('PEM bundle of the CAs that sign device certificates.').optional(),
            BlacklistPath: path(
              'File of revoked client-certificate serial numbers (hex, one per line).',
            ).optional(),
            MenderUsername: z
              .string()
              .meta({ description: 'Mender user that preauthorizes devices.' })
              .optional(),
            MenderPassword: z
              .string()
              .meta({ description: 'Password of MenderUsername (secret).' })
              .optional(),
            EnableCache: bool('Cache successful preauthorizations (env MTLS_ENABLE_CACHE).').optional(),
            InsecureSkipClientExpireAfter: bool(
              'Accept expired client certificates (env MTLS_INSECURE_SKIP_CLIENT_EXPIRE_AFTER). Not for production.',
            ).optional(),
            AllowDeviceAPIOnHTTP: bool(
              'mender-gw extension: also serve the device API on the plain-HTTP listener while mTLS is on.',
            ).optional(),
          })
          .optional(),
        DeviceSystem: z
          .object({
            Enabled: bool(
              'Inject mender_gateway_system_id and DefaultInventory into device inventory.',
            ).optional(),
            SystemID: z.string().meta({ description: 'Value of mender_gateway_system_id.' }).optional(),
            DefaultInventory: defaultInventory.optional(),
          })
          .optional(),
      })
      .optional(),
    HTTP: z
      .object({
        Enabled: bool('Plain-HTTP listener. Never on untrusted networks.').optional(),
        Listen: listen('host:port of the plain-HTTP listener.').optional(),
      })
      .optional(),
    HTTPS: z
      .object({
        Enabled: bool('TLS listener.').optional(),
        Listen: listen('host:port of the TLS listener.').optional(),
        MinimumTLSVersion: z
          .enum(['1.0', '1.1', '1.2', '1.3'])
          .meta({ description: 'Lowest TLS version accepted from devices.' })
          .optional(),
        ServerCertificate: path('PEM server certificate (chain).').optional(),
        ServerKey: path('PEM private key of ServerCertificate.').optional(),
      })
      .optional(),
    UpstreamServer: z
      .object({
        URL: httpUrl('The upstream Mender server.').optional(),
        CACertificate: path('Extra PEM CA bundle trusted for the upstream server.').optional(),
        InsecureSkipVerify: bool('Do not verify the upstream certificate. Testing only.').optional(),
        ConnectTimeout: goDuration({
          allowZero: false,
          description: 'mender-gw extension: time to establish an upstream connection.',
        }).optional(),
        ResponseTimeout: goDuration({
          allowZero: false,
          description: 'mender-gw extension: time to wait for upstream response headers (then 504).',
        }).optional(),
        BodyIdleTimeout: goDuration({
          allowZero: true,
          description: 'mender-gw extension: longest silence while streaming a body.',
          zeroMeans: 'disables it',
        }).optional(),
      })
      .optional(),
    Metrics: z
      .object({
        Enabled: bool('Prometheus /metrics listener (unauthenticated).').optional(),
        Listen: listen('IP:port of the metrics listener (IP address or empty host).', {
          ipOnly: true,
        }).optional(),
      })
      .optional(),
    DeviceConnections: z
      .object({
        MaxPerIP: wholeNumber(
          'mender-gw extension: open connections allowed from one IP address on the device listeners; 0 means no limit.',
        ).optional(),
        HeadersTimeout: goDuration({
          allowZero: false,
          description:
            'mender-gw extension: time a device has to complete the TLS handshake and send its request headers.',
        }).optional(),
      })
      .optional(),
    Drain: z
      .object({
        Enabled: bool(
          'mender-gw extension: on SIGTERM, drain for Drain.Period before shutting down (devices re-authenticate elsewhere).',
        ).optional(),
        Period: goDuration({
          allowZero: true,
          description:
            'mender-gw extension: how long a drain lasts after SIGTERM before the shutdown starts.',
          zeroMeans: 'shuts down at once',
        }).optional(),
      })
      .optional(),
    ShutdownGracePeriod: goDuration({
      allowZero: true,
      description: 'mender-gw extension: how long transfers may continue after SIGTERM.',
      zeroMeans: 'cuts them at once',
    }).optional(),
    DefaultInventory: defaultInventory
      .meta({ description: 'Legacy (1.1.0) location of Features.DeviceSystem.DefaultInventory.' })
      .optional(),
    DebugLog: bool('Legacy: log at debug level (superseded by --log-level).').optional(),
  })
  .meta({
    title: 'mender-gateway.conf',
    description:
      'Mender Gateway configuration as read by mender-gw. Environment variables override these keys; see docs/configuration.md.',
  });

export type RawConfig = z.output<typeof rawConfigSchema>;

export type RawValidation = { ok: true; data: RawConfig } | { ok: false; issues: ConfigIssue[] };

/** Validate the overlaid JSON and turn zod's issues into {@link ConfigIssue}s. */
export function validateRawConfig(raw: unknown, sources: ConfigSources): RawValidation {
  const result = rawConfigSchema.safeParse(raw);
  if (result.success) return { ok: true, data: result.data };
  return { ok: false, issues: result.error.issues.map((issue) => toConfigIssue(issue, raw, sources)) };
}

const EXPECTED: Readonly<Record<string, { noun: string; hint: string }>> = {
  boolean: { noun: 'a boolean', hint: 'write true or false, without quotes' },
  string: { noun: 'a string', hint: 'put the value in double quotes' },
  number: { noun: 'a number', hint: 'write a number without quotes' },
  object: { noun: 'an object', hint: 'write a JSON object: { "Key": value, … }' },
  array: { noun: 'an array', hint: 'write a JSON array, e.g. ["a", "b"]' },
};

function toConfigIssue(issue: z.core.$ZodIssue, raw: unknown, sources: ConfigSources): ConfigIssue {
  const path: JsonPath = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
  const value = valueAt(raw, path);
  const secret = isSecretPath(path);
  const source = sources.of(path);
  const shown = secret ? jsonTypeName(value) : quoteValue(value);
  const make = (message: string, hint: string): ConfigIssue =>
    configIssue('error', path, source, message, hint);

  if (issue.code === 'custom') {
    const hint = (issue.params as { hint?: unknown } | undefined)?.hint;
    return make(issue.message, typeof hint === 'string' ? hint : '');
  }
  if (issue.code === 'invalid_type') {
    const expected = EXPECTED[issue.expected] ?? { noun: issue.expected, hint: '' };
    if (value === undefined) return make(`required key is missing (expected ${expected.noun})`, 'add it');
    return make(`expected ${expected.noun}, got ${shown}`, expected.hint);
  }
  if (issue.code === 'invalid_value') {
    if (path.at(-1) === 'MinimumTLSVersion') {
      const hint =
        typeof value === 'number'
          ? `write the version as a string: "${value.toFixed(1)}"`
          : 'use "1.2" or "1.3" ("1.0" and "1.1" are accepted but obsolete)';
      return make(`${shown} is not a TLS version`, hint);
    }
    const options = issue.values.map((v) => JSON.stringify(v)).join(', ');
    return make(`${shown} is not one of ${options}`, `use one of ${options}`);
  }
  if (issue.code === 'invalid_union') {
    return make(
      `${shown} is not a valid inventory value`,
      'use a string, a number, or an array of only strings or only numbers',
    );
  }
  if (issue.code === 'too_small') return make('must not be empty', 'give it a value or remove the key');
  return make(issue.message, '');
}

/**
 * The JSON Schema of what users may write (`io: 'input'`), committed as
 * `docs/config.schema.json` for editors and CI (`npm run config-schema` regenerates it;
 * a unit test fails when it is stale).
 */
export function configJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(rawConfigSchema, { io: 'input' });
}
