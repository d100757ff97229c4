/**
 * One error type for the whole toolkit (CONTRIBUTING.md §6).
 *
 * Every failure the gateway or a command can report carries a stable `code`
 * (match on it, never on `instanceof`, across package boundaries), a message that
 * says what went wrong and where, and a `hint` that says what to do next.
 *
 * Two views of a code, each kept by its user: this table is the gateway's (the HTTP status a
 * device gets and whose failure it reports); the process exit status of a command is the CLI's
 * (`src/cli/exit-codes.ts`).
 */

/**
 * Whose failure a code reports, for the gateway's outcome of an exchange (`server/exchange.ts`):
 * the device's own request (`device`: refused, never an upstream problem), the far side of the
 * uplink (`remote`: the upstream server or storage, whichever was asked), the cache volume
 * (`cache`), or the gateway itself and its operator's input (`gateway`).
 */
export type ErrorBlame = 'device' | 'remote' | 'cache' | 'gateway';

export const ERROR_CODES = {
  /** The configuration is invalid; `details` lists every issue. */
  MGW_CONFIG_INVALID: { httpStatus: 500, blame: 'gateway' },
  /** The configuration file cannot be read or parsed as JSON. */
  MGW_CONFIG_UNREADABLE: { httpStatus: 500, blame: 'gateway' },
  /** A listener could not be opened (port in use, permission denied, bad address). */
  MGW_LISTEN_FAILED: { httpStatus: 500, blame: 'gateway' },
  /** A TLS certificate or key could not be loaded. */
  MGW_TLS_MATERIAL: { httpStatus: 500, blame: 'gateway' },
  /** The upstream Mender server could not be reached. */
  MGW_UPSTREAM_UNREACHABLE: { httpStatus: 502, blame: 'remote' },
  /** The upstream Mender server did not answer in time. */
  MGW_UPSTREAM_TIMEOUT: { httpStatus: 504, blame: 'remote' },
  /** A request from a device was malformed. */
  MGW_BAD_REQUEST: { httpStatus: 400, blame: 'device' },
  /** A request body exceeded the limit for its endpoint. */
  MGW_BODY_TOO_LARGE: { httpStatus: 413, blame: 'device' },
  /** A device stopped sending a request body the gateway must read (intercepted endpoints). */
  MGW_REQUEST_TIMEOUT: { httpStatus: 408, blame: 'device' },
  /** A gateway artifact link is malformed (docs/protocol.md §4.4: 400). */
  MGW_LINK_MALFORMED: { httpStatus: 400, blame: 'device' },
  /** A gateway artifact link is expired or its signature does not match (docs/protocol.md §4.4: 403). */
  MGW_LINK_FORBIDDEN: { httpStatus: 403, blame: 'device' },
  /**
   * A link names a storage host outside `DomainWhitelist` (docs/protocol.md §4.1, §4.2), whether the
   * upstream handed it out (deployments/next) or a device presents it (an artifact download): one
   * condition, one code. `gateway`: the operator's whitelist refused it; the uplink did not fail.
   */
  MGW_NOT_WHITELISTED: { httpStatus: 502, blame: 'gateway' },
  /** The upstream answered something the gateway cannot use (e.g. a body shorter than its Content-Length). */
  MGW_UPSTREAM_BAD_RESPONSE: { httpStatus: 502, blame: 'remote' },
  /** The artifact cache could not be read or written. */
  MGW_CACHE_IO: { httpStatus: 500, blame: 'cache' },
  /** Another `serve` owns the cache directory (one gateway per cache). */
  MGW_CACHE_LOCKED: { httpStatus: 500, blame: 'gateway' },
  /** The artifact cache directory does not exist or is not a directory (`cache ls`, `prune`, `verify`). */
  MGW_CACHE_NOT_FOUND: { httpStatus: 500, blame: 'gateway' },
  /** A `cache` command option is missing or invalid (size, age, key prefix, no selector); exit 2 like a usage error. */
  MGW_CACHE_INVALID_INPUT: { httpStatus: 400, blame: 'gateway' },
  /** A file is not a readable Mender artifact: not a tar, no `version` or header, truncated. */
  MGW_ARTIFACT_INVALID: { httpStatus: 502, blame: 'remote' },
  /** The method is not allowed on this path. */
  MGW_METHOD_NOT_ALLOWED: { httpStatus: 405, blame: 'device' },
  /** The upstream management API is rate-limiting or failing; the device should retry later (503 + Retry-After). */
  MGW_UPSTREAM_BUSY: { httpStatus: 503, blame: 'remote' },
  /** The gateway's management login was refused: wrong credentials or user. */
  MGW_MANAGEMENT_LOGIN: { httpStatus: 502, blame: 'remote' },
  /** The device may not use this listener or its certificate was refused (mTLS, docs/protocol.md §3.3). */
  MGW_DEVICE_FORBIDDEN: { httpStatus: 403, blame: 'device' },
  /** The device's auth request signature does not verify (docs/protocol.md §3.7 step 4). */
  MGW_BAD_SIGNATURE: { httpStatus: 401, blame: 'device' },
  /** The path is not served by the gateway. */
  MGW_NOT_FOUND: { httpStatus: 404, blame: 'device' },
  /** A `cert issue` input is missing or invalid (names, identities, days, key type); exit 2 like a usage error. */
  MGW_PKI_INVALID_INPUT: { httpStatus: 400, blame: 'gateway' },
  /** The issuing CA (`--ca-cert`/`--ca-key`) cannot be used: unreadable, not a CA, expired, key does not match. */
  MGW_PKI_CA_UNUSABLE: { httpStatus: 500, blame: 'gateway' },
  /** An output file already exists and `--force` was not given. */
  MGW_FILE_EXISTS: { httpStatus: 500, blame: 'gateway' },
  /** An output file or directory could not be written. */
  MGW_FILE_WRITE: { httpStatus: 500, blame: 'gateway' },
  /** A `device-hosts gen` input is missing or invalid (gateway address, host name, port, output); exit 2 like a usage error. */
  MGW_PROVISIONING_INVALID_INPUT: { httpStatus: 400, blame: 'gateway' },
  /** A `config init` answer is missing or invalid (URL, name, address, port, paths); exit 2 like a usage error. */
  MGW_SETUP_INVALID_INPUT: { httpStatus: 400, blame: 'gateway' },
  /** The gateway is shutting down and takes no new tunnels or exchanges. */
  MGW_SHUTTING_DOWN: { httpStatus: 503, blame: 'gateway' },
  /**
   * The gateway is draining (SIGTERM with Drain.Enabled, or SIGUSR2): a device call other than an
   * auth request gets 401, so the current Mender client authenticates again, which is when it
   * moves to the next server of its `Servers` list (docs/protocol.md §8.4). Never an upstream failure.
   * Answered without a body (see `server/drain.ts`).
   */
  MGW_DRAINING_REAUTHENTICATE: { httpStatus: 401, blame: 'gateway' },
  /** The gateway is draining: auth requests and WebSocket upgrades get 503 with Retry-After. */
  MGW_DRAINING: { httpStatus: 503, blame: 'gateway' },
  /** Wrong command-line usage: unknown command or flag, missing or unexpected argument, bad flag value. */
  MGW_USAGE: { httpStatus: 400, blame: 'gateway' },
  /** Anything we did not anticipate: a bug. */
  MGW_INTERNAL: { httpStatus: 500, blame: 'gateway' },
} as const satisfies Record<string, { httpStatus: number; blame: ErrorBlame }>;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface GatewayErrorOptions {
  hint?: string;
  cause?: unknown;
  /** Structured detail for machine-readable output (`--json`), e.g. the list of config issues. */
  details?: unknown;
}

export class GatewayError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  readonly details: unknown;

  constructor(code: ErrorCode, message: string, options: GatewayErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'GatewayError';
    this.code = code;
    this.hint = options.hint;
    this.details = options.details;
  }

  get httpStatus(): number {
    return ERROR_CODES[this.code].httpStatus;
  }

  get blame(): ErrorBlame {
    return ERROR_CODES[this.code].blame;
  }
}

/** True for any GatewayError, also one thrown by another copy of this module. */
export function isGatewayError(err: unknown): err is GatewayError {
  return (
    typeof err === 'object' &&
    err !== null &&
    (err as { name?: unknown }).name === 'GatewayError' &&
    typeof (err as { code?: unknown }).code === 'string' &&
    (err as { code: string }).code in ERROR_CODES
  );
}

/** Wrap an unknown throwable as a bug report, keeping the original as `cause`. */
export function toGatewayError(err: unknown): GatewayError {
  if (isGatewayError(err)) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new GatewayError('MGW_INTERNAL', `unexpected error: ${message}`, {
    cause: err,
    hint: 'This is a bug in mender-gw. Re-run with --log-level debug and report it with the output.',
  });
}
