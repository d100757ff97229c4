import { describe, expect, it } from 'vitest';
import { upstreamFailure } from '../../../src/core/upstream/upstream-error.js';
import { readProxyEnv } from '../../../src/core/upstream/upstream-dispatcher.js';

const err = (code: string, cause?: unknown): Error => Object.assign(new Error(code), { code, cause });

describe('upstream failure mapping (docs/protocol.md §7)', () => {
  it.each([
    ['ECONNREFUSED', 502, 'MGW_UPSTREAM_UNREACHABLE'],
    ['ENOTFOUND', 502, 'MGW_UPSTREAM_UNREACHABLE'],
    ['ECONNRESET', 502, 'MGW_UPSTREAM_UNREACHABLE'],
    ['UND_ERR_CONNECT_TIMEOUT', 504, 'MGW_UPSTREAM_TIMEOUT'],
    ['UND_ERR_HEADERS_TIMEOUT', 504, 'MGW_UPSTREAM_TIMEOUT'],
  ])('%s → %i', (code, status, gwCode) => {
    const failure = upstreamFailure(err(code), 'https://up.example');
    expect(failure.httpStatus).toBe(status);
    expect(failure.code).toBe(gwCode);
    expect(failure.message).toContain(code);
    expect(failure.hint).toBeDefined();
  });

  it('looks through undici socket wrappers for the real cause', () => {
    expect(upstreamFailure(err('UND_ERR_SOCKET', err('ECONNRESET')), 'u').message).toContain('ECONNRESET');
  });

  it('reads proxy variables, lower case first, and accepts NO_PROXY with spaces or commas', () => {
    expect(
      readProxyEnv({
        HTTPS_PROXY: 'http://upper:3128',
        https_proxy: 'http://lower:3128',
        NO_PROXY: 'a.example  .b.example,c',
      }),
    ).toEqual({
      httpProxy: undefined,
      httpsProxy: 'http://lower:3128',
      noProxy: 'a.example,.b.example,c',
    });
    expect(readProxyEnv({ HTTP_PROXY: ' ' })).toEqual({
      httpProxy: undefined,
      httpsProxy: undefined,
      noProxy: undefined,
    });
  });
});
