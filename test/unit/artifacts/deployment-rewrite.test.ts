import { describe, expect, it } from 'vitest';
import { ArtifactLinkSigner, proxyLink } from '../../../src/core/artifacts/artifact-link.js';
import { rewriteInstructions } from '../../../src/core/artifacts/deployment-rewrite.js';
import type { GatewayLink, RewriteOptions } from '../../../src/core/artifacts/deployment-rewrite.js';
import { isGatewayError } from '../../../src/core/errors.js';

const UPSTREAM = new URL('https://docker.mender.io');
const GATEWAY = new URL('https://gateway.local:8443');
const STORAGE =
  'https://s3.docker.mender.io/mender-artifact-storage/6d3b0c2a-1111-2222-3333-444455556666?X-Amz-Algorithm=AWS4-HMAC-SHA256' +
  '&X-Amz-Credential=minio%2F20240501%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20240501T120000Z&X-Amz-Expires=86400' +
  '&X-Amz-SignedHeaders=host&response-content-type=application%2Fvnd.mender-artifact&X-Amz-Signature=0a1b2c3d';

/** A deployments/next answer as the server sends it (docs/protocol.md §2.2), with fields in server order. */
function instructions(uri: unknown = STORAGE): Record<string, unknown> {
  return {
    id: 'w81s4fae-7dec-11d0-a765-00a0c91e6bf6',
    artifact: {
      id: '6d3b0c2a-1111-2222-3333-444455556666',
      artifact_name: 'release-1',
      source: { uri, expire: '2024-05-02T12:00:00.000Z' },
      device_types_compatible: ['raspberrypi4', 'qemux86-64'],
    },
    type: 'software',
    update_control_map: { priority: 0, states: {} },
  };
}

interface Call {
  origin: string;
  artifact: { id: string | undefined; name: string | undefined };
}

function options(
  overrides: Partial<RewriteOptions> = {},
  link: GatewayLink = { uri: 'https://gateway.local:8443/link', expire: undefined },
) {
  const calls: Call[] = [];
  const opts: RewriteOptions = {
    whitelist: ['s3.docker.mender.io'],
    upstream: UPSTREAM,
    gatewayUrl: GATEWAY,
    link: (origin, artifact) => {
      calls.push({ origin: origin.href, artifact });
      return link;
    },
    ...overrides,
  };
  return { opts, calls };
}

function errorOf(fn: () => unknown): { code: string; message: string } {
  try {
    fn();
  } catch (err) {
    if (isGatewayError(err)) return { code: err.code, message: err.message };
    throw err;
  }
  throw new Error('expected an error');
}

/** Everything but artifact.source.uri/expire, in order, as text. */
function withoutLink(body: unknown): string {
  const clone = structuredClone(body) as { artifact: { source: Record<string, unknown> } };
  clone.artifact.source.uri = '<uri>';
  clone.artifact.source.expire = '<expire>';
  return JSON.stringify(clone);
}

describe('rewriteInstructions (docs/protocol.md §4.1, §4.7)', () => {
  it('replaces only artifact.source.uri, keeping every other field and its order', () => {
    const body = instructions();
    const before = JSON.stringify(body);
    const { opts, calls } = options();
    const out = rewriteInstructions(body, opts) as ReturnType<typeof instructions>;
    expect((out.artifact as { source: { uri: string } }).source.uri).toBe('https://gateway.local:8443/link');
    // Proxy mode: upstream's expiry stays.
    expect(JSON.stringify(out)).toBe(
      before.replace(JSON.stringify(STORAGE), JSON.stringify('https://gateway.local:8443/link')),
    );
    // The input is not modified.
    expect(JSON.stringify(body)).toBe(before);
    expect(calls).toEqual([
      { origin: STORAGE, artifact: { id: '6d3b0c2a-1111-2222-3333-444455556666', name: 'release-1' } },
    ]);
  });

  it('sets artifact.source.expire when the gateway link has its own expiry (cache mode)', () => {
    const body = instructions();
    const { opts } = options(
      {},
      { uri: 'https://gateway.local:8443/signed', expire: '2024-05-01T12:30:00Z' },
    );
    const out = rewriteInstructions(body, opts) as { artifact: { source: Record<string, unknown> } };
    expect(out.artifact.source).toEqual({
      uri: 'https://gateway.local:8443/signed',
      expire: '2024-05-01T12:30:00Z',
    });
    expect(Object.keys(out.artifact.source)).toEqual(['uri', 'expire']);
    expect(withoutLink(out)).toBe(withoutLink(body));
  });

  it('adds expire after the existing fields when upstream sent none', () => {
    const body = instructions();
    const artifact = body.artifact as { source: Record<string, unknown> };
    artifact.source = { uri: STORAGE, extra: 1 };
    const { opts } = options({}, { uri: 'https://gw/x', expire: '2024-05-01T12:30:00Z' });
    const out = rewriteInstructions(body, opts) as { artifact: { source: Record<string, unknown> } };
    expect(JSON.stringify(out.artifact.source)).toBe(
      '{"uri":"https://gw/x","extra":1,"expire":"2024-05-01T12:30:00Z"}',
    );
  });

  it('keeps unknown top-level and artifact fields (future server versions)', () => {
    const body: Record<string, unknown> = { ...instructions(), zz_future: { a: [1, 2] } };
    (body.artifact as Record<string, unknown>).zz_new = null;
    const { opts } = options();
    const out = rewriteInstructions(body, opts);
    expect(withoutLink(out)).toBe(withoutLink(body));
  });

  it('works end to end with the signer and with proxy links', () => {
    const signer = new ArtifactLinkSigner(Buffer.alloc(32, 1), GATEWAY, 30 * 60_000);
    const now = new Date('2024-05-01T12:00:00Z');
    const cache = rewriteInstructions(instructions(), {
      ...options().opts,
      link: (origin, artifact) => {
        const { url, expires } = signer.sign(origin, artifact, now);
        return { uri: url.href, expire: expires.toISOString().replace('.000Z', 'Z') };
      },
    }) as { artifact: { source: { uri: string; expire: string } } };
    const link = new URL(cache.artifact.source.uri);
    expect(cache.artifact.source.expire).toBe('2024-05-01T12:30:00Z');
    const claims = signer.verify(link.pathname, link.search, now);
    expect(claims.origin.href).toBe(STORAGE);
    expect(claims.artifactId).toBe('6d3b0c2a-1111-2222-3333-444455556666');
    expect(claims.artifactName).toBe('release-1');

    const proxy = rewriteInstructions(instructions(), {
      ...options().opts,
      link: (origin) => ({ uri: proxyLink(GATEWAY, origin.href).href, expire: undefined }),
    }) as { artifact: { source: { uri: string; expire: string } } };
    expect(proxy.artifact.source.expire).toBe('2024-05-02T12:00:00.000Z');
    expect(
      proxy.artifact.source.uri.startsWith(
        'https://gateway.local:8443/api/devices/v1/gateway/artifacts/proxy/',
      ),
    ).toBe(true);
  });

  it('passes artifact id and name only when they are strings', () => {
    const body = instructions();
    Object.assign(body.artifact as object, { id: 42, artifact_name: null });
    const { opts, calls } = options();
    rewriteInstructions(body, opts);
    expect(calls[0]?.artifact).toEqual({ id: undefined, name: undefined });
  });

  describe('DomainWhitelist (docs/protocol.md §4.2)', () => {
    it('admits a subdomain of a whitelisted domain', () => {
      const { opts } = options({ whitelist: ['docker.mender.io'] });
      expect(rewriteInstructions(instructions(), opts)).toBeDefined();
    });

    it('refuses a host outside the whitelist with MGW_NOT_WHITELISTED naming the host', () => {
      const { opts, calls } = options({ whitelist: ['s3.amazonaws.com'] });
      const error = errorOf(() => rewriteInstructions(instructions(), opts));
      expect(error.code).toBe('MGW_NOT_WHITELISTED');
      expect(error.message).toBe('s3.docker.mender.io returned by Mender server is not whitelisted');
      expect(calls).toEqual([]);
    });

    it.each([
      'https://s3.docker.mender.io.evil.test/x',
      'https://evil-s3.docker.mender.io/x',
      'https://xs3.docker.mender.io/x',
      'https://s3.docker.mender.io@evil.test/x',
    ])('refuses the look-alike %s', (uri) => {
      const { opts } = options();
      const error = errorOf(() => rewriteInstructions(instructions(uri), opts));
      expect(error.code).toBe('MGW_NOT_WHITELISTED');
      expect(error.message).toContain(new URL(uri).hostname);
    });

    it('refuses everything with an empty whitelist', () => {
      const { opts } = options({ whitelist: [] });
      expect(errorOf(() => rewriteInstructions(instructions(), opts)).code).toBe('MGW_NOT_WHITELISTED');
    });

    it.each([
      'ftp://s3.docker.mender.io/x',
      'file:///etc/passwd',
      'data:text/plain,hi',
      'javascript:alert(1)',
    ])('refuses the non-http(s) link %s even for a whitelisted host', (uri) => {
      const { opts, calls } = options();
      expect(errorOf(() => rewriteInstructions(instructions(uri), opts)).code).toBe('MGW_NOT_WHITELISTED');
      expect(calls).toEqual([]);
    });

    it('accepts plain http storage (the demo server uses it)', () => {
      const { opts } = options();
      expect(rewriteInstructions(instructions('http://s3.docker.mender.io/x'), opts)).toBeDefined();
    });

    it('reports a link that is not a URL as a bad upstream response', () => {
      const { opts } = options();
      expect(errorOf(() => rewriteInstructions(instructions('not a url'), opts)).code).toBe(
        'MGW_UPSTREAM_BAD_RESPONSE',
      );
    });
  });

  describe('links to the upstream server itself (docs/protocol.md §4.7)', () => {
    const configLink =
      'https://docker.mender.io/api/devices/v1/deployments/download/configuration/d1/dev1/x?x-men-expire=2024-05-01T12%3A30%3A00Z&x-men-signature=AbC%2b_-&x-men-tenant=t1';

    it('rewrites an /api/devices/ link to GatewayURL keeping path and query byte-exact, without the whitelist', () => {
      const { opts, calls } = options({ whitelist: [] });
      const out = rewriteInstructions(instructions(configLink), opts) as {
        artifact: { source: Record<string, unknown> };
      };
      expect(out.artifact.source.uri).toBe(
        `https://gateway.local:8443${configLink.slice('https://docker.mender.io'.length)}`,
      );
      // Not a gateway link: upstream's expiry stays, and no cache/proxy link was built.
      expect(out.artifact.source.expire).toBe('2024-05-02T12:00:00.000Z');
      expect(calls).toEqual([]);
    });

    it('keeps byte-exact a path the URL parser would re-encode', () => {
      const raw = "https://docker.mender.io/api/devices/v1/x/it's%7e?q=a b&r='x'";
      const { opts } = options();
      const out = rewriteInstructions(instructions(raw), opts) as { artifact: { source: { uri: string } } };
      expect(out.artifact.source.uri).toBe("https://gateway.local:8443/api/devices/v1/x/it's%7e?q=a b&r='x'");
    });

    it('matches the upstream host case-insensitively and with an explicit default port', () => {
      const { opts } = options({ whitelist: [] });
      const raw = 'https://Docker.Mender.IO:443/api/devices/v1/deployments/download/configuration/x?s=1';
      const out = rewriteInstructions(instructions(raw), opts) as { artifact: { source: { uri: string } } };
      expect(out.artifact.source.uri).toBe(
        'https://gateway.local:8443/api/devices/v1/deployments/download/configuration/x?s=1',
      );
    });

    it('keeps a GatewayURL path prefix', () => {
      const { opts } = options({ whitelist: [], gatewayUrl: new URL('https://edge.example/mender/') });
      const out = rewriteInstructions(instructions(configLink), opts) as {
        artifact: { source: { uri: string } };
      };
      expect(out.artifact.source.uri).toBe(
        `https://edge.example/mender${configLink.slice('https://docker.mender.io'.length)}`,
      );
    });

    it('needs the whitelist for upstream-host links outside /api/devices/', () => {
      const storageProxy = 'https://docker.mender.io/storage/artifact-1?sig=x';
      const refused = options({ whitelist: ['s3.docker.mender.io'] });
      expect(errorOf(() => rewriteInstructions(instructions(storageProxy), refused.opts)).code).toBe(
        'MGW_NOT_WHITELISTED',
      );
      const admitted = options({ whitelist: ['docker.mender.io'] });
      rewriteInstructions(instructions(storageProxy), admitted.opts);
      expect(admitted.calls.map((c) => c.origin)).toEqual([storageProxy]);
    });

    it.each([
      ['another scheme', 'http://docker.mender.io/api/devices/v1/x'],
      ['another port', 'https://docker.mender.io:8443/api/devices/v1/x'],
      ['a subdomain', 'https://s3.docker.mender.io/api/devices/v1/x'],
      ['a traversal out of /api/devices/', 'https://docker.mender.io/api/devices/../management/v1/x'],
    ])('does not treat %s as the upstream device API', (_name, uri) => {
      const { opts } = options({ whitelist: [] });
      expect(errorOf(() => rewriteInstructions(instructions(uri), opts)).code).toBe('MGW_NOT_WHITELISTED');
    });
  });

  describe('nothing to rewrite', () => {
    it.each([
      ['null', null],
      ['a string', 'x'],
      ['an array', [instructions()]],
      ['no artifact', { id: 'x' }],
      ['artifact not an object', { artifact: 'x' }],
      ['no source', { artifact: { id: 'x' } }],
      ['source an array', { artifact: { source: [] } }],
      ['no uri', { artifact: { source: { expire: 'x' } } }],
      ['uri not a string', { artifact: { source: { uri: 42 } } }],
    ])('%s → undefined', (_name, body) => {
      const { opts, calls } = options();
      expect(rewriteInstructions(body, opts)).toBeUndefined();
      expect(calls).toEqual([]);
    });
  });
});
