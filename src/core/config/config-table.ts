import {
  base64,
  bool,
  domainList,
  duration,
  inventory,
  listen,
  oneOf,
  path,
  string,
  url,
  wholeNumber,
  type KindName,
  type ValueKind,
} from './config-kinds.js';

/**
 * Every key of `mender-gateway.conf`, one entry each: the one place a setting is declared.
 * The raw zod schema (`config-schema.ts`), the defaults, the environment overlay
 * (`env-overrides.ts`), the known keys for unknown-key warnings (`unknown-keys.ts`), the
 * redaction of secrets, `config show`, `docs/config.schema.json` and the reference tables of
 * `docs/configuration.md` (`npm run config-docs`) are all derived from it.
 *
 * Entries are in the order of the file's JSON Schema; zod reports problems in this order.
 * Cross-field rules (`config-checks.ts`) and the normalised `GatewayConfig`
 * (`build-gateway-config.ts`) stay code: they carry logic, not declarations.
 */

/** Mender Gateway releases that added keys (docs/protocol.md §10). */
export type MenderRelease = '1.0.0' | '1.1.0' | '2.0.0' | '2.2.0';

/** A raw default, in the file's own vocabulary (so docs and messages can quote it). */
export type ConfigValue = string | number | boolean | readonly string[];

export interface EnvAlias {
  env: string;
  /** Warning shown whenever the alias is used (e.g. a misspelling kept for compatibility). */
  warning?: string;
  /** Why the alias exists, for docs/configuration.md. */
  doc: string;
}

export interface ConfigEntry {
  /** Dotted JSON path, in Mender's PascalCase: `HTTPS.Listen`. */
  readonly key: string;
  readonly type: ValueKind;
  /** Applied when neither the file nor the environment sets the key; none when absent. */
  readonly default?: ConfigValue;
  /** The "Default" column when the default is not a plain value (conditional, computed, required). */
  readonly defaultDoc?: string;
  /** The environment variable that overrides the key (docs/protocol.md §6.2). */
  readonly env?: string;
  /** Other accepted variable names; `env` wins when both are set. */
  readonly envAliases?: readonly EnvAlias[];
  /** Never echoed in messages, redacted by `config show` (docs/protocol.md §6.7). */
  readonly secret?: boolean;
  /** One sentence, the JSON Schema description. */
  readonly description: string;
  /** The "Meaning" column of docs/configuration.md (Markdown). */
  readonly doc: string;
  /** The Mender Gateway release that added the key, or `extension`: a mender-gw key Mender Gateway ignores. */
  readonly since: MenderRelease | 'extension';
  /** Appended to the "Origin" column, e.g. where the JSON name or the default is ours. */
  readonly originNote?: string;
  /** Object keys of each element, for arrays of objects (unknown-key warnings look inside). */
  readonly itemKeys?: readonly string[];
  /** The docs section (heading) listing the key, when it is not the key's parent. */
  readonly section?: string;
  /** How the docs name the key, when the path alone would mislead. */
  readonly docKey?: string;
}

export const CONFIG_TABLE = [
  {
    key: '$schema',
    type: string,
    description: 'Path or URL of this JSON Schema, for editors. Ignored.',
    doc: 'Path or URL of the JSON Schema, for editors; ignored.',
    since: 'extension',
  },

  // Features.ArtifactsProxy (docs/protocol.md §4)
  {
    key: 'Features.ArtifactsProxy.Enabled',
    type: bool,
    default: false,
    env: 'ARTIFACTS_PROXY_ENABLED',
    description: 'Rewrite artifact download links to go through the gateway.',
    doc: 'Rewrite artifact download links so devices download through the gateway.',
    since: '1.0.0',
  },
  {
    key: 'Features.ArtifactsProxy.GatewayURL',
    type: url,
    env: 'ARTIFACTS_PROXY_GATEWAY_URL',
    description: 'Base URL under which devices reach the gateway.',
    doc: 'The URL under which **devices** reach this gateway (it goes into the rewritten links). Required when the proxy is on.',
    since: '1.0.0',
  },
  {
    key: 'Features.ArtifactsProxy.DomainWhitelist',
    type: domainList,
    default: [],
    env: 'ARTIFACTS_PROXY_DOMAIN_WHITELIST',
    description:
      'Storage host names the gateway may fetch artifacts from; each entry also admits its subdomains.',
    doc: 'Storage hosts the gateway may download from. Each entry admits itself and its subdomains (`s3.amazonaws.com` admits `hosted-mender-artifacts.s3.amazonaws.com`); matching is by whole labels, never substrings. Case, a leading `.` or `*.`, and a `:port` are ignored (the port with a warning). Entries that are URLs or contain `/` are errors. An empty list refuses every link (warned about). For hosted Mender: `["s3.amazonaws.com", "cloudflarestorage.com", "blob.core.windows.net"]`.',
    since: '1.0.0',
  },
  {
    key: 'Features.ArtifactsProxy.ArtifactsCache.Enabled',
    type: bool,
    default: false,
    env: 'ARTIFACTS_PROXY_CACHE_ENABLED',
    description: 'Cache artifacts on disk (requires ArtifactsProxy).',
    doc: 'Keep downloaded artifacts on disk and serve repeats from there. Requires `ArtifactsProxy.Enabled`.',
    since: '1.0.0',
  },
  {
    key: 'Features.ArtifactsProxy.ArtifactsCache.Path',
    type: path('path (directory)'),
    // The path used in every Mender example (docs/protocol.md §6.2).
    default: '/var/cache/mender-gateway',
    env: 'ARTIFACTS_PROXY_CACHE_PATH',
    description: 'Cache directory.',
    doc: 'Cache directory; created if missing; must not be a file. Give it its own partition: eviction starts when it is full.',
    since: '1.0.0',
  },
  {
    key: 'Features.ArtifactsProxy.ArtifactsCache.SignatureSecret',
    type: base64,
    defaultDoc: 'random per start (warned about)',
    // Mender's name does not follow the key (docs/protocol.md §6.2).
    env: 'ARTIFACTS_PROXY_CACHE_SECRET',
    secret: true,
    description:
      'Base64 (standard or URL alphabet, padding optional) HMAC-SHA256 key that signs cache download links. At least 16 bytes recommended; random per process when unset.',
    doc: 'HMAC-SHA256 key that signs the cache download links. Without it links stop working at every restart and differ between replicas. Invalid base64 is an error; fewer than 16 bytes is a warning. Generate with `openssl rand -base64 32`.',
    since: '1.0.0',
  },
  {
    key: 'Features.ArtifactsProxy.ArtifactsCache.LinkExpireDuration',
    type: duration({ allowZero: false }),
    // Unpublished by Mender; our choice (docs/protocol.md §9.11).
    default: '24h',
    env: 'ARTIFACTS_PROXY_CACHE_LINK_EXPIRE_DURATION',
    description: 'Lifetime of a signed cache link.',
    doc: 'How long a signed cache link stays valid.',
    since: '1.0.0',
    originNote: 'default ours: unpublished',
  },

  // Features.mTLS (docs/protocol.md §3)
  {
    key: 'Features.mTLS.Enabled',
    type: bool,
    default: false,
    env: 'MTLS_ENABLED',
    description: 'Mutual TLS: auto-accept devices presenting a certificate signed by CACertificate.',
    doc: 'Require client certificates on the HTTPS listener and auto-accept devices whose certificate chains to `CACertificate`. Requires HTTPS.',
    since: '1.0.0',
  },
  {
    key: 'Features.mTLS.CACertificate',
    type: path('path (PEM bundle)'),
    env: 'MTLS_CA_CERTIFICATE',
    description: 'PEM bundle of the CAs that sign device certificates.',
    doc: 'CAs that sign device certificates. Required with mTLS.',
    since: '1.0.0',
  },
  {
    key: 'Features.mTLS.BlacklistPath',
    type: path(),
    env: 'MTLS_BLACKLIST_PATH',
    description: 'File of revoked client-certificate serial numbers (hex, one per line).',
    doc: 'File of revoked certificate serial numbers, hexadecimal, one per line. Must exist when set.',
    since: '1.0.0',
  },
  {
    key: 'Features.mTLS.MenderUsername',
    type: string,
    env: 'MTLS_MENDER_USERNAME',
    description: 'Mender user that preauthorizes devices.',
    doc: 'Mender user the gateway logs in as to preauthorize devices. Required with mTLS.',
    since: '1.0.0',
  },
  {
    key: 'Features.mTLS.MenderPassword',
    type: string,
    env: 'MTLS_MENDER_PASSWORD',
    secret: true,
    description: 'Password of MenderUsername (secret).',
    doc: 'Its password. Required with mTLS. Prefer the environment (e.g. a Kubernetes secret) over the file.',
    since: '1.0.0',
  },
  {
    key: 'Features.mTLS.EnableCache',
    type: bool,
    // Unpublished; caching preauthorizations is the point of MTLS_ENABLE_CACHE (docs/protocol.md §9.7).
    default: true,
    // Documented as an environment variable only; the JSON name is our inference (docs/protocol.md §9.7).
    env: 'MTLS_ENABLE_CACHE',
    description: 'Cache successful preauthorizations (env MTLS_ENABLE_CACHE).',
    doc: 'Remember successful preauthorizations instead of repeating them on every authentication request.',
    since: '2.0.0',
    originNote: 'JSON name ours',
  },
  {
    key: 'Features.mTLS.InsecureSkipClientExpireAfter',
    type: bool,
    default: false,
    env: 'MTLS_INSECURE_SKIP_CLIENT_EXPIRE_AFTER',
    description:
      'Accept expired client certificates (env MTLS_INSECURE_SKIP_CLIENT_EXPIRE_AFTER). Not for production.',
    doc: 'Accept client certificates past their expiry date. Not for production; warned about.',
    since: '2.0.0',
    originNote: 'JSON name ours',
  },
  {
    key: 'Features.mTLS.AllowDeviceAPIOnHTTP',
    type: bool,
    // Refuse the device API on plain HTTP while mTLS is on (docs/protocol.md §9.12).
    default: false,
    env: 'MTLS_ALLOW_DEVICE_API_ON_HTTP',
    description:
      'mender-gw extension: also serve the device API on the plain-HTTP listener while mTLS is on.',
    doc: 'While mTLS is on, also serve the device API on the plain-HTTP listener (without auto-accept; such devices stay pending). By default only the health endpoint answers there.',
    since: 'extension',
  },

  // Features.DeviceSystem (docs/protocol.md §5)
  {
    key: 'Features.DeviceSystem.Enabled',
    type: bool,
    default: false,
    env: 'DEVICE_SYSTEM_ENABLED',
    description: 'Inject mender_gateway_system_id and DefaultInventory into device inventory.',
    doc: "Add `mender_gateway_system_id` and `DefaultInventory` to every device's inventory submission.",
    since: '1.1.0',
  },
  {
    key: 'Features.DeviceSystem.SystemID',
    type: string,
    env: 'DEVICE_SYSTEM_ID',
    description: 'Value of mender_gateway_system_id.',
    doc: 'Value of `mender_gateway_system_id`. Required when enabled.',
    since: '1.1.0',
  },
  {
    key: 'Features.DeviceSystem.DefaultInventory',
    type: inventory,
    default: [],
    description:
      'Inventory attributes added to every device inventory submission, unless the device reports the same name.',
    doc: "Extra attributes; a device's own attribute of the same name wins. The first entry for a `Name` wins (duplicates warned about); a `mender_gateway_system_id` entry is ignored (use `SystemID`).",
    since: '1.1.0',
    itemKeys: ['Name', 'Value'],
  },

  // Listeners (docs/protocol.md §6.3)
  {
    key: 'HTTP.Enabled',
    type: bool,
    default: false,
    env: 'HTTP_ENABLED',
    description: 'Plain-HTTP listener. Never on untrusted networks.',
    doc: 'Plain-HTTP listener for devices.',
    since: '1.0.0',
  },
  {
    key: 'HTTP.Listen',
    type: listen(),
    default: ':80',
    env: 'HTTP_LISTEN',
    description: 'host:port of the plain-HTTP listener.',
    doc: 'Where it listens.',
    since: '1.0.0',
  },
  {
    key: 'HTTPS.Enabled',
    type: bool,
    // On, unless the configuration enables HTTP and has no HTTPS settings at all: Mender's own
    // integration-test config enables only HTTP and the real gateway ran with it, so "HTTPS on"
    // cannot be unconditional (httpsEnabledDefault() in build-gateway-config.ts).
    default: true,
    defaultDoc:
      '`true`, **except** `false` when `HTTP.Enabled` is `true` and there are no HTTPS settings at all',
    env: 'HTTPS_ENABLED',
    description: 'TLS listener.',
    doc: 'TLS listener for devices. See below.',
    since: '1.0.0',
  },
  {
    key: 'HTTPS.Listen',
    type: listen(),
    default: ':443',
    env: 'HTTPS_LISTEN',
    description: 'host:port of the TLS listener.',
    doc: 'Where it listens.',
    since: '1.0.0',
  },
  {
    key: 'HTTPS.MinimumTLSVersion',
    type: oneOf(['1.0', '1.1', '1.2', '1.3']),
    // Go ≥ 1.22 servers default to TLS 1.2 (docs/protocol.md §6.2).
    default: '1.2',
    env: 'HTTPS_MINIMUM_TLS_VERSION',
    envAliases: [
      {
        env: 'HTTPS_MINMUM_TLS_VERSION',
        warning:
          'HTTPS_MINMUM_TLS_VERSION is a misspelling from older Mender docs, accepted for compatibility',
        doc: 'the misspelling from older Mender docs, with a warning',
      },
    ],
    description: 'Lowest TLS version accepted from devices.',
    doc: 'Lowest TLS version accepted from devices. `1.0`/`1.1` are warned about.',
    since: '1.1.0',
  },
  {
    key: 'HTTPS.ServerCertificate',
    type: path('path (PEM, chain allowed)'),
    env: 'HTTPS_SERVER_CERTIFICATE',
    description: 'PEM server certificate (chain).',
    doc: 'Server certificate devices see. Required when HTTPS is on.',
    since: '1.0.0',
  },
  {
    key: 'HTTPS.ServerKey',
    type: path('path (PEM)'),
    env: 'HTTPS_SERVER_KEY',
    description: 'PEM private key of ServerCertificate.',
    doc: 'Its private key. Required when HTTPS is on.',
    since: '1.0.0',
  },

  // UpstreamServer (docs/protocol.md §6.2, §6.4)
  {
    key: 'UpstreamServer.URL',
    type: url,
    defaultDoc: '— **required**',
    env: 'UPSTREAM_SERVER_URL',
    // The configuration-file page names it UPSTREAM_SERVER; the changelog, compose files and
    // the Kubernetes guide use UPSTREAM_SERVER_URL. Accept both; _URL wins.
    envAliases: [
      {
        env: 'UPSTREAM_SERVER',
        doc: "the name on Mender's configuration page; `_URL` wins if both are set",
      },
    ],
    description: 'The upstream Mender server.',
    doc: 'The upstream Mender server, e.g. `https://hosted.mender.io` (or your region).',
    since: '1.0.0',
  },
  {
    key: 'UpstreamServer.CACertificate',
    type: path('path (PEM bundle)'),
    defaultDoc: 'system CAs only',
    env: 'UPSTREAM_SERVER_CA_CERTIFICATE',
    description: 'Extra PEM CA bundle trusted for the upstream server.',
    doc: 'Extra CAs trusted for the upstream server, e.g. a private CA of an on-premise server.',
    since: '2.0.0',
  },
  {
    key: 'UpstreamServer.InsecureSkipVerify',
    type: bool,
    default: false,
    env: 'UPSTREAM_SERVER_INSECURE_SKIP_VERIFY',
    description: 'Do not verify the upstream certificate. Testing only.',
    doc: 'Do not verify the upstream certificate. Testing only; warned about.',
    since: '1.0.0',
  },
  // Upstream timeouts (docs/protocol.md §7 "Timeouts").
  {
    key: 'UpstreamServer.ConnectTimeout',
    type: duration({ allowZero: false }),
    default: '30s',
    env: 'UPSTREAM_SERVER_CONNECT_TIMEOUT',
    description: 'mender-gw extension: time to establish an upstream connection.',
    doc: 'Time to open a connection (TCP + TLS) to the upstream server.',
    since: 'extension',
  },
  {
    key: 'UpstreamServer.ResponseTimeout',
    type: duration({ allowZero: false }),
    default: '60s',
    env: 'UPSTREAM_SERVER_RESPONSE_TIMEOUT',
    description: 'mender-gw extension: time to wait for upstream response headers (then 504).',
    doc: 'Time to wait for the upstream response **headers**; then the device gets `504`. Bodies are not limited by it.',
    since: 'extension',
  },
  {
    key: 'UpstreamServer.BodyIdleTimeout',
    type: duration({ allowZero: true, zeroMeans: 'disables it' }),
    default: '5m',
    env: 'UPSTREAM_SERVER_BODY_IDLE_TIMEOUT',
    description: 'mender-gw extension: longest silence while streaming a body.',
    doc: 'Longest silence while streaming an upstream response body, and while the gateway reads a device request body itself (auth requests with mTLS, inventory with Device System: the device gets `408` and the connection is closed); `0` disables it. Relayed device request bodies stream through and are never cut by the gateway, however slowly they progress. WebSocket tunnels have no idle timeout.',
    since: 'extension',
  },

  // Metrics (docs/protocol.md §6.6)
  {
    key: 'Metrics.Enabled',
    type: bool,
    default: false,
    env: 'METRICS_ENABLED',
    description: 'Prometheus /metrics listener (unauthenticated).',
    doc: 'Prometheus `/metrics` and the [status page](operator-guide.md#status-page) (`/status`) on a separate, **unauthenticated** listener.',
    since: '2.2.0',
  },
  {
    key: 'Metrics.Listen',
    type: listen({ ipOnly: true }),
    // Mender binds `:9102` (all interfaces). We bind loopback: the endpoint is unauthenticated
    // (docs/protocol.md §6.6) and the gateway usually sits on the boundary of an untrusted network.
    default: '127.0.0.1:9102',
    env: 'METRICS_LISTEN',
    description: 'IP:port of the metrics listener (IP address or empty host).',
    doc: 'Where it listens. **Mender\'s default is `:9102` (all interfaces)**; ours is loopback because the endpoint has no authentication and the gateway typically sits on the edge of an untrusted network. Set `":9102"` for Mender\'s behaviour.',
    since: '2.2.0',
    originNote: 'default differs',
  },

  // Device listener limits (docs/security.md)
  {
    key: 'DeviceConnections.MaxPerIP',
    type: wholeNumber,
    // 1024 leaves room for ~500 devices behind one NAT address (a device keeps one or two
    // connections; the mTLS load test sends 500 first auth requests at once from one address).
    default: 1024,
    env: 'DEVICE_CONNECTIONS_MAX_PER_IP',
    description:
      'mender-gw extension: open connections allowed from one IP address on the device listeners; 0 means no limit.',
    doc: 'Open connections allowed from one IP address; further connections are closed at once, with a warning naming the address (at most one every 10 s per address). `0` disables the limit. A device keeps one or two connections, so `1024` covers about 500 devices behind one NAT address; raise it for larger sites behind one address, and set `0` when a reverse proxy on the same host forwards every device. Lower it (e.g. `16`) where every device has its own address.',
    since: 'extension',
  },
  {
    key: 'DeviceConnections.HeadersTimeout',
    type: duration({ allowZero: false }),
    // Node's own default for headersTimeout; also bounds the TLS handshake.
    default: '60s',
    env: 'DEVICE_CONNECTIONS_HEADERS_TIMEOUT',
    description:
      'mender-gw extension: time a device has to complete the TLS handshake and send its request headers.',
    doc: 'Time a new connection has to finish its TLS handshake, and each request to send its request line and headers; then the device gets `408` (a handshake is simply closed). Checked every quarter of the timeout (at most every 30 s). Idle keep-alive connections are governed separately (90 s).',
    since: 'extension',
  },

  // Process lifecycle (docs/protocol.md §7 "Graceful restart", docs/operator-guide.md)
  {
    key: 'Drain.Enabled',
    type: bool,
    // Off, so SIGTERM behaves as before.
    default: false,
    env: 'DRAIN_ENABLED',
    description:
      'mender-gw extension: on SIGTERM, drain for Drain.Period before shutting down (devices re-authenticate elsewhere).',
    doc: 'SIGTERM drains for `Drain.Period` before the shutdown (then `ShutdownGracePeriod` as usual); a second SIGTERM, or SIGINT, shuts down at once. Off: SIGTERM shuts down at once. `SIGUSR2` starts a drain whatever this says, and that drain lasts until the gateway is stopped.',
    since: 'extension',
  },
  {
    key: 'Drain.Period',
    type: duration({ allowZero: true, zeroMeans: 'shuts down at once' }),
    default: '30s',
    env: 'DRAIN_PERIOD',
    description: 'mender-gw extension: how long a drain lasts after SIGTERM before the shutdown starts.',
    doc: 'How long the drain lasts after SIGTERM; also the `Retry-After` (seconds, at least 1) of the `503` answers. Give it at least one `UpdatePollIntervalSeconds` of your devices, so each makes a call and moves.',
    since: 'extension',
  },
  {
    key: 'ShutdownGracePeriod',
    type: duration({ allowZero: true, zeroMeans: 'cuts them at once' }),
    default: '30s',
    env: 'SHUTDOWN_GRACE_PERIOD',
    description: 'mender-gw extension: how long transfers may continue after SIGTERM.',
    doc: 'After SIGTERM/SIGINT, how long transfers in flight may continue before they are cut; `0` cuts them at once.',
    since: 'extension',
  },
  {
    key: 'DefaultInventory',
    type: inventory,
    default: [],
    description: 'Legacy (1.1.0) location of Features.DeviceSystem.DefaultInventory.',
    doc: 'The 1.1.0 location of the same list. Both locations are merged; `Features.DeviceSystem` wins for the same `Name`; having both is warned about.',
    since: '1.1.0',
    originNote: 'legacy',
    itemKeys: ['Name', 'Value'],
    section: 'Features.DeviceSystem',
    docKey: '`DefaultInventory` (top level)',
  },
  {
    key: 'DebugLog',
    type: bool,
    default: false,
    description: 'Legacy: log at debug level (superseded by --log-level).',
    doc: 'Legacy (Mender 1.x): log at debug level, unless `--log-level` is given.',
    since: '1.0.0',
    originNote: 'legacy',
  },
] as const satisfies readonly ConfigEntry[];

type Table = (typeof CONFIG_TABLE)[number];

/** Every key of the table: `'HTTPS.Listen' | 'Features.mTLS.Enabled' | …`. */
export type ConfigKey = Table['key'];

/** The strict prefixes of a dotted path: `'A.B.C'` → `'A' | 'A.B'`. */
type Prefixes<S extends string> = S extends `${infer H}.${infer T}` ? H | `${H}.${Prefixes<T>}` : never;

/** A section of the file (`Features.mTLS`, `HTTPS`): a prefix of some key. */
export type ConfigSection = Prefixes<ConfigKey>;

/** The raw value type of a key (`boolean` for `HTTP.Enabled`). */
export type ConfigValueOf<K extends ConfigKey> =
  Extract<Table, { key: K }>['type'] extends ValueKind<infer T> ? T : never;

const ENTRIES: ReadonlyMap<string, ConfigEntry> = new Map(CONFIG_TABLE.map((e) => [e.key, e]));
const SECTIONS: ReadonlySet<string> = new Set(
  CONFIG_TABLE.flatMap((e) =>
    e.key
      .split('.')
      .slice(0, -1)
      .map((_, i, all) => all.slice(0, i + 1).join('.')),
  ),
);

/** The JSON path of a key: `['HTTPS', 'Listen']`. */
export function keyPath(name: ConfigKey | ConfigSection): readonly string[] {
  return name.split('.');
}

/** The entry of a dotted key, if the table has it. */
export function configEntry(name: string): ConfigEntry | undefined {
  return ENTRIES.get(name);
}

/** Whether a dotted name is a key or a section of the file. */
export function isConfigKeyOrSection(name: string): boolean {
  return ENTRIES.has(name) || SECTIONS.has(name);
}

/** The keys of one value kind: `ConfigKeyOfKind<'duration'>`. */
export type ConfigKeyOfKind<K extends KindName> = Extract<Table, { type: { kind: K } }>['key'];

type WithDefault = Extract<Table, { default: ConfigValue }>;

/** The default of a key that has one, typed as the key's value. */
export function defaultOf<K extends WithDefault['key']>(name: K): ConfigValueOf<K> {
  const entry = ENTRIES.get(name);
  if (entry?.default === undefined) throw new Error(`bug: ${name} has no default`);
  return entry.default as ConfigValueOf<K>;
}

/** Dotted keys whose values are never shown (docs/protocol.md §6.7; the HMAC key signs cache links, §4.4). */
export const SECRET_KEYS: ReadonlySet<string> = new Set(
  CONFIG_TABLE.filter((e: ConfigEntry) => e.secret === true).map((e) => e.key),
);

/**
 * The keys as the file nests them: what the raw schema is built from and what unknown-key
 * warnings compare against. `items` describes the elements of an array of objects.
 */
export interface KeyNode {
  /** The table entry for a key (a leaf); sections have none. */
  entry?: ConfigEntry;
  children: Map<string, KeyNode>;
  items?: KeyNode;
}

function keyTree(): KeyNode {
  const root: KeyNode = { children: new Map() };
  for (const entry of CONFIG_TABLE as readonly ConfigEntry[]) {
    let node = root;
    for (const segment of entry.key.split('.')) {
      let child = node.children.get(segment);
      if (child === undefined) {
        child = { children: new Map() };
        node.children.set(segment, child);
      }
      node = child;
    }
    node.entry = entry;
    if (entry.itemKeys !== undefined) {
      node.items = { children: new Map(entry.itemKeys.map((k) => [k, { children: new Map() }])) };
    }
  }
  return root;
}

export const CONFIG_KEY_TREE: KeyNode = keyTree();
