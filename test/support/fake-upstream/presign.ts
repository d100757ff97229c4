import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const BUCKET = 'mender-artifacts';
const ACCESS_KEY = 'AKIAFAKEMENDERGW0000';
const REGION = 'us-east-1';

/** RFC 3986 encoding as SigV4 canonicalisation uses it (encodeURIComponent leaves `!'()*`). */
function rfc3986(value: string): string {
  return encodeURIComponent(value).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

/** `20261122T003701Z` */
function amzDate(date: Date): string {
  return date
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
}

function parseAmzDate(value: string): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (m === null) return undefined;
  const [, y, mo, d, h, mi, s] = m.map(Number) as [number, number, number, number, number, number, number];
  return new Date(Date.UTC(y, mo - 1, d, h, mi, s));
}

export type PresignCheck =
  | { ok: true }
  | {
      ok: false;
      status: 400 | 403;
      code: 'AccessDenied' | 'SignatureDoesNotMatch' | 'AuthorizationQueryParametersError';
      message: string;
    };

/**
 * Presigned links shaped like AWS SigV4 query authentication (what deployments hands out for
 * S3, docs/protocol.md §2.2): `X-Amz-Algorithm/Credential/Date/Expires/SignedHeaders`, the forced
 * `response-content-disposition`/`response-content-type`, and `X-Amz-Signature` last. The
 * signature is an HMAC over method, path, the canonical (decoded, sorted, re-encoded) query and
 * the `host` header — so, as with real S3, a proxy may re-encode the query harmlessly but must
 * send the storage host as `Host`, and a link signed for GET does not work for HEAD.
 */
export class Presigner {
  readonly #secret = randomBytes(32);

  constructor(private readonly host: string) {}

  #canonical(method: string, path: string, params: URLSearchParams, host: string): string {
    const pairs = [...params.entries()]
      .filter(([key]) => key !== 'X-Amz-Signature')
      .map(([key, value]) => [rfc3986(key), rfc3986(value)] as const)
      .sort(([a, av], [b, bv]) => (a === b ? (av < bv ? -1 : av > bv ? 1 : 0) : a < b ? -1 : 1))
      .map(([key, value]) => `${key}=${value}`)
      .join('&');
    return `${method}\n${path}\n${pairs}\nhost:${host.toLowerCase()}`;
  }

  #sign(canonical: string): string {
    return createHmac('sha256', this.#secret).update(canonical).digest('hex');
  }

  /** Path plus query of a presigned link (append to the storage base URL). */
  sign(
    path: string,
    options: {
      method?: 'GET' | 'HEAD';
      date?: Date;
      expiresSeconds: number;
      filename: string;
      contentType: string;
    },
  ): { pathAndQuery: string; expire: Date } {
    const date = options.date ?? new Date();
    const stamp = amzDate(date);
    const params = new URLSearchParams();
    params.set('X-Amz-Algorithm', 'AWS4-HMAC-SHA256');
    params.set('X-Amz-Credential', `${ACCESS_KEY}/${stamp.slice(0, 8)}/${REGION}/s3/aws4_request`);
    params.set('X-Amz-Date', stamp);
    params.set('X-Amz-Expires', String(options.expiresSeconds));
    params.set('X-Amz-SignedHeaders', 'host');
    params.set('response-content-disposition', `attachment; filename="${options.filename}"`);
    params.set('response-content-type', options.contentType);
    const signature = this.#sign(this.#canonical(options.method ?? 'GET', path, params, this.host));
    // Encode with %20 rather than URLSearchParams' `+`, as AWS SDKs do.
    const query = [...params.entries(), ['X-Amz-Signature', signature] as const]
      .map(([key, value]) => `${rfc3986(key)}=${rfc3986(value)}`)
      .join('&');
    const expire = new Date(Math.floor(date.getTime() / 1000) * 1000 + options.expiresSeconds * 1000);
    return { pathAndQuery: `${path}?${query}`, expire };
  }

  /** Validate a request against its query (order of checks as S3: params, expiry, signature). */
  check(
    method: string,
    path: string,
    rawQuery: string,
    hostHeader: string | undefined,
    now = new Date(),
  ): PresignCheck {
    // `+` means space in S3 query strings too; decode it the same way for both sides.
    const params = new URLSearchParams(rawQuery);
    const algorithm = params.get('X-Amz-Algorithm');
    const signature = params.get('X-Amz-Signature');
    const dateText = params.get('X-Amz-Date');
    const expiresText = params.get('X-Amz-Expires');
    if (algorithm === null && signature === null) {
      return { ok: false, status: 403, code: 'AccessDenied', message: 'Access Denied' };
    }
    if (algorithm !== 'AWS4-HMAC-SHA256' || signature === null || dateText === null || expiresText === null) {
      return {
        ok: false,
        status: 400,
        code: 'AuthorizationQueryParametersError',
        message:
          'Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.',
      };
    }
    const date = parseAmzDate(dateText);
    const expires = Number(expiresText);
    if (date === undefined || !Number.isInteger(expires) || expires < 1 || expires > 604800) {
      return {
        ok: false,
        status: 400,
        code: 'AuthorizationQueryParametersError',
        message: 'X-Amz-Date or X-Amz-Expires is malformed',
      };
    }
    if (now.getTime() > date.getTime() + expires * 1000) {
      return { ok: false, status: 403, code: 'AccessDenied', message: 'Request has expired' };
    }
    // HEAD has its own signature in S3; a GET link only works for GET.
    const expected = this.#sign(this.#canonical(method, path, params, hostHeader ?? ''));
    const given = Buffer.from(signature, 'utf8');
    const want = Buffer.from(expected, 'utf8');
    if (given.length !== want.length || !timingSafeEqual(given, want)) {
      return {
        ok: false,
        status: 403,
        code: 'SignatureDoesNotMatch',
        message:
          'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
      };
    }
    return { ok: true };
  }
}
