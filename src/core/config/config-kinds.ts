import { z } from 'zod';
import { parseGoDuration } from './go-duration.js';
import { parseListenAddress } from './listen-address.js';

/** How an environment variable's text becomes a JSON value. `duration` and `string` both stay strings. */
export type EnvKind = 'string' | 'bool' | 'csv' | 'duration' | 'integer';

/**
 * The value types of `mender-gateway.conf` keys, as small kinds the config table
 * (`config-table.ts`) names per key. Each kind knows its zod schema fragment (syntax of one
 * value; "" means "not set", Go's zero value), how an environment variable's text becomes that
 * value, and how docs/configuration.md describes it.
 */
export type KindName =
  | 'string'
  | 'bool'
  | 'duration'
  | 'url'
  | 'listen'
  | 'path'
  | 'list'
  | 'integer'
  | 'enum'
  | 'base64'
  | 'inventory';

export interface ValueKind<T = unknown, K extends KindName = KindName> {
  /** The kind's name, for tables and tests. */
  kind: K;
  /** How a variable's text is parsed; `undefined`: the key cannot be set from the environment. */
  env: EnvKind | undefined;
  /** The "Type" column of docs/configuration.md. */
  doc: string;
  /** The zod schema of one value, carrying `description` for the JSON Schema. */
  schema(description: string): z.ZodType<T>;
}

const GO_DURATION_PATTERN = '^$|^[-+]?(0|(([0-9]+(\\.[0-9]*)?|\\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+)$';
const DURATION_HINT = 'write a Go duration such as "30s", "5m", "1h30m" or "24h" (units ns, us, ms, s, m, h)';

/** Issue params carry the fix hint through zod to the config issue (config-schema.ts). */
const custom = (message: string, hint: string) => ({ code: 'custom' as const, message, params: { hint } });

/** A Go duration (`time.ParseDuration`); negative values are refused, zero only when it means something. */
export function duration(options: { allowZero: boolean; zeroMeans?: string }): ValueKind<string, 'duration'> {
  return {
    kind: 'duration',
    env: 'duration',
    doc: options.allowZero ? 'duration ≥ 0' : 'duration > 0',
    schema: (description) =>
      z
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
          if (ms < 0)
            ctx.addIssue(custom(`${JSON.stringify(text)} is negative`, 'durations must be positive'));
          else if (ms === 0 && !options.allowZero) {
            ctx.addIssue(custom(`${JSON.stringify(text)} is zero`, `use a positive duration, e.g. "30s"`));
          }
        })
        .meta({
          description: description + (options.zeroMeans === undefined ? '' : ` "0" ${options.zeroMeans}.`),
          pattern: GO_DURATION_PATTERN,
          examples: ['30s', '5m', '1h30m'],
        }),
  };
}

/** An absolute http(s) URL without credentials, query or fragment. */
export const url: ValueKind<string, 'url'> = {
  kind: 'url',
  env: 'string',
  doc: 'URL',
  schema: (description) =>
    z
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
        let parsed: URL;
        try {
          parsed = new URL(text);
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
        if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
          ctx.addIssue(
            custom(
              `${JSON.stringify(text)} uses ${parsed.protocol}`,
              'only http:// and https:// URLs are supported',
            ),
          );
        } else if (parsed.search !== '' || parsed.hash !== '') {
          ctx.addIssue(
            custom(`${JSON.stringify(text)} has a query or fragment`, 'use a base URL without "?…" or "#…"'),
          );
        }
      })
      .meta({ description, format: 'uri', examples: ['https://hosted.mender.io'] }),
};

/** A Go `host:port` listen address; `ipOnly` refuses host names (the metrics listener). */
export function listen(options: { ipOnly?: boolean } = {}): ValueKind<string, 'listen'> {
  return {
    kind: 'listen',
    env: 'string',
    doc: options.ipOnly === true ? 'IP:port (IP address or empty host, no host names)' : 'host:port',
    schema: (description) =>
      z
        .string()
        .superRefine((text, ctx) => {
          if (text === '') return;
          const parsed = parseListenAddress(text, options);
          if (!parsed.ok) ctx.addIssue(custom(parsed.message, parsed.hint));
        })
        .meta({
          description,
          examples: options.ipOnly === true ? ['127.0.0.1:9102', ':9102'] : [':443', '0.0.0.0:8443'],
        }),
  };
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

/** A base64 key; the value is a secret, so messages describe it and never quote it. */
export const base64: ValueKind<string, 'base64'> = {
  kind: 'base64',
  env: 'string',
  doc: 'base64 (standard or URL-safe alphabet, padding optional)',
  schema: (description) =>
    z
      .string()
      .superRefine((text, ctx) => {
        if (text !== '' && decodeSignatureSecret(text) === undefined) {
          ctx.addIssue(custom('the value is not valid base64', 'generate one with: openssl rand -base64 32'));
        }
      })
      .meta({ description }),
};

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

/** A list of domain names; from the environment, split on commas and/or whitespace. */
export const domainList: ValueKind<string[], 'list'> = {
  kind: 'list',
  env: 'csv',
  doc: 'list of host names',
  schema: (description) => z.array(whitelistEntry).meta({ description }),
};

export const bool: ValueKind<boolean, 'bool'> = {
  kind: 'bool',
  env: 'bool',
  doc: 'bool',
  schema: (description) => z.boolean().meta({ description }),
};

/** Free text. */
export const string: ValueKind<string, 'string'> = {
  kind: 'string',
  env: 'string',
  doc: 'string',
  schema: (description) => z.string().meta({ description }),
};

/** A file or directory; relative paths are resolved in build-gateway-config.ts. */
export function path(doc = 'path'): ValueKind<string, 'path'> {
  return { kind: 'path', env: 'string', doc, schema: (description) => z.string().meta({ description }) };
}

/** A count such as a connection limit: a whole number ≥ 0 (a JSON number, not a string). */
export const wholeNumber: ValueKind<number, 'integer'> = {
  kind: 'integer',
  env: 'integer',
  doc: 'whole number ≥ 0 (a JSON number)',
  schema: (description) =>
    z
      .number()
      .superRefine((n, ctx) => {
        if (!Number.isSafeInteger(n) || n < 0) {
          ctx.addIssue(
            custom(`${n} is not a whole number ≥ 0`, 'write a whole number such as 1024, without quotes'),
          );
        }
      })
      .meta({ description, type: 'integer', minimum: 0, examples: [1024] }),
};

/** One of a few strings. */
export function oneOf<const V extends readonly [string, ...string[]]>(
  values: V,
): ValueKind<V[number], 'enum'> {
  return {
    kind: 'enum',
    env: 'string',
    doc: `${values.map((v) => `\`"${v}"\``).join(' ')} (a string)`,
    schema: (description) => z.enum(values).meta({ description }),
  };
}

/** One entry of `DefaultInventory` as written in the file. */
export interface InventoryEntry {
  Name: string;
  Value: string | number | string[] | number[];
}

const inventoryValue = z.union([z.string(), z.number(), z.array(z.string()), z.array(z.number())]);

/** Inventory attributes; the element keys are listed in the table entry's `itemKeys`. */
export const inventory: ValueKind<InventoryEntry[], 'inventory'> = {
  kind: 'inventory',
  env: undefined,
  doc: 'array of `{"Name": string, "Value": v}`; `v` is a string, a number, or an array of only strings or only numbers',
  schema: (description) =>
    z
      .array(
        z.object({
          Name: z.string().min(1).meta({ description: 'Inventory attribute name.' }),
          Value: inventoryValue.meta({
            description: 'A string, a number, or an array of strings or of numbers.',
          }),
        }),
      )
      .meta({ description }),
};
